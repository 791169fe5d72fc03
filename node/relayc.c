/* The client side of store-and-forward relays (node/relayc.h). */
#include "node/relayc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "node/log.h"

#define CONNECT_MS 15000 /* to find and link a relay */
#define SLOT_BITS 11
_Static_assert(RELAYC_OPS_MAX == 1u << SLOT_BITS, "req carries the slot");

struct rc_relay {
	bool used;
	uint8_t pk[LINK_PK_LEN];
	bool up, lookup_busy, connecting, opened;
	bool keep; /* a home relay: linked always */
	bool has_addr; /* where the DHT last found it: tried first */
	bool direct;   /* this connect went to addr, not after a lookup */
	struct dht_addr addr;
	uint64_t connect_deadline_ms, idle_since_ms, down_until_ms, last_use_ms;
	unsigned nops;
	struct relayc *rc; /* for the DHT callback */
};

struct rc_op {
	bool used, fetch, poll, sent; /* neither: a deposit */
	unsigned ri;
	uint32_t req;
	uint64_t cookie;
	uint8_t *frame;
	size_t len;
	unsigned tries;
	uint64_t next_ms;
};

struct relayc {
	struct relayc_config cfg;
	struct rc_relay relays[RELAYC_RELAYS_MAX];
	struct rc_op *ops; /* RELAYC_OPS_MAX */
	unsigned nops;
	uint32_t gen;
	struct relayc_status st;
};

static uint64_t mono(const struct relayc *rc)
{
	return rc->cfg.clock->mono_ms(rc->cfg.clock->self);
}

static void kick(struct relayc *rc)
{
	if (rc->cfg.kick != NULL)
		rc->cfg.kick(rc->cfg.self);
}

static struct rc_relay *relay_find(struct relayc *rc, const uint8_t *pk)
{
	for (unsigned i = 0; i < RELAYC_RELAYS_MAX; i++)
		if (rc->relays[i].used &&
		    memcmp(rc->relays[i].pk, pk, LINK_PK_LEN) == 0)
			return &rc->relays[i];
	return NULL;
}

/* A relay's slot stays (with its address) when idle; a new relay takes a
 * free slot, else the idle one used least recently. */
static struct rc_relay *relay_get(struct relayc *rc, const uint8_t *pk)
{
	struct rc_relay *r = relay_find(rc, pk), *lru = NULL;

	if (r != NULL)
		return r;
	for (unsigned i = 0; i < RELAYC_RELAYS_MAX; i++) {
		struct rc_relay *x = &rc->relays[i];

		if (!x->used) {
			lru = x;
			break;
		}
		if (x->nops == 0 && !x->up && !x->lookup_busy &&
		    !x->connecting && !x->keep &&
		    (lru == NULL || x->last_use_ms < lru->last_use_ms))
			lru = x;
	}
	if ((r = lru) == NULL)
		return NULL;
	memset(r, 0, sizeof *r);
	r->used = true;
	r->rc = rc;
	memcpy(r->pk, pk, LINK_PK_LEN);
	r->idle_since_ms = mono(rc);
	return r;
}

static void op_free(struct relayc *rc, struct rc_op *op)
{
	struct rc_relay *r = &rc->relays[op->ri];

	free(op->frame);
	memset(op, 0, sizeof *op);
	rc->nops--;
	if (--r->nops == 0)
		r->idle_since_ms = mono(rc);
}

/* Ends an op with an outcome: the callback last, after the slot is free,
 * so that it may start a new one. */
static void op_end(struct relayc *rc, struct rc_op *op, int code,
		   const uint8_t *frame, size_t len)
{
	uint8_t relay[LINK_PK_LEN];
	uint64_t cookie = op->cookie;
	bool fetch = op->fetch, poll = op->poll;

	memcpy(relay, rc->relays[op->ri].pk, LINK_PK_LEN);
	if (code != RC_OK || frame == NULL)
		rc->st.failures++;
	op_free(rc, op);
	if (poll) {
		if (code >= 0 && frame != NULL)
			rc->st.polls_ok++;
		rc->cfg.cb.polled(rc->cfg.cb.arg, relay, cookie,
				  code >= 0 ? frame : NULL,
				  code >= 0 ? len : 0, code < 0 ? code : 0);
	} else if (fetch) {
		if (code < 0)
			rc->cfg.cb.fetched(rc->cfg.cb.arg, relay, cookie, NULL,
					   0, code);
		else {
			rc->st.fetches_ok++;
			rc->cfg.cb.fetched(rc->cfg.cb.arg, relay, cookie, frame,
					   len, 0);
		}
	} else {
		if (code == RC_OK)
			rc->st.deposits_ok++;
		rc->cfg.cb.deposited(rc->cfg.cb.arg, relay, cookie, code);
	}
}

static void relay_reach(struct relayc *rc, struct rc_relay *r, uint64_t now);

/* Our DHT knows no node yet (starting): a relay cannot be found now, but
 * soon. */
static bool dht_empty(const struct relayc *rc)
{
	struct dht_status ds;

	if (rc->cfg.dht == NULL)
		return false;
	dht_status(rc->cfg.dht, &ds);
	return ds.contacts == 0;
}

/* The relay could not be linked.  If that was at its remembered address,
 * look it up in the DHT now; else its ops fail and it rests a while. */
static void fail_relay(struct relayc *rc, struct rc_relay *r, int err)
{
	unsigned ri = (unsigned)(r - rc->relays);

	r->connecting = false;
	if (r->direct) {
		r->direct = false;
		r->has_addr = false;
		if (r->nops > 0)
			relay_reach(rc, r, mono(rc));
		return;
	}
	/* ops that came while it rested fail too, without making the rest
	 * longer */
	if (r->down_until_ms <= mono(rc))
		r->down_until_ms = mono(rc) + (dht_empty(rc) ? RELAYC_JOIN_RETRY_MS
							     : RELAYC_RETRY_MS);
	for (unsigned i = 0; i < RELAYC_OPS_MAX; i++)
		if (rc->ops[i].used && rc->ops[i].ri == ri)
			op_end(rc, &rc->ops[i], err, NULL, 0);
}

static void op_send(struct relayc *rc, struct rc_op *op, uint64_t now)
{
	struct rc_relay *r = &rc->relays[op->ri];
	int e;

	e = link_send(rc->cfg.links, now, r->pk, op->frame, op->len);
	if (e == -ENOTCONN) {
		/* gone without telling us: linked again by relayc_tick */
		r->up = false;
		op->sent = false;
		kick(rc);
		return;
	}
	if (op->sent)
		rc->st.retransmits++;
	op->sent = true;
	op->next_ms = now + ((uint64_t)RELAYC_RTO_MS << op->tries);
	op->tries++;
}

static void lookup_done(void *arg, const struct dht_result *res)
{
	struct rc_relay *r = arg;
	struct relayc *rc = r->rc;
	int e = -EHOSTUNREACH;

	r->lookup_busy = false;
	if (!r->used)
		return;
	if (res->status == 0 && memcmp(res->node.pk, r->pk, LINK_PK_LEN) == 0) {
		e = link_connect(rc->cfg.links, mono(rc), r->pk,
				 &res->node.addr);
		if (e == 0) {
			r->has_addr = true;
			r->addr = res->node.addr;
			r->direct = false;
			r->connecting = true;
			r->opened = true;
			r->connect_deadline_ms = mono(rc) + CONNECT_MS;
			kick(rc);
			return;
		}
		log_debug("relayc: cannot link a relay: %s", strerror(-e));
		e = -EHOSTUNREACH;
	} else {
		log_debug("relayc: a relay's node was not found (%s)",
			  strerror(res->status < 0 ? -res->status : ENOENT));
	}
	fail_relay(rc, r, e);
	kick(rc);
}

/* The relay cannot be reached now: its ops fail at the next tick, so that
 * no callback runs from inside relayc_deposit()/relayc_fetch(). */
static void give_up_soon(struct rc_relay *r, uint64_t now)
{
	r->connecting = true;
	r->connect_deadline_ms = now;
}

/* Makes sure a link to r is up or on its way. */
static void relay_reach(struct relayc *rc, struct rc_relay *r, uint64_t now)
{
	struct link_peer_status ps;
	uint8_t nid[CX_HASH_LEN];

	if (r->up || r->lookup_busy || r->connecting)
		return;
	if (link_peer_status(rc->cfg.links, now, r->pk, &ps) == 0 &&
	    ps.established) {
		r->up = true;
		return;
	}
	if (r->has_addr && link_connect(rc->cfg.links, now, r->pk,
					&r->addr) == 0) {
		r->direct = true;
		r->connecting = true;
		r->opened = true;
		r->connect_deadline_ms = now + CONNECT_MS;
		kick(rc);
		return;
	}
	if (rc->cfg.dht == NULL || now < r->down_until_ms) {
		give_up_soon(r, now); /* tick reports it, not this call */
		return;
	}
	cx_node_id(nid, r->pk);
	r->lookup_busy = true;
	if (dht_find_node(rc->cfg.dht, rc->cfg.clock->wall_ms(
					       rc->cfg.clock->self),
			  nid, 0, (struct dht_lookup_cb){lookup_done, r}) < 0) {
		r->lookup_busy = false;
		give_up_soon(r, now);
		return;
	}
	kick(rc);
}

static struct rc_op *op_new(struct relayc *rc, const uint8_t *relay,
			    bool fetch, uint64_t cookie)
{
	struct rc_relay *r;
	struct rc_op *op = NULL;

	if (rc->nops >= RELAYC_OPS_MAX || (r = relay_get(rc, relay)) == NULL)
		return NULL;
	for (unsigned i = 0; i < RELAYC_OPS_MAX; i++)
		if (!rc->ops[i].used) {
			op = &rc->ops[i];
			break;
		}
	if (op == NULL)
		return NULL;
	memset(op, 0, sizeof *op);
	op->used = true;
	op->fetch = fetch;
	op->ri = (unsigned)(r - rc->relays);
	op->cookie = cookie;
	op->req = (++rc->gen << SLOT_BITS) | (uint32_t)(op - rc->ops);
	rc->nops++;
	r->nops++;
	r->last_use_ms = mono(rc);
	return op;
}

/* Sends a new op now if its relay is linked, else reaches for it. */
static void op_start(struct relayc *rc, struct rc_op *op)
{
	struct rc_relay *r = &rc->relays[op->ri];
	uint64_t now = mono(rc);

	relay_reach(rc, r, now);
	if (r->up)
		op_send(rc, op, now);
	kick(rc);
}

/* A new op whose frame the caller encodes into op->frame (max bytes). */
static struct rc_op *op_alloc(struct relayc *rc, const uint8_t *relay,
			      bool fetch, uint64_t cookie, size_t max)
{
	struct rc_op *op = op_new(rc, relay, fetch, cookie);

	if (op != NULL && (op->frame = malloc(max)) == NULL) {
		op_free(rc, op);
		return NULL;
	}
	return op;
}

static int op_go(struct relayc *rc, struct rc_op *op, int encoded)
{
	if (encoded < 0) {
		op_free(rc, op);
		return encoded;
	}
	if (op->poll)
		rc->st.polls++;
	else if (op->fetch)
		rc->st.fetches++;
	else
		rc->st.deposits++;
	op_start(rc, op);
	return 0;
}

int relayc_deposit(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		   const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		   const uint8_t *blob, size_t len, uint64_t cookie)
{
	struct rw_deposit d;
	struct rc_op *op;

	if (rc == NULL || blob == NULL || len == 0 || len > RELAY_BLOB_MAX)
		return -EINVAL;
	if ((op = op_alloc(rc, relay, false, cookie, RW_DEPOSIT_HDR + len)) ==
	    NULL)
		return -ENOSPC;
	d.req = op->req;
	memcpy(d.mailbox, mailbox, RELAY_MAILBOX_LEN);
	d.blob = blob;
	d.blob_len = len;
	return op_go(rc, op,
		     rw_deposit_encode(op->frame, RW_DEPOSIT_HDR + len,
				       &op->len, &d));
}

int relayc_deposit_req(struct relayc *rc,
		       const uint8_t relay[static LINK_PK_LEN],
		       const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		       uint64_t stamp, const uint8_t *blob, size_t len,
		       uint64_t cookie)
{
	struct rw_deposit_req d;
	struct rc_op *op;

	if (rc == NULL || blob == NULL || len == 0 || len > RELAY_BLOB_MAX)
		return -EINVAL;
	if ((op = op_alloc(rc, relay, false, cookie,
			   RW_DEPOSIT_REQ_HDR + len)) == NULL)
		return -ENOSPC;
	d.d.req = op->req;
	memcpy(d.d.mailbox, mailbox, RELAY_MAILBOX_LEN);
	d.d.blob = blob;
	d.d.blob_len = len;
	d.stamp = stamp;
	return op_go(rc, op,
		     rw_deposit_req_encode(op->frame, RW_DEPOSIT_REQ_HDR + len,
					   &op->len, &d));
}

int relayc_fetch(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		 const uint8_t mailbox[static RELAY_MAILBOX_LEN],
		 const uint8_t *sk, uint64_t del_upto, uint64_t after,
		 uint64_t cookie)
{
	struct rw_fetch f;
	uint8_t msg[RW_FETCH_SIGMSG_LEN];
	struct rc_op *op;

	if (rc == NULL || sk == NULL)
		return -EINVAL;
	if ((op = op_alloc(rc, relay, true, cookie, RW_FETCH_LEN)) == NULL)
		return -ENOSPC;
	memset(&f, 0, sizeof f);
	f.req = op->req;
	memcpy(f.mailbox, mailbox, RELAY_MAILBOX_LEN);
	f.del_upto = del_upto;
	f.after = after;
	f.ts_s = rc->cfg.clock->wall_ms(rc->cfg.clock->self) / 1000;
	rw_fetch_sigmsg(msg, relay, &f);
	cx_sign(f.sig, msg, sizeof msg, sk);
	return op_go(rc, op, rw_fetch_encode(op->frame, RW_FETCH_LEN, &op->len,
					     &f));
}

int relayc_poll(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		const uint8_t *mailboxes, unsigned n, uint64_t cookie)
{
	struct rw_poll po = {0, n, mailboxes};
	struct rc_op *op;

	if (rc == NULL || rc->cfg.cb.polled == NULL || mailboxes == NULL ||
	    n < 1 || n > RW_POLL_MAX)
		return -EINVAL;
	if ((op = op_alloc(rc, relay, false, cookie, RW_POLL_LEN(n))) == NULL)
		return -ENOSPC;
	op->poll = true;
	po.req = op->req;
	return op_go(rc, op, rw_poll_encode(op->frame, RW_POLL_LEN(n),
					    &op->len, &po));
}

int relayc_fetch_req(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN],
		     const uint8_t account_pk[static 32],
		     const uint8_t *account_sk, uint64_t epoch,
		     uint64_t del_upto, uint64_t after, uint64_t cookie)
{
	struct rw_fetch_req f;
	uint8_t msg[RW_FETCH_REQ_SIGMSG_LEN];
	struct rc_op *op;

	if (rc == NULL || account_sk == NULL)
		return -EINVAL;
	if ((op = op_alloc(rc, relay, true, cookie, RW_FETCH_REQ_LEN)) == NULL)
		return -ENOSPC;
	memset(&f, 0, sizeof f);
	f.f.req = op->req;
	memcpy(f.f.mailbox, account_pk, 32);
	f.f.del_upto = del_upto;
	f.f.after = after;
	f.f.ts_s = rc->cfg.clock->wall_ms(rc->cfg.clock->self) / 1000;
	f.epoch = epoch;
	rw_fetch_req_sigmsg(msg, relay, &f);
	cx_sign(f.f.sig, msg, sizeof msg, account_sk);
	return op_go(rc, op,
		     rw_fetch_req_encode(op->frame, RW_FETCH_REQ_LEN, &op->len,
					 &f));
}

void relayc_link_up(struct relayc *rc, const uint8_t pk[static LINK_PK_LEN])
{
	struct rc_relay *r = relay_find(rc, pk);
	uint64_t now = mono(rc);
	unsigned ri;

	if (r == NULL)
		return;
	r->up = true;
	r->connecting = false;
	ri = (unsigned)(r - rc->relays);
	for (unsigned i = 0; i < RELAYC_OPS_MAX; i++)
		if (rc->ops[i].used && rc->ops[i].ri == ri && !rc->ops[i].sent)
			op_send(rc, &rc->ops[i], now);
	kick(rc);
}

void relayc_link_down(struct relayc *rc, const uint8_t pk[static LINK_PK_LEN])
{
	struct rc_relay *r = relay_find(rc, pk);

	if (r == NULL)
		return;
	r->up = false;
	if (r->connecting) /* the handshake failed */
		log_debug("relayc: the handshake with a relay failed");
	if (r->connecting)
		fail_relay(rc, r, -EHOSTUNREACH);
	else if (r->nops > 0)
		relay_reach(rc, r, mono(rc));
}

void relayc_frame(struct relayc *rc, const uint8_t pk[static LINK_PK_LEN],
		  const uint8_t *data, size_t len)
{
	struct rw_poll_res pr = {0};
	struct rc_op *op;
	uint32_t req;
	int code;

	if (len == 0)
		return;
	if (data[0] == RF_NOTIFY) {
		uint8_t mbox[RELAY_MAILBOX_LEN];

		if (relay_find(rc, pk) != NULL && rc->cfg.cb.notified != NULL &&
		    rw_notify_decode(mbox, data, len) == 0)
			rc->cfg.cb.notified(rc->cfg.cb.arg, pk, mbox);
		return;
	}
	if (data[0] == RF_DEPOSIT_RES) {
		struct rw_deposit_res dr;

		if (rw_deposit_res_decode(&dr, data, len) < 0)
			return;
		req = dr.req;
		code = dr.code;
	} else if (data[0] == RF_ITEMS) {
		struct rw_items h;

		if (rw_items_decode(&h, data, len) < 0)
			return;
		req = h.req;
		code = h.code;
	} else if (data[0] == RF_POLL_RES) {
		if (rw_poll_res_decode(&pr, data, len) < 0)
			return;
		req = pr.req;
		code = pr.code;
	} else {
		return;
	}
	op = &rc->ops[req & (RELAYC_OPS_MAX - 1)];
	if (!op->used || op->req != req ||
	    memcmp(rc->relays[op->ri].pk, pk, LINK_PK_LEN) != 0 ||
	    op->fetch != (data[0] == RF_ITEMS) ||
	    op->poll != (data[0] == RF_POLL_RES))
		return; /* late, duplicate or not ours */
	/* as many answers as questions, or it is not this POLL's */
	if (op->poll && pr.n != op->frame[RW_POLL_HDR - 1])
		return;
	op_end(rc, op, code, data, len);
}

uint64_t relayc_tick(struct relayc *rc)
{
	uint64_t now = mono(rc), next = UINT64_MAX;

	for (unsigned i = 0; i < RELAYC_RELAYS_MAX; i++) {
		struct rc_relay *r = &rc->relays[i];

		if (!r->used)
			continue;
		if ((r->nops > 0 || (r->keep && now >= r->down_until_ms)) &&
		    !r->up && !r->lookup_busy && !r->connecting)
			relay_reach(rc, r, now); /* the link went away */
		if (r->keep && !r->up && !r->lookup_busy && !r->connecting &&
		    r->down_until_ms < next)
			next = r->down_until_ms > now ? r->down_until_ms
						      : now + 1;
		if (r->connecting) {
			if (now >= r->connect_deadline_ms) {
				log_debug("relayc: no link to a relay");
				link_close(rc->cfg.links, r->pk);
				fail_relay(rc, r, -EHOSTUNREACH);
			} else if (r->connect_deadline_ms < next) {
				next = r->connect_deadline_ms;
			}
		}
		if (r->nops > 0 || r->lookup_busy || r->connecting)
			continue;
		if (r->up && r->opened && !r->keep) {
			if (now - r->idle_since_ms >= RELAYC_IDLE_MS) {
				link_close(rc->cfg.links, r->pk);
				r->up = false;
				r->opened = false;
			} else if (r->idle_since_ms + RELAYC_IDLE_MS < next) {
				next = r->idle_since_ms + RELAYC_IDLE_MS;
			}
		}
	}
	for (unsigned i = 0; i < RELAYC_OPS_MAX && rc->nops > 0; i++) {
		struct rc_op *op = &rc->ops[i];

		if (!op->used || !op->sent)
			continue;
		if (now >= op->next_ms) {
			if (op->tries >= RELAYC_TRIES) {
				op_end(rc, op, -ETIMEDOUT, NULL, 0);
				continue;
			}
			op_send(rc, op, now);
		}
		if (op->used && op->sent && op->next_ms < next)
			next = op->next_ms;
	}
	return next;
}

int relayc_keep(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN])
{
	struct rc_relay *r = relay_get(rc, relay);

	if (r == NULL)
		return -ENOSPC;
	r->keep = true;
	kick(rc);
	return 0;
}

void relayc_unkeep(struct relayc *rc, const uint8_t relay[static LINK_PK_LEN])
{
	struct rc_relay *r = relay_find(rc, relay);

	if (r != NULL) {
		r->keep = false;
		r->idle_since_ms = mono(rc);
	}
}

void relayc_status(const struct relayc *rc, struct relayc_status *st)
{
	*st = rc->st;
	st->ops = rc->nops;
	st->relays = 0;
	for (unsigned i = 0; i < RELAYC_RELAYS_MAX; i++)
		st->relays += rc->relays[i].used;
}

int relayc_new(struct relayc **out, const struct relayc_config *cfg)
{
	struct relayc *rc;

	*out = NULL;
	if (cfg == NULL || cfg->clock == NULL || cfg->links == NULL ||
	    cfg->cb.deposited == NULL || cfg->cb.fetched == NULL)
		return -EINVAL;
	if ((rc = calloc(1, sizeof *rc)) == NULL)
		return -ENOMEM;
	if ((rc->ops = calloc(RELAYC_OPS_MAX, sizeof *rc->ops)) == NULL) {
		free(rc);
		return -ENOMEM;
	}
	rc->cfg = *cfg;
	*out = rc;
	return 0;
}

void relayc_free(struct relayc *rc)
{
	if (rc == NULL)
		return;
	for (unsigned i = 0; i < RELAYC_OPS_MAX; i++)
		free(rc->ops[i].frame);
	free(rc->ops);
	free(rc);
}
