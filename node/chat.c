/* One-to-one messaging engine (node/chat.h; wire: docs/PROTOCOL-chat.md).
 *
 * Per contact ("peer") it keeps, in memory, the loaded session (the
 * durable part is struct cw_sess plus the ratchet), the window of texts in
 * flight with their ciphertexts (resent unchanged, so the receiver spends
 * the same message key), the control message in flight (request or
 * acceptance), read receipts waiting for their acknowledgement, and the
 * state of finding the contact's node.  Per link ("lk") it keeps who is
 * behind the node (verified HELLO) and the reassembly of fragments.
 *
 * Streams.  Each direction of a contact pair numbers its texts 1, 2, ...
 * The receiver stores text n only when it has stored n - 1 (so history
 * is in order per sender), commits "received = n" with the message, and
 * acknowledges cumulatively.  The sender's text n is the (n - acked)-th
 * entry of its outbox for that contact: the outbox is in send order and
 * an entry leaves it only when acknowledged, so the numbering survives
 * any crash without being stored.
 *
 * Durability.  Link callbacks only decide; chat_flush() writes everything
 * decided since the last flush (received messages, status changes,
 * contact changes, sessions, events) in one transaction and only then
 * sends acknowledgements and new ciphertexts.  If the transaction fails,
 * the touched sessions are reloaded from the store and nothing is sent:
 * the peer resends. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/drbg.h"
#include "crypto/envelope.h"
#include "crypto/kdf.h"
#include "crypto/pad.h"
#include "crypto/prim.h"
#include "crypto/ratchet.h"
#include "crypto/sign.h"
#include "crypto/x3dh.h"
#include "node/card.h"
#include "node/chat.h"
#include "node/chat_wire.h"
#include "node/jsonw.h"
#include "node/link_wire.h"
#include "node/log.h"
#include "node/mailbox.h"
#include "node/relay.h"
#include "node/relayc.h"

#define PEERS_MAX 4096
#define LKS_MAX 128
#define WIN_MAX 256		   /* texts in flight per contact */
#define WIN_BYTES (1u << 20)	   /* their ciphertext bytes */
#define REASM_PER_LK 4		   /* messages being reassembled per link */
#define REASM_TOTAL (16u << 20)	   /* bytes of all reassembly buffers */
#define REASM_TIMEOUT_MS 30000
#define RTO_MIN_MS 250
/* Delayed acks (as TCP's, RFC 1122 4.2.3.2): a text that came in order is
 * acknowledged with our next frame to the peer, or after ACK_DELAY_MS, or
 * with the ACK_EVERY-th text; anything else (a duplicate, a gap, a
 * request or acceptance) at once.  A reply usually follows a text within
 * the delay, so its ack saves the peer a turn and a commit. */
#define ACK_DELAY_MS 10
#define ACK_EVERY 2
#define RTO_MAX_MS 30000
#define HELLO_RETRY_MS 1000
#define LOCATE_MIN_MS 500
#define LOCATE_MAX_MS 60000
/* accepted with nothing to send; or our request, left at the contact's
 * relays already or for someone whose card is not in the DHT (not on
 * parley yet, or gone): locate_idle */
#define LOCATE_IDLE_MAX_MS (5 * 60000)
/* Our lookups for contacts at once, so that a long address book leaves
 * the DHT (32 lookups at once) room for its own and for the contacts who
 * are found; the others wait for one to end (looking again every
 * LOCATE_WAIT_MS), accepted contacts first.  Before, every contact was
 * due at once after a start, most lookups found the DHT full, each such
 * failure doubled that contact's wait, and a node with 40 requests
 * pending took 65 s to find its one contact online (test_chat
 * restart_with_many). */
#define LOCATE_CONCURRENT 8
#define LOCATE_WAIT_MS 250
#define PUBLISH_EVERY_MS (30 * 60000ull)
#define READQ_MAX 4096
#define RX_BYTES_MAX (2u << 20) /* held out-of-order texts per contact */
#define PENDING_MAX 8192 /* decided, not yet flushed, before we stop reading */

/* Relays (DESIGN.md 7). */
#define DEP_RELAYS 3		       /* of a contact's relays we leave texts at */
#define DEPOSIT_AFTER_MS 5000	       /* offline this long: leave texts */
#define DEP_RETRY_MIN_MS 5000	       /* no relay took a text: again */
#define DEP_RETRY_MAX_MS (5 * 60000)
#define CARD_REFRESH_MS (30 * 60000ull) /* a contact's relays, from its card */
#define CARD_RETRY_MIN_MS 5000
#define FETCH_EVERY_MS (5 * 60000ull) /* our mailboxes at our relays */
#define FETCH_JOIN_WAIT_MS 1000 /* a round due before the DHT joined */
#define FETCH_JOIN_WAIT_MAX_MS 60000
#define NEW_ROUND_MS 1000 /* a round after a contact's session is set up */
#define FETCH_RETRY_MIN_MS 2000
#define NEPOCHS (MAILBOX_EPOCHS_BACK + 1)
#define MB_ACK 0x80  /* part flags: a relayed acknowledgement, no message */
#define MB_READ 0x81 /* part flags: read receipts, the chunk their ids */
#define DEP_NONE 0
#define DEP_BUSY 1
#define DEP_DONE 2

#define SESS_CTX "session1"
#define SESS_AD "parley session v1"
#define META_ACCEPT_REQ "chat.accept_requests"

/* A message made ready to send: [X3DH header] | ratchet message. */
struct outmsg {
	uint8_t *buf;
	size_t len;
	uint8_t flags;
	uint32_t tag;
	uint64_t n;
	bool fresh; /* encrypted in this flush: not sent before commit */
	/* left at the contact's relays: DEP_*; parts still unanswered per
	 * relay, relays that refused a part */
	uint8_t dep, dep_bad, dep_relays;
	uint8_t dep_gen; /* attempt: answers of an earlier one are ignored */
	uint16_t dep_left[DEP_RELAYS];
};

struct wslot {
	uint8_t id[MSGSTORE_ID_LEN];
	uint64_t seq; /* in the conversation (msgstore's hint), 0: unknown */
	uint64_t obx; /* its outbox seq, 0: not stored yet (this flush's) */
	struct outmsg m;
};

struct reasm {
	bool used;
	uint32_t tag;
	uint64_t n;
	uint8_t flags;
	uint16_t count, got;
	uint8_t have[CW_DATA_MAX_FRAGS / 8];
	uint8_t *buf; /* count * CW_DATA_CHUNK */
	size_t cap, last_len;
	uint64_t started_ms;
};

struct lk {
	bool used, up;
	uint8_t node[LINK_PK_LEN];
	bool hello_in;	  /* we verified theirs */
	bool hello_acked; /* they have ours */
	uint8_t account[CHAT_PK_LEN];
	uint64_t hello_next_ms;
	struct reasm ra[REASM_PER_LK];
};

/* A text stored as queued (the window was full) and kept in memory, so
 * that it goes out without being read back and opened from the store.
 * e.body is owned (malloc'd). */
struct qtext {
	uint64_t seq; /* its place in the conversation */
	struct cw_env e;
};

#define QC_MAX (4 * WIN_MAX)
#define QC_BYTES ((size_t)1 << 20)

/* The records a publish puts for each contact go PUB_CONCURRENT at a
 * time (see pub_pump); each put in flight knows whose it is. */
#define PUB_CONCURRENT 8
#define PUB_NONE UINT_MAX /* no pass runs */
struct pubput {
	struct chat *c;
	uint8_t pk[CHAT_PK_LEN];
	bool busy;
};

/* One mailbox being fetched from one relay. */
struct fetchst {
	bool busy, wait_commit, more;
	bool polling; /* in a POLL in flight (struct pollb) */
	bool again;   /* a NOTIFY came while busy: fetch once more */
	/* read the mailbox again from what is left, at once (see
	 * fetch_settle), and what the peer's received was when this pass
	 * began */
	bool rewind;
	bool resume; /* a fetch failed mid-pass: the next goes on from it */
	uint64_t pass_recv;
	uint64_t epoch, after, del, del_sent;
	struct rrx *rx; /* texts being put together; lazily */
};

struct peer {
	bool used;
	uint8_t pk[CHAT_PK_LEN];
	char cid[CX_CONTACT_ID_LEN + 1]; /* pk as a contact ID */
	int state; /* enum msgstore_contact_state; 0: not a contact */
	bool has_sess;
	struct cw_sess s; /* s.ratchet unused in memory */
	struct cx_ratchet *rat;
	bool sess_dirty;
	int lki; /* link with a verified hello, -1: none */
	bool online_told;
	/* control message (request or acceptance) in flight */
	struct outmsg ctl;
	uint64_t ctl_next_ms, ctl_rto;
	/* texts in flight: win[i] is text s.acked + 1 + i; WIN_MAX slots,
	 * allocated with the first and freed once none is in flight and
	 * the contact is not online (peer_trim): 20 KiB a contact, which
	 * most contacts of a long address book need seldom */
	struct wslot *win;
	unsigned nwin;
	size_t win_bytes;
	uint64_t retx_ms, rto;
	uint64_t peer_cum; /* highest cumulative ack seen */
	/* Every outbox entry of ours to this peer with an outbox seq at or
	 * below this one is in win[] or was acknowledged, so prepare_texts
	 * lists the outbox only past it (and past win[]'s end): what other
	 * contacts have queued before is not read again at every flush. */
	uint64_t obx_done;
	bool ack_due;
	/* the ack may wait (texts in order, nothing else): for a frame of
	 * ours to ride on, ACK_DELAY_MS at most, ACK_EVERY texts at most */
	bool ack_lazy;
	unsigned ack_texts;
	uint64_t ack_at; /* when a lazy ack goes out anyway; 0: not set */
	uint8_t ack_flags;
	uint64_t hint_ms; /* last out-of-order hint ack */
	bool fast_retx;	  /* the peer showed a gap: resend our oldest */
	/* texts that came ahead of a gap, still encrypted: rx[n % WIN_MAX];
	 * allocated and freed as win[] */
	struct rxslot {
		uint8_t *buf;
		size_t len;
		uint64_t n;
	} *rx;
	size_t rx_bytes;
	/* read receipts waiting for READ_ACK */
	uint8_t (*rq)[MSGSTORE_ID_LEN];
	size_t nrq, rq_inflight;
	uint32_t rq_tag;
	uint64_t rq_next_ms;
	/* finding the contact's node */
	bool lookup_busy, node_stale;
	bool pub_redo; /* its records to put again (see pub_pump) */
	uint64_t locate_next_ms, locate_backoff;
	unsigned rv_epoch_back; /* 0: this epoch, 1: the one before */
	bool try_intro; /* our request: look for their intro rendezvous next */
	bool typing_in;
	/* queued texts still in plaintext, oldest first (see qc_take) */
	struct qtext *qc;
	size_t qc_head, qc_n, qc_bytes;
	/* relays: the contact's, from its card, with its signed prekey (a
	 * request left at a relay is sealed to it) */
	struct card_relay relays[CARD_RELAYS_MAX];
	unsigned nrelays;
	uint32_t spk_id; /* 0: unknown */
	uint8_t spk[CX_X_PK_LEN];
	bool card_busy;
	uint64_t card_next_ms, card_backoff;
	bool obx_more;	      /* the outbox may hold texts not in flight */
	uint64_t offline_ms;  /* since when not online (0: online) */
	uint64_t dep_next_ms, dep_backoff;
	/* acknowledgements through relays: the highest we left for them,
	 * the highest they left for us */
	uint64_t relay_acked, relay_cum;
	/* the newest link ack, not yet known to have arrived (lack_ms 0:
	 * none): see ack_confirm */
	uint64_t lack_val, lack_ms;
	size_t rq_relayed; /* read receipts (first of rq) left at relays */
	/* fetching ours: per home relay and epoch back */
	struct fetchst fs[CARD_RELAYS_MAX][NEPOCHS];
	bool in_round; /* a fetch round has asked for its mailboxes */
	/* our mailbox IDs with it of recent epochs (slot epoch % NEPOCHS),
	 * derived once (an Ed25519 key each): rounds poll them, and a
	 * NOTIFY names one; pair8 tells a cached ID of another session */
	struct {
		bool ok;
		uint64_t epoch;
		uint8_t pair8[8];
		uint8_t id[RELAY_MAILBOX_LEN];
	} mbx[NEPOCHS];
};

/* What one mailbox fetch holds back: texts whose parts are still coming
 * (in any order, duplicates ignored), and whole texts not taken yet
 * (behind a gap), by the seq of their first item, so that the relay
 * deletes nothing before them. */
#define RRX_SLOTS 4
#define RRX_HOLD 64
struct rrx {
	struct rslot {
		bool used;
		uint32_t tag;
		uint64_t n, first_seq;
		uint16_t count, got;
		uint8_t have[MAILBOX_PARTS_MAX / 8 + 1];
		size_t last_len;
		uint8_t *buf; /* count * MAILBOX_CHUNK */
	} slot[RRX_SLOTS];
	struct {
		uint64_t n, seq;
	} hold[RRX_HOLD];
	unsigned nhold;
	bool overflow; /* a hold did not fit: delete nothing this round */
	bool evicted;  /* a text in parts found no slot (rrx_put) */
};

enum pend_kind {
	P_RECV,	       /* store an incoming text */
	P_STATUS,      /* move an outgoing message's status */
	P_CONTACT_NEW, /* a request from a stranger */
	P_STATE,       /* contact state */
	P_NAME,	       /* contact name, if it has none */
	P_SEEN,	       /* last seen */
	P_EVENT,       /* an event decided outside the transaction */
	P_SEND,	       /* a new outgoing message (messages.send) */
};

struct pend {
	enum pend_kind k;
	uint8_t pk[CHAT_PK_LEN];
	uint8_t id[MSGSTORE_ID_LEN];
	uint64_t seq; /* P_STATUS: where the message is (0: unknown) */
	int v; /* status or state */
	uint64_t ms;
	bool has_reply;
	uint8_t reply_to[MSGSTORE_ID_LEN];
	uint8_t *body; /* P_RECV/P_SEND: body; P_CONTACT_NEW/P_NAME: name
			* NUL greeting NUL; P_EVENT: type NUL json */
	size_t len;
	chat_send_cb cb; /* P_SEND: told the outcome after the commit */
	void *cb_arg;
};

/* Frames gathered for one link during send_due (CF_BATCH). */
struct batch {
	int lki;
	unsigned n;
	size_t len;
	uint8_t buf[LINK_PAYLOAD_MAX];
};

struct chat {
	struct chat_config cfg;
	struct cx_drbg *drbg; /* ratchet nonces */
	uint8_t *sess_key;    /* CX_KEY_LEN, secret memory */
	uint8_t *scratch;     /* secret memory for sealing sessions, kept
			       * between uses (wiped after each) so a commit
			       * makes no guarded allocation */
	size_t scratch_len;
	uint8_t *rx_pt; /* CW_MSG_MAX: a received message's plaintext,
			 * wiped after each */
	size_t rx_hw;   /* bytes of rx_pt that may hold plaintext */
	bool batching;	/* send_frame gathers into bat */
	struct batch bat;
	struct card_prekeys pre;
	bool accept_requests, read_receipts;
	bool started;
	uint64_t publish_next_ms;
	uint64_t req_rv_seq; /* of the request rendezvous we last made */
	uint64_t publish_backoff; /* after a put no node took */
	bool retry_when_joined; /* a put failed with an empty table */
	uint64_t prekey_check_ms;
	/* failed commits not told yet, and when the last line about them
	 * was (0: none since they last worked): a full disk fails every
	 * flush until there is room, and a failing one may fail every other
	 * flush, and each would say so (COMMIT_WARN_MS); whether the last
	 * commit failed, and whether a recovery is yet to be told */
	uint64_t commit_fails, commit_warn_ms;
	bool commit_failing, commit_recovered;
	/* after a failed commit, when to flush again (0: not due), and the
	 * backoff: see commit_failed */
	uint64_t reflush_ms, reflush_backoff;
	struct peer *peers; /* PEERS_MAX, lazily used */
	unsigned npeers;    /* high-water mark of used slots */
	uint16_t *pidx;	    /* PIDX_SIZE cells: see peer_find */
	size_t pidx_n;	    /* cells in use */
	uint8_t pidx_key[CX_SHORTHASH_KEY_LEN];
	unsigned nlocating; /* locate() lookups in flight (LOCATE_CONCURRENT) */
	/* a publish's records for each contact, put PUB_CONCURRENT at a
	 * time: the next peer slot (npeers: none left), puts in flight,
	 * when to try again after the DHT had no room */
	unsigned pub_next, pub_inflight; /* pub_next: PUB_NONE between */
	uint64_t pub_retry_ms;
	bool pub_pumping; /* in pub_pump: a put the DHT answers at once
			   * must not start the next from inside it */
	struct pubput pubs[PUB_CONCURRENT]; /* whose each put in flight is */
	/* a pass over the contacts marked pub_redo only (a full publish
	 * visits all), and when the next such pass is due (0: none):
	 * records that no node took are put again alone, with their own
	 * backoff, not with every other record of ours */
	bool pub_redo_pass;
	uint64_t pub_redo_ms, pub_redo_backoff;
	uint64_t own_retry_ms; /* our card and request rendezvous again */
	struct lk lks[LKS_MAX];
	size_t reasm_bytes;
	struct pend *pend;
	size_t npend, cap_pend;
	struct events_batch batch;
	struct chat_status st;
	bool need_flush; /* something happened since the last flush */
	struct lookup *lookups; /* in flight in the DHT */
	struct relayc *rc;	/* NULL without links */
	/* our public request mailbox, per home relay and epoch back */
	struct fetchst reqfs[CARD_RELAYS_MAX][NEPOCHS];
	struct card_relay home[CARD_RELAYS_MAX]; /* our home relays */
	unsigned nhome;
	/* --home-relay auto: choosing from the adverts */
	bool auto_busy;
	unsigned auto_pending, ncand;
	uint64_t auto_next_ms, auto_hour, auto_backoff;
	bool auto_refill; /* a chosen relay was dropped: choose again */
	uint8_t home_fail[CARD_RELAYS_MAX]; /* rounds failed in a row */
	uint64_t home_fail_round[CARD_RELAYS_MAX], round_no;
	uint8_t cand[RELAY_ADVERT_SLOTS][32];
	bool cand_ok[RELAY_ADVERT_SLOTS]; /* answered its probe */
	unsigned probe_pending;
	uint32_t probe_gen;
	uint64_t fetch_next_ms, fetch_backoff;
	uint64_t join_wait_ms; /* rounds waiting for the DHT: the pause */
	uint64_t last_round_ms;
	struct pollb *polls; /* POLLB_MAX, made on the first round */
};

/* ---- small helpers ---- */

static uint64_t mono(const struct chat *c)
{
	return c->cfg.clock->mono_ms(c->cfg.clock->self);
}

static uint64_t wall(const struct chat *c)
{
	return c->cfg.clock->wall_ms(c->cfg.clock->self);
}

static void kick(struct chat *c)
{
	c->need_flush = true;
	if (c->cfg.kick != NULL)
		c->cfg.kick(c->cfg.self);
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	cx_hex_encode(out, 2 * n + 1, b, n);
}

static void cid(char out[CX_CONTACT_ID_LEN + 1], const uint8_t pk[32])
{
	cx_contact_id_encode(out, CX_CONTACT_ID_LEN + 1, pk);
}

/* Wipes what a received message's plaintext may have left in rx_pt. */
static void rx_wipe(struct chat *c)
{
	cx_wipe(c->rx_pt, c->rx_hw < CW_MSG_MAX ? c->rx_hw : CW_MSG_MAX);
	c->rx_hw = 0;
}

static void outmsg_free(struct outmsg *m)
{
	free(m->buf);
	memset(m, 0, sizeof *m);
}

/* ---- peers and links ---- */

/* The peer index: open addressing over PIDX_SIZE cells, each 0 (empty)
 * or a slot of peers[] + 1, at the SipHash of its key (under a key of
 * this run, pidx_key: a stranger's requests make peers too) probed
 * forward.  A freed peer leaves its cell behind, and a slot used again
 * by another key is just a cell that does not match: lookups go on past
 * both.  When cells in use reach half the table, it is made anew from
 * the peers in use. */
#define PIDX_SIZE (2 * PEERS_MAX)

static size_t pidx_home(const struct chat *c, const uint8_t pk[CHAT_PK_LEN])
{
	return (size_t)(cx_shorthash(c->pidx_key, pk, CHAT_PK_LEN) &
			(PIDX_SIZE - 1));
}

static void pidx_put(struct chat *c, unsigned slot)
{
	size_t h = pidx_home(c, c->peers[slot].pk);

	while (c->pidx[h] != 0)
		h = (h + 1) & (PIDX_SIZE - 1);
	c->pidx[h] = (uint16_t)(slot + 1);
	c->pidx_n++;
}

static void pidx_add(struct chat *c, unsigned slot)
{
	if (c->pidx_n + 1 >= PIDX_SIZE / 2) {
		memset(c->pidx, 0, PIDX_SIZE * sizeof *c->pidx);
		c->pidx_n = 0;
		for (unsigned i = 0; i < c->npeers; i++)
			if (c->peers[i].used && i != slot)
				pidx_put(c, i);
	}
	pidx_put(c, slot);
}

static struct peer *peer_find(const struct chat *c,
			      const uint8_t pk[CHAT_PK_LEN])
{
	size_t h = pidx_home(c, pk);

	for (; c->pidx[h] != 0; h = (h + 1) & (PIDX_SIZE - 1)) {
		struct peer *p = &c->peers[c->pidx[h] - 1];

		if (p->used && memcmp(p->pk, pk, CHAT_PK_LEN) == 0)
			return p;
	}
	return NULL;
}

static struct lk *lk_find(struct chat *c, const uint8_t node[LINK_PK_LEN])
{
	for (unsigned i = 0; i < LKS_MAX; i++)
		if (c->lks[i].used &&
		    memcmp(c->lks[i].node, node, LINK_PK_LEN) == 0)
			return &c->lks[i];
	return NULL;
}

static void reasm_free(struct chat *c, struct reasm *ra)
{
	if (ra->used) {
		c->reasm_bytes -= ra->cap;
		free(ra->buf);
	}
	memset(ra, 0, sizeof *ra);
}

static void lk_free(struct chat *c, struct lk *l)
{
	for (unsigned i = 0; i < REASM_PER_LK; i++)
		reasm_free(c, &l->ra[i]);
	memset(l, 0, sizeof *l);
}

static bool peer_online(const struct chat *c, const struct peer *p)
{
	const struct lk *l;

	if (p->lki < 0)
		return false;
	l = &c->lks[p->lki];
	return l->used && l->up && l->hello_in &&
	       memcmp(l->account, p->pk, CHAT_PK_LEN) == 0;
}

static void win_clear(struct peer *p)
{
	for (unsigned i = 0; i < p->nwin; i++)
		outmsg_free(&p->win[i].m);
	p->nwin = 0;
	p->win_bytes = 0;
	p->obx_done = 0; /* list the outbox from its start again */
}

static void rx_clear(struct peer *p)
{
	for (unsigned i = 0; p->rx != NULL && i < WIN_MAX; i++) {
		free(p->rx[i].buf);
		p->rx[i].buf = NULL;
	}
	p->rx_bytes = 0;
}

/* Frees the window's and the held texts' slots when none is in use. */
static void peer_trim(struct peer *p)
{
	if (p->nwin == 0) {
		free(p->win);
		p->win = NULL;
	}
	if (p->rx_bytes == 0 && p->rx != NULL) {
		rx_clear(p);
		free(p->rx);
		p->rx = NULL;
	}
}

static void sess_drop(struct peer *p)
{
	rx_clear(p);
	cx_ratchet_free(p->rat);
	p->rat = NULL;
	p->has_sess = false;
	cx_wipe(&p->s, sizeof p->s);
	outmsg_free(&p->ctl);
	win_clear(p);
}

/* A text's envelope (body not copied). */
static void text_env(struct cw_env *e, const uint8_t id[MSGSTORE_ID_LEN],
		     uint64_t sent_ms, const uint8_t *reply_to,
		     const uint8_t *body, size_t len)
{
	memset(e, 0, sizeof *e);
	e->kind = CW_KIND_TEXT;
	memcpy(e->id, id, MSGSTORE_ID_LEN);
	e->sent_ms = sent_ms;
	e->has_reply = reply_to != NULL;
	if (reply_to != NULL)
		memcpy(e->reply_to, reply_to, MSGSTORE_ID_LEN);
	e->body = body;
	e->body_len = len;
}

/* ---- queued texts kept in plaintext ----
 * Filled after a commit stored texts as queued, in the order of the
 * outbox; taken when the outbox's next text to send is the oldest one.
 * Anything else (a restart, a cancel, a full cache) falls back to reading
 * the store, so the cache only saves work and never decides anything.  A
 * backlog longer than the cache (an app far ahead of a slow or offline
 * contact) is read back from the store past the cache's end. */
static void qc_pop(struct peer *p)
{
	struct qtext *q = &p->qc[p->qc_head];

	p->qc_bytes -= q->e.body_len;
	cx_wipe((uint8_t *)q->e.body, q->e.body_len);
	free((uint8_t *)q->e.body);
	memset(q, 0, sizeof *q);
	p->qc_head = (p->qc_head + 1) % QC_MAX;
	p->qc_n--;
}

static void qc_free(struct peer *p)
{
	while (p->qc_n > 0)
		qc_pop(p);
	free(p->qc);
	p->qc = NULL;
	p->qc_head = 0;
}

/* Takes pd's body (stored as queued at seq) into the cache, or leaves it. */
static void qc_put(struct peer *p, struct pend *pd)
{
	struct qtext *q;

	if (p->qc_n == QC_MAX || p->qc_bytes + pd->len > QC_BYTES)
		return;
	if (p->qc_n > 0 &&
	    p->qc[(p->qc_head + p->qc_n - 1) % QC_MAX].seq >= pd->seq)
		return; /* out of order: not for the cache */
	if (p->qc == NULL && (p->qc = calloc(QC_MAX, sizeof *p->qc)) == NULL)
		return;
	q = &p->qc[(p->qc_head + p->qc_n) % QC_MAX];
	q->seq = pd->seq;
	text_env(&q->e, pd->id, pd->ms, pd->has_reply ? pd->reply_to : NULL,
		 pd->body, pd->len);
	pd->body = NULL;
	p->qc_n++;
	p->qc_bytes += pd->len;
}

/* The cached text at seq with id, dropping older ones (they left the
 * outbox some other way); NULL if it is not cached. */
static struct qtext *qc_take(struct peer *p, uint64_t seq, const uint8_t *id)
{
	struct qtext *q;

	while (p->qc_n > 0 && p->qc[p->qc_head].seq < seq)
		qc_pop(p);
	if (p->qc_n == 0)
		return NULL;
	q = &p->qc[p->qc_head];
	return q->seq == seq && memcmp(q->e.id, id, MSGSTORE_ID_LEN) == 0
		       ? q
		       : NULL;
}

static void rrx_free(struct rrx *x)
{
	if (x == NULL)
		return;
	for (unsigned i = 0; i < RRX_SLOTS; i++)
		free(x->slot[i].buf);
	free(x);
}

/* p has a new pair, so new mailboxes: no fetch goes on where one of the
 * old ones stopped (fetch_begin). */
static void new_mailboxes(struct peer *p)
{
	for (unsigned i = 0; i < CARD_RELAYS_MAX; i++)
		for (unsigned j = 0; j < NEPOCHS; j++)
			p->fs[i][j].resume = false;
}

static void peer_free(struct peer *p)
{
	sess_drop(p);
	peer_trim(p);
	qc_free(p);
	for (unsigned i = 0; i < CARD_RELAYS_MAX; i++)
		for (unsigned j = 0; j < NEPOCHS; j++)
			rrx_free(p->fs[i][j].rx);
	free(p->rq);
	memset(p, 0, sizeof *p);
	p->lki = -1;
}

/* Seals and stores, or loads and opens, a session record. */
static void sess_ad(uint8_t ad[sizeof SESS_AD - 1 + CHAT_PK_LEN],
		    const uint8_t pk[CHAT_PK_LEN])
{
	memcpy(ad, SESS_AD, sizeof SESS_AD - 1);
	memcpy(ad + sizeof SESS_AD - 1, pk, CHAT_PK_LEN);
}

/* c->scratch with room for n bytes, grown (never shrunk) as needed. */
static uint8_t *scratch(struct chat *c, size_t n)
{
	if (n > c->scratch_len) {
		uint8_t *b = cx_secret_alloc(n);

		if (b == NULL)
			return NULL;
		cx_secret_free(c->scratch);
		c->scratch = b;
		c->scratch_len = n;
	}
	return c->scratch;
}

static int sess_put_txn(struct chat *c, struct store_txn *t, struct peer *p)
{
	uint8_t ad[sizeof SESS_AD - 1 + CHAT_PK_LEN];
	size_t rl = cx_ratchet_saved_len(p->rat), len = 0;
	size_t pt_max = CW_SESS_FIXED + rl;
	uint8_t *rb, *pt, *ct;
	struct cw_sess s = p->s;
	int r;

	s.reads = (const uint8_t *)p->rq;
	s.nreads = p->nrq < CW_READS_MAX ? p->nrq : CW_READS_MAX;
	if (s.nreads > 0)
		pt_max += 2 + s.nreads * MSGSTORE_ID_LEN;
	rb = scratch(c, rl + pt_max);
	ct = malloc(CX_XCHACHA_NONCE_LEN + pt_max + CX_AEAD_TAG_LEN);
	if (rb == NULL || ct == NULL) {
		free(ct);
		return -ENOMEM;
	}
	pt = rb + rl;
	if ((r = cx_ratchet_save(p->rat, rb, rl, &rl)) < 0)
		goto out;
	s.ratchet = rb;
	s.ratchet_len = rl;
	if ((r = cw_sess_encode(pt, pt_max, &len, &s)) < 0)
		goto out;
	sess_ad(ad, p->pk);
	rng_fill(c->cfg.rng, ct, CX_XCHACHA_NONCE_LEN);
	if ((r = cx_xchacha_seal(ct + CX_XCHACHA_NONCE_LEN,
				 pt_max + CX_AEAD_TAG_LEN, pt, len, ad,
				 sizeof ad, ct, c->sess_key)) < 0)
		goto out;
	r = store_put(t, STORE_TABLE_SESSIONS, p->pk, CHAT_PK_LEN, ct,
		      CX_XCHACHA_NONCE_LEN + len + CX_AEAD_TAG_LEN);
out:
	cx_wipe(rb, (size_t)(pt - rb) + pt_max);
	free(ct);
	return r;
}

struct sess_load {
	struct chat *c;
	const uint8_t *pk;
	uint8_t *val;
	size_t len;
};

static int sess_get_txn(struct store_txn *t, void *ctx)
{
	struct sess_load *sl = ctx;

	return store_get_alloc(t, STORE_TABLE_SESSIONS, sl->pk, CHAT_PK_LEN,
			       &sl->val, &sl->len);
}

/* Loads p's session from SESSIONS into memory (replacing what is there).
 * -ENOENT when it has none. */
static int sess_load(struct chat *c, struct peer *p)
{
	struct sess_load sl = {c, p->pk, NULL, 0};
	uint8_t ad[sizeof SESS_AD - 1 + CHAT_PK_LEN];
	uint8_t *pt = NULL;
	struct cw_sess s;
	int r;

	sess_drop(p);
	r = store_read(c->cfg.store, sess_get_txn, &sl);
	if (r < 0)
		return r;
	if (sl.len < CX_XCHACHA_NONCE_LEN + CX_AEAD_TAG_LEN + CW_SESS_FIXED) {
		r = -EBADMSG;
		goto out;
	}
	pt = cx_secret_alloc(sl.len);
	if (pt == NULL) {
		r = -ENOMEM;
		goto out;
	}
	sess_ad(ad, p->pk);
	r = cx_xchacha_open(pt, sl.len, sl.val + CX_XCHACHA_NONCE_LEN,
			    sl.len - CX_XCHACHA_NONCE_LEN, ad, sizeof ad,
			    sl.val, c->sess_key);
	if (r < 0)
		goto out;
	r = cw_sess_decode(&s, pt,
			   sl.len - CX_XCHACHA_NONCE_LEN - CX_AEAD_TAG_LEN);
	if (r < 0)
		goto out;
	r = cx_ratchet_load(&p->rat, s.ratchet, s.ratchet_len,
			    cx_drbg_rng(c->drbg));
	if (r < 0)
		goto out;
	if (s.nreads > 0) {
		/* read receipts the peer had not acknowledged: resend */
		free(p->rq);
		p->rq = malloc(s.nreads * MSGSTORE_ID_LEN);
		if (p->rq == NULL) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(p->rq, s.reads, s.nreads * MSGSTORE_ID_LEN);
		p->nrq = s.nreads;
		p->rq_inflight = 0;
		p->rq_next_ms = 0;
	}
	p->s = s;
	p->s.ratchet = NULL;
	p->s.ratchet_len = 0;
	p->s.reads = NULL;
	p->s.nreads = 0;
	p->has_sess = true;
	p->relay_acked = p->s.received; /* acked before, somehow */
	p->peer_cum = p->s.acked;
	c->st.sessions_loaded++;
out:
	if (pt != NULL)
		cx_secret_free(pt);
	free(sl.val);
	return r;
}

static int contact_state(struct chat *c, const uint8_t pk[CHAT_PK_LEN])
{
	enum msgstore_contact_state st;

	if (msgstore_contact_state(c->cfg.msgs, pk, &st) < 0)
		return 0;
	return (int)st;
}

/* The peer for pk, loading its contact state and session on first use.
 * NULL when the table is full. */
static struct peer *peer_get(struct chat *c, const uint8_t pk[CHAT_PK_LEN])
{
	struct peer *p = peer_find(c, pk);
	unsigned i;
	int r;

	if (p != NULL)
		return p;
	for (i = 0; i < c->npeers; i++)
		if (!c->peers[i].used)
			break;
	if (i == c->npeers) {
		if (c->npeers == PEERS_MAX)
			return NULL;
		c->npeers++;
	}
	p = &c->peers[i];
	memset(p, 0, sizeof *p);
	p->used = true;
	p->lki = -1;
	memcpy(p->pk, pk, CHAT_PK_LEN);
	pidx_add(c, i);
	cid(p->cid, pk);
	p->state = contact_state(c, pk);
	p->rto = RTO_MIN_MS;
	p->ctl_rto = RTO_MIN_MS;
	p->locate_backoff = LOCATE_MIN_MS;
	p->obx_more = true; /* the outbox may hold texts from a last run */
	if ((r = sess_load(c, p)) < 0 && r != -ENOENT)
		log_warn("chat: session of a contact unreadable: %s",
			 strerror(-r));
	/* attach an existing verified link */
	for (unsigned j = 0; j < LKS_MAX; j++)
		if (c->lks[j].used && c->lks[j].up && c->lks[j].hello_in &&
		    memcmp(c->lks[j].account, pk, CHAT_PK_LEN) == 0)
			p->lki = (int)j;
	return p;
}

/* ---- pending work for the next flush ---- */

static struct pend *pend_add(struct chat *c, enum pend_kind k,
			     const uint8_t pk[CHAT_PK_LEN])
{
	struct pend *pd;

	if (c->npend == c->cap_pend) {
		size_t cap = c->cap_pend ? c->cap_pend * 2 : 64;
		struct pend *np;

		if (cap > PENDING_MAX)
			return NULL;
		np = realloc(c->pend, cap * sizeof *np);
		if (np == NULL)
			return NULL;
		c->pend = np;
		c->cap_pend = cap;
	}
	pd = &c->pend[c->npend++];
	memset(pd, 0, sizeof *pd);
	pd->k = k;
	if (pk != NULL)
		memcpy(pd->pk, pk, CHAT_PK_LEN);
	return pd;
}

/* Drops the pending work; sends not yet reported get err. */
static void pend_clear_err(struct chat *c, int err)
{
	for (size_t i = 0; i < c->npend; i++) {
		struct pend *pd = &c->pend[i];

		if (pd->k == P_SEND && pd->cb != NULL)
			pd->cb(pd->cb_arg, err, NULL, 0);
		free(pd->body);
	}
	c->npend = 0;
}

static void pend_clear(struct chat *c)
{
	pend_clear_err(c, -ECANCELED);
}

/* An event decided now, written with the next flush.  data is consumed. */
static void pend_event(struct chat *c, const char *type, json_t *data)
{
	char *js = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
	size_t tl = strlen(type), jl;
	struct pend *pd;

	json_decref(data);
	if (js == NULL)
		return;
	jl = strlen(js);
	pd = pend_add(c, P_EVENT, NULL);
	if (pd == NULL || (pd->body = malloc(tl + 1 + jl + 1)) == NULL) {
		if (pd != NULL)
			c->npend--;
		free(js);
		return;
	}
	memcpy(pd->body, type, tl + 1);
	memcpy(pd->body + tl + 1, js, jl + 1);
	free(js);
}

static void presence_event(struct chat *c, struct peer *p, bool online)
{
	char id[CX_CONTACT_ID_LEN + 1];
	uint64_t now = wall(c);
	struct pend *pd;

	if (p->state != MSGSTORE_CONTACT_ACCEPTED || p->online_told == online)
		return;
	p->online_told = online;
	cid(id, p->pk);
	pend_event(c, "presence",
		   json_pack("{s:s, s:s, s:I}", "id", id, "presence",
			     online ? "online" : "offline", "last_seen",
			     (json_int_t)now));
	if ((pd = pend_add(c, P_SEEN, p->pk)) != NULL)
		pd->ms = now;
}

/* ---- sending ---- */

/* Sends what the batch holds: one frame as it is, several in a BATCH. */
static void bat_flush(struct chat *c)
{
	struct batch *bt = &c->bat;
	const uint8_t *b = bt->buf;
	size_t len = bt->len;

	if (bt->n == 0)
		return;
	if (bt->n == 1) {
		b += 1 + CW_BATCH_ENTRY_HDR;
		len -= 1 + CW_BATCH_ENTRY_HDR;
	}
	if (c->lks[bt->lki].used && c->lks[bt->lki].up)
		link_send(c->cfg.links, mono(c), c->lks[bt->lki].node, b, len);
	bt->n = 0;
	bt->len = 0;
}

/* Sends a frame to p.  Within send_due (c->batching) small frames to the
 * same link are gathered into one payload (lost together or not at all:
 * each frame's own retransmission covers it). */
static int send_frame(struct chat *c, const struct peer *p, const uint8_t *b,
		      size_t len)
{
	struct batch *bt = &c->bat;
	int r;

	if (!peer_online(c, p))
		return -ENOTCONN;
	if (c->batching && len <= CW_BATCH_FRAME_MAX) {
		if (bt->n > 0 &&
		    (bt->lki != p->lki ||
		     bt->len + CW_BATCH_ENTRY_HDR + len > LINK_PAYLOAD_MAX))
			bat_flush(c);
		if (bt->n == 0) {
			bt->buf[0] = CF_BATCH;
			bt->len = 1;
			bt->lki = p->lki;
		}
		bt->buf[bt->len] = (uint8_t)(len >> 8);
		bt->buf[bt->len + 1] = (uint8_t)len;
		memcpy(bt->buf + bt->len + CW_BATCH_ENTRY_HDR, b, len);
		bt->len += CW_BATCH_ENTRY_HDR + len;
		bt->n++;
		c->st.frames_out++;
		return 0;
	}
	bat_flush(c); /* keep the order */
	r = link_send(c->cfg.links, mono(c), c->lks[p->lki].node, b, len);
	if (r == 0)
		c->st.frames_out++;
	return r;
}

static int send_outmsg(struct chat *c, const struct peer *p,
		       const struct outmsg *m)
{
	uint8_t f[LINK_PAYLOAD_MAX];
	struct cw_data d;
	size_t off = 0;
	int r = 0;

	d.flags = m->flags;
	d.tag = m->tag;
	d.n = m->n;
	d.count = (uint16_t)((m->len + CW_DATA_CHUNK - 1) / CW_DATA_CHUNK);
	for (d.index = 0; d.index < d.count; d.index++) {
		size_t l = m->len - off < CW_DATA_CHUNK ? m->len - off
							: CW_DATA_CHUNK;

		cw_data_hdr(f, &d);
		memcpy(f + CW_DATA_HDR, m->buf + off, l);
		off += l;
		if ((r = send_frame(c, p, f, CW_DATA_HDR + l)) < 0)
			break;
	}
	return r;
}

/* Encrypts envelope e for p into m (with the X3DH header when init). */
static int seal_env(struct chat *c, struct peer *p, const struct cw_env *e,
		    bool init, uint64_t n, struct outmsg *m)
{
	size_t env_max = CW_ENV_HDR + 16 + e->body_len;
	size_t bucket = cx_pad_bucket(env_max), len, plen, ctlen;
	size_t hdr = init ? CX_X3DH_INIT_LEN : 0;
	uint8_t *pt, *out;
	int r;

	pt = malloc(bucket);
	out = malloc(hdr + bucket + CX_RATCHET_OVERHEAD);
	if (pt == NULL || out == NULL) {
		free(pt);
		free(out);
		return -ENOMEM;
	}
	if ((r = cw_env_encode(pt, bucket, &len, e)) == 0 &&
	    (r = cx_pad(pt, len, bucket, &plen)) == 0) {
		if (init)
			memcpy(out, p->s.init, CX_X3DH_INIT_LEN);
		r = cx_ratchet_encrypt(p->rat, pt, plen, out + hdr,
				       bucket + CX_RATCHET_OVERHEAD, &ctlen);
	}
	cx_wipe(pt, bucket);
	free(pt);
	if (r < 0 || hdr + ctlen > CW_MSG_MAX) {
		free(out);
		return r < 0 ? r : -E2BIG;
	}
	memset(m, 0, sizeof *m);
	m->buf = out;
	m->len = hdr + ctlen;
	m->flags = (uint8_t)((init ? CW_DATA_INIT : 0) |
			     (n == 0 ? CW_DATA_CTL : 0));
	rng_fill(c->cfg.rng, &m->tag, sizeof m->tag);
	m->n = n;
	m->fresh = true;
	p->sess_dirty = true;
	return 0;
}


/* Builds the request (initiator) or the acceptance (responder). */
static int make_ctl(struct chat *c, struct peer *p, bool request)
{
	char name[MSGSTORE_NAME_MAX + 1] = "";
	uint8_t body[1 + MSGSTORE_NAME_MAX + 2 + MSGSTORE_GREETING_MAX];
	struct msgstore_contact mc;
	struct cw_env e;
	size_t blen;
	int r;

	if (msgstore_profile_get(c->cfg.msgs, name) < 0)
		name[0] = '\0';
	if (request) {
		if ((r = msgstore_contact_get(c->cfg.msgs, p->pk, &mc)) < 0)
			return r;
	} else {
		mc.greeting[0] = '\0';
	}
	if ((r = cw_intro_encode(body, sizeof body, &blen, name, mc.greeting,
				 request)) < 0)
		return r;
	memset(&e, 0, sizeof e);
	e.kind = request ? CW_KIND_REQUEST : CW_KIND_ACCEPT;
	rng_fill(c->cfg.rng, e.id, sizeof e.id);
	e.sent_ms = wall(c);
	e.body = body;
	e.body_len = blen;
	outmsg_free(&p->ctl);
	r = seal_env(c, p, &e, request, 0, &p->ctl);
	p->ctl_next_ms = 0;
	p->ctl_rto = RTO_MIN_MS;
	return r;
}

struct obx_list {
	struct msgstore_outbox_entry e[WIN_MAX + 1];
	size_t n;
};

static bool relay_mode(const struct chat *c, const struct peer *p,
		       uint64_t now);

/* Fills the window with texts from the outbox (encrypting new ones), and
 * turns acknowledgements into "delivered".  Runs before the flush's
 * transaction; what it decides is written by it. */
static void prepare_texts(struct chat *c, struct peer *p)
{
	struct obx_list ol;
	uint64_t now = wall(c), after;
	size_t j = 0; /* of ol */
	int r;

	if (!p->has_sess || p->state != MSGSTORE_CONTACT_ACCEPTED)
		return;
	if (p->relay_cum > p->peer_cum)
		p->peer_cum = p->relay_cum; /* acked through a relay */
	if (p->peer_cum > p->s.acked) {
		uint64_t k = p->peer_cum - p->s.acked;
		struct pend *pd;

		if (k > p->nwin) {
			/* acknowledges more than we sent: a confused or lying
			 * peer; believe only what is in flight */
			k = p->nwin;
		}
		for (uint64_t i = 0; i < k; i++) {
			if ((pd = pend_add(c, P_STATUS, p->pk)) == NULL)
				break;
			memcpy(pd->id, p->win[i].id, MSGSTORE_ID_LEN);
			pd->seq = p->win[i].seq;
			pd->v = MSGSTORE_STATUS_DELIVERED;
			pd->ms = now;
		}
		for (uint64_t i = 0; i < k; i++) {
			p->win_bytes -= p->win[i].m.len;
			outmsg_free(&p->win[i].m);
			if (p->win[i].obx > p->obx_done)
				p->obx_done = p->win[i].obx;
		}
		if (k > 0) { /* else win may be NULL */
			memmove(p->win, p->win + k,
				(p->nwin - k) * sizeof p->win[0]);
			memset(p->win + p->nwin - k, 0, k * sizeof p->win[0]);
		}
		p->nwin -= (unsigned)k;
		p->s.acked += k;
		p->peer_cum = p->s.acked;
		p->sess_dirty = true;
		p->rto = RTO_MIN_MS;
		p->retx_ms = 0;
	}
	if (!(peer_online(c, p) || (p->obx_more && relay_mode(c, p, mono(c)))) ||
	    p->nwin >= WIN_MAX || p->win_bytes >= WIN_BYTES)
		return;
	if (p->win == NULL && (p->win = calloc(WIN_MAX, sizeof *p->win)) == NULL)
		return; /* the next flush tries again */
	/* Only the entries past the window: the ones in it were listed
	 * before (or stored by a flush, which told their outbox seq), and
	 * only the flush's commit takes entries out of the outbox (the
	 * acknowledged ones, which left the window first).  One more than
	 * fits, to know whether some stay behind. */
	after = p->nwin > 0 ? p->win[p->nwin - 1].obx : p->obx_done;
	if (p->nwin > 0 && after == 0) {
		/* never: a flush that stored a text told its seq */
		log_warn("chat: a text in flight has no outbox seq; resending");
		win_clear(p);
	}
	r = msgstore_outbox_list(c->cfg.msgs, p->pk, after, ol.e,
				 WIN_MAX - p->nwin + 1, &ol.n);
	if (r < 0)
		return;
	if (ol.n == 0 && p->nwin == 0)
		p->obx_done = msgstore_outbox_hi(c->cfg.msgs); /* none left */
	while (j < ol.n && p->nwin < WIN_MAX && p->win_bytes < WIN_BYTES) {
		struct msgstore_msg mm;
		struct wslot *w = &p->win[p->nwin];
		struct qtext *q;
		struct cw_env e;
		struct pend *pd;
		bool queued;

		memset(&mm, 0, sizeof mm);
		if ((q = qc_take(p, ol.e[j].seq, ol.e[j].id)) != NULL) {
			e = q->e;
			queued = true;
		} else if (msgstore_get_at(c->cfg.msgs, ol.e[j].id, p->pk,
					   ol.e[j].seq, &mm) == 0) {
			text_env(&e, mm.id, mm.sent_ms,
				 mm.has_reply_to ? mm.reply_to : NULL, mm.body,
				 mm.body_len);
			queued = mm.status == MSGSTORE_STATUS_QUEUED;
		} else
			break;
		r = seal_env(c, p, &e, false, p->s.acked + 1 + p->nwin, &w->m);
		if (r == 0 && queued &&
		    (pd = pend_add(c, P_STATUS, p->pk)) != NULL) {
			memcpy(pd->id, e.id, MSGSTORE_ID_LEN);
			pd->seq = ol.e[j].seq;
			pd->v = MSGSTORE_STATUS_SENT;
			pd->ms = now;
		}
		if (q != NULL) {
			if (r == 0) {
				qc_pop(p);
				c->st.msgs_out_cached++;
			}
		} else
			msgstore_msg_clear(&mm);
		if (r < 0) {
			log_warn("chat: cannot encrypt a message: %s",
				 strerror(-r));
			break;
		}
		memcpy(w->id, ol.e[j].id, MSGSTORE_ID_LEN);
		w->seq = ol.e[j].seq;
		w->obx = ol.e[j].obx_seq;
		p->win_bytes += w->m.len;
		p->nwin++;
		j++;
		c->st.msgs_out++;
	}
	/* New messages of this flush go out in its own transaction when
	 * everything before them is in flight already (same order). */
	if (j < ol.n) {
		p->obx_more = true;
		return;
	}
	p->obx_more = false; /* unless one below stays queued */
	for (size_t i = 0; i < c->npend && p->nwin < WIN_MAX &&
			   p->win_bytes < WIN_BYTES;
	     i++) {
		struct pend *pd = &c->pend[i];
		struct wslot *w = &p->win[p->nwin];
		struct cw_env e;

		if (pd->k != P_SEND || pd->v != MSGSTORE_STATUS_QUEUED ||
		    memcmp(pd->pk, p->pk, CHAT_PK_LEN) != 0)
			continue;
		text_env(&e, pd->id, pd->ms,
			 pd->has_reply ? pd->reply_to : NULL, pd->body,
			 pd->len);
		if (seal_env(c, p, &e, false, p->s.acked + 1 + p->nwin,
			     &w->m) < 0) {
			p->obx_more = true;
			break;
		}
		pd->v = MSGSTORE_STATUS_SENT;
		memcpy(w->id, pd->id, MSGSTORE_ID_LEN);
		w->seq = 0; /* known once flush_txn stored it */
		w->obx = 0; /* likewise */
		p->win_bytes += w->m.len;
		p->nwin++;
		c->st.msgs_out++;
	}
	if (p->nwin >= WIN_MAX || p->win_bytes >= WIN_BYTES)
		p->obx_more = true; /* perhaps some stayed queued */
}

/* A request (req) or an acceptance is still to be delivered to p. */
static bool ctl_wanted(const struct peer *p, bool req)
{
	if (req)
		return p->state == MSGSTORE_CONTACT_REQUESTED_BY_US &&
		       (p->s.flags & CW_SESS_INITIATOR) &&
		       !(p->s.flags & CW_SESS_REQ_ACKED);
	return p->state == MSGSTORE_CONTACT_ACCEPTED &&
	       !(p->s.flags & CW_SESS_INITIATOR) &&
	       !(p->s.flags & CW_SESS_ACC_ACKED);
}

static void prepare_ctl(struct chat *c, struct peer *p)
{
	bool want_req, want_acc;

	if (!p->has_sess || p->ctl.buf != NULL)
		return;
	want_req = ctl_wanted(p, true);
	want_acc = ctl_wanted(p, false);
	if (!peer_online(c, p) &&
	    !(want_req && c->rc != NULL && p->nrelays > 0 && p->spk_id != 0) &&
	    !(want_acc && relay_mode(c, p, mono(c))))
		return;
	if (want_req || want_acc) {
		int r = make_ctl(c, p, want_req);

		if (r < 0)
			log_warn("chat: cannot make a %s: %s",
				 want_req ? "request" : "acceptance",
				 strerror(-r));
	}
}

/* ---- the flush transaction ---- */

/* message.status: {"id":…,"to":…,"status":…}; every field is hex,
 * base32 or a fixed name, so nothing needs escaping. */
static int status_emit(struct chat *c, struct store_txn *t, uint64_t now,
		       const struct peer *p, const uint8_t id[16], int status)
{
	char ids[33], *js;
	struct jw w;
	int r;

	hex(ids, id, 16);
	jw_init(&w, EVENTS_DATA_MAX);
	jw_lit(&w, "{\"id\":\"");
	jw_lit(&w, ids);
	jw_lit(&w, "\",\"to\":\"");
	jw_lit(&w, p->cid);
	jw_lit(&w, "\",\"status\":\"");
	jw_lit(&w, msgstore_status_name((enum msgstore_status)status));
	jw_lit(&w, "\"}");
	if ((js = jw_finish(&w, &r)) == NULL)
		return r < 0 ? r : -ENOMEM;
	r = events_append_txn(c->cfg.events, t, &c->batch, now,
			      "message.status", js);
	free(js);
	return r;
}

/* message.received for pd, stored at seq of its conversation:
 * {"id","from","body","sent_at"[,"reply_to"]}, or with "body_omitted":true
 * instead of the body when the event would pass EVENTS_DATA_MAX (never let
 * one event block the stream: the body stays in the history).  The log
 * keeps it without the body, which the history holds (events_ref). */
static int received_emit(struct chat *c, struct store_txn *t, uint64_t now,
			 const struct peer *p, const struct pend *pd,
			 uint64_t seq)
{
	char ids[33], from[CX_CONTACT_ID_LEN + 1], rids[33];
	struct events_ref ref = {.peer = pd->pk, .seq = seq, .id = pd->id};
	struct jw w;
	char *js;
	int r;

	hex(ids, pd->id, 16);
	if (p != NULL)
		memcpy(from, p->cid, sizeof from);
	else
		cid(from, pd->pk);
	for (int omit = 0; omit < 2; omit++) {
		jw_init(&w, EVENTS_DATA_MAX);
		jw_lit(&w, "{\"id\":\"");
		jw_lit(&w, ids);
		jw_lit(&w, "\",\"from\":\"");
		jw_lit(&w, from);
		if (omit) {
			jw_lit(&w, "\",\"body_omitted\":true");
		} else {
			jw_lit(&w, "\",\"body\":");
			ref.body_at = w.len;
			jw_str(&w, (const char *)pd->body, pd->len);
			ref.body_len = w.len - ref.body_at;
		}
		jw_lit(&w, ",\"sent_at\":");
		jw_u64(&w, pd->ms);
		if (pd->has_reply) {
			hex(rids, pd->reply_to, 16);
			jw_lit(&w, ",\"reply_to\":\"");
			jw_lit(&w, rids);
			jw_lit(&w, "\"");
		}
		jw_lit(&w, "}");
		js = jw_finish(&w, &r);
		if (js == NULL && r == -E2BIG)
			continue;
		if (js == NULL)
			return r;
		r = events_append_ref_txn(c->cfg.events, t, &c->batch, now,
					  "message.received", js,
					  omit ? NULL : &ref);
		free(js);
		if (r != -E2BIG)
			return r;
	}
	return -E2BIG;
}

static int emit_txn(struct chat *c, struct store_txn *t, uint64_t now,
		    const char *type, json_t *data)
{
	char *js;
	int r;

	if (data == NULL)
		return -ENOMEM;
	js = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (js == NULL)
		return -ENOMEM;
	r = events_append_txn(c->cfg.events, t, &c->batch, now, type, js);
	free(js);
	return r;
}

/* The window slot of id (sent in this flush, so near the end) learns
 * where msgstore put it. */
static void win_note_seq(struct peer *p, const uint8_t id[MSGSTORE_ID_LEN],
			 uint64_t seq, uint64_t obx)
{
	for (unsigned i = p->nwin; i-- > 0;)
		if (memcmp(p->win[i].id, id, MSGSTORE_ID_LEN) == 0) {
			p->win[i].seq = seq;
			p->win[i].obx = obx;
			return;
		}
}

static int flush_txn(struct store_txn *t, void *ctx)
{
	struct chat *c = ctx;
	uint64_t now = wall(c);
	int r = 0;

	events_batch_begin(c->cfg.events, &c->batch);
	for (size_t i = 0; i < c->npend && r == 0; i++) {
		struct pend *pd = &c->pend[i];
		struct peer *p = peer_find(c, pd->pk);
		char from[CX_CONTACT_ID_LEN + 1];

		switch (pd->k) {
		case P_RECV: {
			struct msgstore_incoming in = {
				.peer = pd->pk,
				.id = pd->id,
				.from = pd->pk,
				.sent_ms = pd->ms,
				.reply_to = pd->has_reply ? pd->reply_to : NULL,
				.body = pd->body,
				.body_len = pd->len,
			};
			uint64_t seq = 0;
			bool dup = false;

			r = msgstore_receive_txn(c->cfg.msgs, t, &in, now, &seq,
						 &dup);
			if (r < 0 || dup)
				break;
			r = received_emit(c, t, now, p, pd, seq);
			break;
		}
		case P_STATUS: {
			bool changed = false;

			r = msgstore_set_status_at_txn(
				c->cfg.msgs, t, pd->pk, pd->seq, pd->id,
				(enum msgstore_status)pd->v, now, &changed,
				NULL);
			if (r == -ENOENT || r == -EALREADY) {
				r = 0; /* a receipt for a message we do
					* not have (or cannot move) */
				break;
			}
			if (r == 0 && changed && p != NULL)
				r = status_emit(c, t, now, p, pd->id, pd->v);
			break;
		}
		case P_CONTACT_NEW: {
			struct msgstore_contact mc;
			const char *name = (const char *)pd->body;
			const char *greet = name + strlen(name) + 1;

			memset(&mc, 0, sizeof mc);
			memcpy(mc.pk, pd->pk, CHAT_PK_LEN);
			mc.state = MSGSTORE_CONTACT_REQUESTED_BY_THEM;
			snprintf(mc.name, sizeof mc.name, "%s", name);
			snprintf(mc.greeting, sizeof mc.greeting, "%s", greet);
			r = msgstore_contact_add_txn(c->cfg.msgs, t, &mc, now);
			if (r == -EEXIST)
				r = msgstore_contact_set_state_txn(
					c->cfg.msgs, t, pd->pk,
					MSGSTORE_CONTACT_REQUESTED_BY_THEM,
					now);
			if (r < 0)
				break;
			cid(from, pd->pk);
			r = emit_txn(c, t, now, "contact.request",
				     json_pack("{s:s, s:s, s:s}", "id", from,
					       "name", name, "greeting",
					       greet));
			break;
		}
		case P_STATE:
			r = msgstore_contact_set_state_txn(
				c->cfg.msgs, t, pd->pk,
				(enum msgstore_contact_state)pd->v, now);
			break;
		case P_NAME: {
			struct msgstore_contact mc;

			if (msgstore_contact_get_txn(c->cfg.msgs, t, pd->pk,
						     &mc) == 0 &&
			    mc.name[0] == '\0' && pd->body[0] != '\0')
				r = msgstore_contact_set_name_txn(
					c->cfg.msgs, t, pd->pk,
					(const char *)pd->body, now);
			break;
		}
		case P_SEEN:
			r = msgstore_contact_set_seen_txn(c->cfg.msgs, t,
							  pd->pk, pd->ms);
			if (r == -ENOENT)
				r = 0;
			break;
		case P_SEND: {
			uint64_t seq = 0, obx = 0;

			r = msgstore_send_id_txn(
				c->cfg.msgs, t, pd->pk, pd->body, pd->len,
				pd->has_reply ? pd->reply_to : NULL, pd->ms,
				pd->id, (enum msgstore_status)pd->v, &seq,
				&obx);
			pd->seq = seq;
			if (r == 0 && pd->v == MSGSTORE_STATUS_SENT && p != NULL)
				win_note_seq(p, pd->id, seq, obx);
			if (r == 0 && pd->v == MSGSTORE_STATUS_SENT && p != NULL)
				r = status_emit(c, t, now, p, pd->id, pd->v);
			break;
		}
		case P_EVENT: {
			const char *type = (const char *)pd->body;

			r = events_append_txn(c->cfg.events, t, &c->batch, now,
					      type, type + strlen(type) + 1);
			break;
		}
		}
	}
	for (unsigned i = 0; i < c->npeers && r == 0; i++) {
		struct peer *p = &c->peers[i];

		if (p->used && p->sess_dirty && p->has_sess)
			r = sess_put_txn(c, t, p);
	}
	return r;
}

static void ack_clear(struct peer *p)
{
	p->ack_due = false;
	p->ack_lazy = false;
	p->ack_texts = 0;
	p->ack_at = 0;
}

/* An ack is owed: at once, or when it suits (a text in order). */
static void ack_now(struct peer *p)
{
	p->ack_due = true;
	p->ack_lazy = false;
}

static void ack_later(struct peer *p)
{
	if (!p->ack_due)
		p->ack_lazy = true;
	p->ack_due = true;
	p->ack_texts++;
}

/* After a failed transaction: forget what was decided in memory. */
static void rollback(struct chat *c)
{
	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (!p->used || !p->sess_dirty)
			continue;
		p->sess_dirty = false;
		ack_clear(p);
		p->state = contact_state(c, p->pk);
		if (sess_load(c, p) < 0)
			sess_drop(p);
	}
}

static void send_ack(struct chat *c, struct peer *p)
{
	uint8_t f[CW_ACK_LEN];

	f[0] = CF_ACK;
	f[1] = p->ack_flags;
	link__put_u64(f + 2, p->has_sess ? p->s.received : 0);
	if (send_frame(c, p, f, sizeof f) == 0) {
		ack_clear(p);
		if (p->has_sess) { /* the newest ack: see ack_confirm */
			p->lack_val = p->s.received;
			p->lack_ms = mono(c) + 1; /* never 0 */
		}
	}
}

/* An ack sent over a link counts as arrived (no need to leave it at the
 * peer's relays) only once the peer spoke on a link ACK_CONFIRM_MS after
 * it: a link can look up for a while after the peer is gone (75 s until
 * it is declared dead), and an ack sent into it was long taken as
 * delivered, so the peer's texts stayed "sent" until the two met again. */
#define ACK_CONFIRM_MS 1000
static void ack_confirm(struct chat *c, struct peer *p)
{
	if (p->lack_ms == 0 || mono(c) < p->lack_ms + ACK_CONFIRM_MS)
		return;
	if (p->lack_val > p->relay_acked)
		p->relay_acked = p->lack_val;
	p->lack_ms = 0;
}

/* The same from the link's side, for a peer that has nothing to say: any
 * authenticated packet (its keepalives come every 25 s when idle) after
 * ACK_CONFIRM_MS confirms.  Looked at every ACK_CHECK_MS while an ack is
 * pending; returns when to look again. */
#define ACK_CHECK_MS 10000
static uint64_t ack_check(struct chat *c, struct peer *p, uint64_t now)
{
	struct link_peer_status ps;
	uint64_t due = p->lack_ms + ACK_CONFIRM_MS;

	if (now < due)
		return due;
	if (p->lki >= 0 &&
	    link_peer_status(c->cfg.links, now, c->lks[p->lki].node, &ps) ==
		    0 &&
	    ps.established && ps.last_recv_ms >= due) {
		ack_confirm(c, p);
		return UINT64_MAX;
	}
	return now + ACK_CHECK_MS;
}

/* Sends a due ack now, or leaves a lazy one for later (see ACK_DELAY_MS);
 * rode: a frame of ours went to the peer in this turn. */
static void ack_maybe(struct chat *c, struct peer *p, uint64_t now, bool rode)
{
	if (!p->ack_due)
		return;
	if (rode || !p->ack_lazy || p->ack_texts >= ACK_EVERY ||
	    (p->ack_at != 0 && now >= p->ack_at))
		send_ack(c, p);
	else if (p->ack_at == 0)
		p->ack_at = now + ACK_DELAY_MS;
}

static void send_reads(struct chat *c, struct peer *p, uint64_t now)
{
	uint8_t f[6 + CW_READ_MAX * MSGSTORE_ID_LEN];
	size_t k = p->nrq < CW_READ_MAX ? p->nrq : CW_READ_MAX;

	if (k == 0 || now < p->rq_next_ms)
		return;
	if (p->rq_inflight == 0)
		rng_fill(c->cfg.rng, &p->rq_tag, sizeof p->rq_tag);
	p->rq_inflight = k;
	f[0] = CF_READ;
	link__put_u32(f + 1, p->rq_tag);
	f[5] = (uint8_t)k;
	memcpy(f + 6, p->rq, k * MSGSTORE_ID_LEN);
	send_frame(c, p, f, 6 + k * MSGSTORE_ID_LEN);
	p->rq_next_ms = now + 1000;
}

/* Sends what the peer is owed: fresh messages at once, the rest when
 * their retransmission time came. */
static void send_due(struct chat *c, struct peer *p, uint64_t now)
{
	bool retx, rode = false;

	if (!peer_online(c, p))
		return;
	if (p->ack_due && !p->ack_lazy)
		send_ack(c, p); /* first: it may be what the peer waits for */
	if (p->ctl.buf != NULL && (p->ctl.fresh || now >= p->ctl_next_ms)) {
		if (!p->ctl.fresh) {
			p->ctl_rto = p->ctl_rto * 2 > RTO_MAX_MS
					     ? RTO_MAX_MS
					     : p->ctl_rto * 2;
			c->st.retransmits++;
		}
		p->ctl.fresh = false;
		send_outmsg(c, p, &p->ctl);
		p->ctl_next_ms = now + p->ctl_rto;
		rode = true;
	}
	retx = p->nwin > 0 && p->retx_ms != 0 && now >= p->retx_ms;
	if (p->fast_retx && !retx && p->nwin > 0 && !p->win[0].m.fresh) {
		c->st.retransmits++;
		send_outmsg(c, p, &p->win[0].m);
		rode = true;
	}
	p->fast_retx = false;
	for (unsigned i = 0; i < p->nwin; i++) {
		struct outmsg *m = &p->win[i].m;

		if (m->fresh || retx) {
			if (!m->fresh)
				c->st.retransmits++;
			m->fresh = false;
			if (send_outmsg(c, p, m) < 0)
				break;
			rode = true;
		}
	}
	if (retx)
		p->rto = p->rto * 2 > RTO_MAX_MS ? RTO_MAX_MS : p->rto * 2;
	if (p->nwin > 0 && (retx || p->retx_ms == 0))
		p->retx_ms = now + p->rto;
	if (p->nwin == 0)
		p->retx_ms = 0;
	send_reads(c, p, now);
	ack_maybe(c, p, now, rode);
}

static void deposit_due(struct chat *c, struct peer *p, uint64_t now);
static void relay_after_commit(struct chat *c, bool ok);

/* Says that a flush could not commit: the first time, then in at most
 * one line every COMMIT_WARN_MS, of failures (with the count since the
 * last line) or of commits working again (commit_told).  A disk that fails
 * every other write gave two lines per failure before. */
#define COMMIT_WARN_MS 60000

/* Doubles a backoff from 1 s up to max_ms. */
static uint64_t backoff_next(uint64_t b, uint64_t max_ms)
{
	return b == 0 ? 1000 : (b * 2 > max_ms ? max_ms : b * 2);
}

static void commit_failed(struct chat *c, uint64_t now, int r)
{
	c->commit_fails++;
	c->commit_failing = true;
	c->commit_recovered = false;
	/* What the flush dropped (texts put back in the outbox, the window
	 * started over) goes again only at a flush, and when both sides have
	 * nothing else to say none comes: the outbox waited for ever (found
	 * by commits_fail_at_random with both sides failing).  The next
	 * flush is due after a backoff, 1 s doubling to 30 s, so that a full
	 * disk is not asked in a loop. */
	c->reflush_backoff = backoff_next(c->reflush_backoff, 30000);
	c->reflush_ms = now + c->reflush_backoff;
	if (c->commit_warn_ms != 0 && now < c->commit_warn_ms + COMMIT_WARN_MS)
		return;
	if (c->commit_fails == 1)
		log_warn("chat: cannot commit (%s); nothing sent, the peers "
			 "will resend",
			 strerror(-r));
	else
		log_warn("chat: cannot commit (%s); %llu commits failed since "
			 "the last warning",
			 strerror(-r), (unsigned long long)c->commit_fails);
	c->commit_fails = 0;
	c->commit_warn_ms = now;
}

/* Tells that commits work again, once the last line is COMMIT_WARN_MS
 * old (chat_tick calls it again until then); the next failure is then
 * told at once. */
static void commit_told(struct chat *c, uint64_t now)
{
	if (!c->commit_recovered || now < c->commit_warn_ms + COMMIT_WARN_MS)
		return;
	log_warn("chat: commits again (%llu more failed since the last "
		 "warning)",
		 (unsigned long long)c->commit_fails);
	c->commit_fails = 0;
	c->commit_warn_ms = 0;
	c->commit_recovered = false;
}

void chat_flush(struct chat *c)
{
	uint64_t now = mono(c);
	bool dirty = c->npend > 0;
	int r;

	if (!c->need_flush && !dirty)
		return;
	c->need_flush = false;

	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (!p->used)
			continue;
		prepare_ctl(c, p);
		prepare_texts(c, p);
		dirty = dirty || p->sess_dirty;
	}
	if (dirty) {
		r = store_write(c->cfg.store, flush_txn, c);
		if (r < 0) {
			commit_failed(c, now, r);
			/* drop what was encrypted in this flush */
			for (unsigned i = 0; i < c->npeers; i++) {
				struct peer *p = &c->peers[i];

				if (!p->used)
					continue;
				/* its session goes back to the last commit
				 * (rollback), and with it what was
				 * acknowledged: the window starts over */
				if (p->sess_dirty)
					win_clear(p);
				if (p->ctl.fresh)
					outmsg_free(&p->ctl);
				while (p->nwin > 0 &&
				       p->win[p->nwin - 1].m.fresh) {
					p->nwin--;
					p->win_bytes -= p->win[p->nwin].m.len;
					outmsg_free(&p->win[p->nwin].m);
				}
			}
			rollback(c);
			pend_clear_err(c, r);
			relay_after_commit(c, false);
			return;
		}
		events_batch_commit(c->cfg.events, &c->batch);
		c->reflush_ms = 0;
		c->reflush_backoff = 0;
		if (c->commit_failing) {
			c->commit_failing = false;
			c->commit_recovered = true;
			commit_told(c, now);
		}
		if (c->batch.appended > 0 && c->cfg.notify != NULL)
			c->cfg.notify(c->cfg.self);
		for (unsigned i = 0; i < c->npeers; i++)
			c->peers[i].sess_dirty = false;
		for (size_t i = 0; i < c->npend; i++) {
			struct pend *pd = &c->pend[i];

			struct peer *pp;

			if (pd->k != P_SEND)
				continue;
			if (pd->cb != NULL) {
				pd->cb(pd->cb_arg, 0, pd->id, pd->v);
				pd->cb = NULL;
			}
			if (pd->v == MSGSTORE_STATUS_QUEUED && pd->seq != 0 &&
			    (pp = peer_find(c, pd->pk)) != NULL)
				qc_put(pp, pd);
		}
		pend_clear(c);
	}
	relay_after_commit(c, true);
	c->batching = true;
	for (unsigned i = 0; i < c->npeers; i++)
		if (c->peers[i].used)
			send_due(c, &c->peers[i], now);
	bat_flush(c);
	c->batching = false;
	for (unsigned i = 0; i < c->npeers; i++)
		if (c->peers[i].used && c->peers[i].nrelays > 0)
			deposit_due(c, &c->peers[i], now);
	/* Everything of this turn is committed, announced and sent: the
	 * ratchet's work ahead of need (the sending half of a DH step after
	 * a received message turned it; a key pair for the next) runs now,
	 * while the apps read their events, not when they answer.  Only
	 * for contacts online: the others can wait for encrypt to do it. */
	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (p->used && p->has_sess && p->rat != NULL &&
		    peer_online(c, p) && cx_ratchet_prepare(p->rat) > 0)
			p->sess_dirty = true; /* saved with the next commit */
	}
	if (c->cfg.kick != NULL)
		c->cfg.kick(c->cfg.self);
}

/* ---- receiving ---- */

static void hello_send(struct chat *c, struct lk *l)
{
	struct cw_hello h;
	uint8_t msg[CW_HELLO_SIGMSG_LEN], f[CW_HELLO_LEN];
	const struct cx_identity *id = c->cfg.id;

	memset(&h, 0, sizeof h);
	h.flags = l->hello_in ? CW_HELLO_ACK : 0;
	memcpy(h.account, id->account_pk, 32);
	memcpy(h.device, id->device_pk, 32);
	h.dev_created_s = id->created_s;
	memcpy(h.dev_sig, id->device_sig, CX_SIG_LEN);
	h.ts_ms = wall(c);
	cw_hello_sigmsg(msg, id->node_pk, l->node, &h);
	cx_sign(h.sig, msg, sizeof msg, id->device_sk);
	cw_hello_encode(f, &h);
	if (link_send(c->cfg.links, mono(c), l->node, f, sizeof f) == 0)
		c->st.frames_out++;
	l->hello_next_ms = mono(c) + HELLO_RETRY_MS;
}

void chat_link_up(struct chat *c, const uint8_t node_pk[static LINK_PK_LEN])
{
	struct lk *l = lk_find(c, node_pk);

	if (l == NULL) {
		for (unsigned i = 0; i < LKS_MAX; i++)
			if (!c->lks[i].used) {
				l = &c->lks[i];
				break;
			}
		if (l == NULL) {
			/* forget the oldest link that is down */
			for (unsigned i = 0; i < LKS_MAX && l == NULL; i++)
				if (!c->lks[i].up)
					l = &c->lks[i];
			if (l == NULL)
				return;
			lk_free(c, l);
		}
		l->used = true;
		memcpy(l->node, node_pk, LINK_PK_LEN);
	}
	l->up = true;
	l->hello_in = false;
	l->hello_acked = false;
	hello_send(c, l);
	if (c->rc != NULL)
		relayc_link_up(c->rc, node_pk);
	kick(c);
}

void chat_link_down(struct chat *c, const uint8_t node_pk[static LINK_PK_LEN])
{
	struct lk *l = lk_find(c, node_pk);

	if (c->rc != NULL)
		relayc_link_down(c->rc, node_pk);

	if (l == NULL) {
		/* a handshake we started never completed: look again */
		for (unsigned i = 0; i < c->npeers; i++) {
			struct peer *p = &c->peers[i];

			if (p->used && p->has_sess &&
			    memcmp(p->s.node_pk, node_pk, LINK_PK_LEN) == 0) {
				p->node_stale = true;
				if (p->locate_next_ms > mono(c) + p->locate_backoff)
					p->locate_next_ms =
						mono(c) + p->locate_backoff;
			}
		}
		return;
	}
	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (p->used && p->lki == (int)(l - c->lks)) {
			presence_event(c, p, false);
			p->lki = -1;
			p->node_stale = true;
			p->locate_next_ms = 0;
			p->typing_in = false;
		}
	}
	lk_free(c, l);
	kick(c);
}

static void on_hello(struct chat *c, struct lk *l, const uint8_t *b,
		     size_t len)
{
	uint8_t msg[CW_HELLO_SIGMSG_LEN];
	struct cw_hello h;
	struct peer *p;
	bool was_in = l->hello_in;

	if (cw_hello_decode(&h, b, len) < 0 ||
	    cx_device_cert_verify(h.account, h.device, h.dev_created_s,
				  h.dev_sig) < 0) {
		c->st.frames_dropped++;
		return;
	}
	cw_hello_sigmsg(msg, l->node, c->cfg.id->node_pk, &h);
	if (cx_sign_verify(h.sig, msg, sizeof msg, h.device) < 0 ||
	    memcmp(h.account, c->cfg.id->account_pk, 32) == 0) {
		c->st.frames_dropped++;
		return;
	}
	if (was_in && memcmp(l->account, h.account, 32) != 0) {
		c->st.frames_dropped++; /* one account per link */
		return;
	}
	memcpy(l->account, h.account, 32);
	l->hello_in = true;
	if (h.flags & CW_HELLO_ACK)
		l->hello_acked = true;
	if (!(h.flags & CW_HELLO_ACK) || !l->hello_acked)
		hello_send(c, l);
	if (was_in)
		return;
	p = peer_find(c, h.account);
	if (p == NULL && contact_state(c, h.account) != 0)
		p = peer_get(c, h.account);
	if (p == NULL)
		return; /* a stranger: wait for a request */
	if (p->state == MSGSTORE_CONTACT_BLOCKED)
		return;
	p->lki = (int)(l - c->lks);
	p->locate_backoff = LOCATE_MIN_MS;
	p->node_stale = false;
	if (p->has_sess &&
	    (!(p->s.flags & CW_SESS_HAS_NODE) ||
	     memcmp(p->s.node_pk, l->node, 32) != 0)) {
		memcpy(p->s.node_pk, l->node, 32);
		p->s.flags |= CW_SESS_HAS_NODE;
		p->sess_dirty = true;
	}
	/* resend what is in flight now rather than at its timer */
	p->retx_ms = p->nwin > 0 ? 1 : 0;
	p->ctl_next_ms = 0;
	p->rq_next_ms = 0;
	presence_event(c, p, true);
}

/* The pair secret both contacts derive from X3DH's SK (rendezvous keys):
 * HKDF-SHA-512(salt none, ikm SK, info "parley pair v1"). */
static int pair_derive(uint8_t pair[static CARD_PAIR_LEN],
		       const uint8_t sk[static 32])
{
	static const char info[] = "parley pair v1";

	return cx_hkdf_sha512(pair, CARD_PAIR_LEN, NULL, 0, sk, 32,
			      (const uint8_t *)info, sizeof info - 1);
}

/* The intro secret of two accounts, for finding each other before any
 * session when both have added the other (a node whose user takes no
 * requests from strangers publishes no request rendezvous):
 *   HKDF-SHA-512(salt none, ikm X25519(our account key, theirs),
 *                info "parley intro v1" | smaller pk | larger pk)
 * with the Ed25519 account keys in their X25519 form (RFC 7748 birational
 * map).  Only the two accounts can compute it; its rendezvous records are
 * pairwise rendezvous (card.h) under this secret. */
static int intro_derive(struct chat *c, const uint8_t peer_pk[CHAT_PK_LEN],
			uint8_t out[static CARD_PAIR_LEN])
{
	static const char tag[] = "parley intro v1";
	uint8_t info[sizeof tag - 1 + 2 * CHAT_PK_LEN], xpk[CX_X_PK_LEN];
	uint8_t *sk = cx_secret_alloc(CX_X_SK_LEN + CX_KEY_LEN);
	const uint8_t *me = c->cfg.id->account_pk;
	bool me_first = memcmp(me, peer_pk, CHAT_PK_LEN) < 0;
	int r;

	if (sk == NULL)
		return -ENOMEM;
	if ((r = cx_ed25519_pk_to_x25519(xpk, peer_pk)) == 0) {
		cx_ed25519_sk_to_x25519(sk, c->cfg.id->account_sk);
		r = cx_x25519(sk + CX_X_SK_LEN, sk, xpk);
	}
	if (r == 0) {
		memcpy(info, tag, sizeof tag - 1);
		memcpy(info + sizeof tag - 1, me_first ? me : peer_pk,
		       CHAT_PK_LEN);
		memcpy(info + sizeof tag - 1 + CHAT_PK_LEN,
		       me_first ? peer_pk : me, CHAT_PK_LEN);
		r = cx_hkdf_sha512(out, CARD_PAIR_LEN, NULL, 0,
				   sk + CX_X_SK_LEN, CX_KEY_LEN, info,
				   sizeof info);
	}
	cx_secret_free(sk);
	return r;
}

static int x3dh_respond(struct chat *c, struct peer *p,
			const struct cx_x3dh_init *in, const uint8_t *hdr)
{
	struct cx_x3dh_result res;
	uint8_t spk_sk[CX_X_SK_LEN];
	struct cx_ratchet *rat = NULL;
	int r;

	if (memcmp(in->ik, p->pk, 32) != 0 || in->has_opk)
		return -EKEYREJECTED;
	if ((r = card_prekeys_secret(&c->pre, in->spk_id, spk_sk)) < 0)
		return r;
	r = cx_x3dh_respond(&res, in, c->cfg.id->account_sk, spk_sk, NULL);
	if (r == 0)
		r = cx_ratchet_new_bob(&rat, res.sk, spk_sk, res.hka, res.nhkb,
				       res.ad, sizeof res.ad,
				       cx_drbg_rng(c->drbg));
	if (r == 0) {
		sess_drop(p);
		memset(&p->s, 0, sizeof p->s);
		memcpy(p->s.init, hdr, CX_X3DH_INIT_LEN);
		r = pair_derive(p->s.pair, res.sk);
		p->rat = rat;
		p->has_sess = true;
		p->in_round = false; /* a new pair: new mailboxes, soon */
		new_mailboxes(p);
		p->peer_cum = 0;
	}
	cx_wipe(spk_sk, sizeof spk_sk);
	cx_x3dh_result_wipe(&res);
	return r;
}

/* Decrypts a ratchet message into an envelope; pt (c->rx_pt, CW_MSG_MAX)
 * holds it.  A plaintext is never longer than its ciphertext: c->rx_hw
 * keeps the most that may have been written, for on_message's wipe. */
static int open_env(struct chat *c, struct peer *p, const uint8_t *ct,
		    size_t len, uint8_t *pt, struct cw_env *e)
{
	size_t ptlen, unp;
	int r;

	if (len > c->rx_hw)
		c->rx_hw = len;
	if ((r = cx_ratchet_decrypt(p->rat, ct, len, pt, CW_MSG_MAX,
				    &ptlen)) < 0)
		return r;
	p->sess_dirty = true; /* the state advanced: it must be saved */
	if ((r = cx_unpad(pt, ptlen, &unp)) < 0)
		return r;
	return cw_env_decode(e, pt, unp);
}

static void on_request(struct chat *c, struct lk *l, struct peer *p,
		       const uint8_t *b, size_t len, uint8_t *pt)
{
	char name[MSGSTORE_NAME_MAX + 1], greet[MSGSTORE_GREETING_MAX + 1];
	struct cx_x3dh_init in;
	struct cw_env e;
	struct pend *pd;
	int r;

	if (len < CX_X3DH_INIT_LEN ||
	    cx_x3dh_init_parse(&in, b, CX_X3DH_INIT_LEN) < 0)
		goto drop;
	if (p->state == MSGSTORE_CONTACT_BLOCKED)
		return; /* silently */
	if (p->state == 0 && !c->accept_requests)
		return; /* no requests from strangers: silently */
	if (p->has_sess && !(p->s.flags & CW_SESS_INITIATOR) &&
	    memcmp(p->s.init, b, CX_X3DH_INIT_LEN) == 0) {
		/* a copy of a request we have: acknowledge again */
		p->ack_flags |= CW_ACK_REQ;
		ack_now(p);
		return;
	}
	if (p->state == MSGSTORE_CONTACT_REJECTED) {
		p->ack_flags |= CW_ACK_REQ;
		ack_now(p);
		return; /* they are not told */
	}
	if (p->state == MSGSTORE_CONTACT_REQUESTED_BY_US && p->has_sess &&
	    (p->s.flags & CW_SESS_INITIATOR) &&
	    memcmp(c->cfg.id->account_pk, p->pk, 32) < 0)
		return; /* both asked at once: the smaller key's request
			 * wins, and that is ours */
	if ((r = x3dh_respond(c, p, &in, b)) < 0)
		goto bad;
	if ((r = open_env(c, p, b + CX_X3DH_INIT_LEN, len - CX_X3DH_INIT_LEN, pt,
			  &e)) < 0 ||
	    e.kind != CW_KIND_REQUEST ||
	    cw_intro_decode(e.body, e.body_len, true, name, greet) < 0) {
		r = -EBADMSG;
		goto bad;
	}
	if (l != NULL) {
		memcpy(p->s.node_pk, l->node, 32);
		p->s.flags |= CW_SESS_HAS_NODE;
		p->lki = (int)(l - c->lks);
	}
	p->sess_dirty = true;
	p->ack_flags |= CW_ACK_REQ;
	ack_now(p);
	if (p->state == MSGSTORE_CONTACT_ACCEPTED ||
	    p->state == MSGSTORE_CONTACT_REQUESTED_BY_US) {
		/* a contact set the session up anew (reinstalled, or we
		 * asked each other at once): accept it at once */
		if (p->state == MSGSTORE_CONTACT_REQUESTED_BY_US &&
		    (pd = pend_add(c, P_STATE, p->pk)) != NULL)
			pd->v = MSGSTORE_CONTACT_ACCEPTED;
		p->state = MSGSTORE_CONTACT_ACCEPTED;
		win_clear(p);
		outmsg_free(&p->ctl);
		if (peer_online(c, p))
			presence_event(c, p, true);
		return;
	}
	if ((pd = pend_add(c, P_CONTACT_NEW, p->pk)) == NULL ||
	    (pd->body = malloc(strlen(name) + strlen(greet) + 2)) == NULL)
		goto bad;
	memcpy(pd->body, name, strlen(name) + 1);
	memcpy(pd->body + strlen(name) + 1, greet, strlen(greet) + 1);
	p->state = MSGSTORE_CONTACT_REQUESTED_BY_THEM;
	c->st.msgs_in++;
	return;
bad:
	/* forget the half-made session */
	p->sess_dirty = false;
	ack_clear(p);
	if (sess_load(c, p) < 0)
		sess_drop(p);
drop:
	c->st.frames_dropped++;
}

static void on_accept(struct chat *c, struct peer *p, const uint8_t *b,
		      size_t len, uint8_t *pt)
{
	char name[MSGSTORE_NAME_MAX + 1], greet[MSGSTORE_GREETING_MAX + 1];
	struct cw_env e;
	struct pend *pd;
	char id[CX_CONTACT_ID_LEN + 1];

	if (!p->has_sess || !(p->s.flags & CW_SESS_INITIATOR))
		goto drop;
	if (p->state == MSGSTORE_CONTACT_ACCEPTED) {
		p->ack_flags |= CW_ACK_ACCEPT;
		ack_now(p);
		/* a resent copy: nothing more to do */
		return;
	}
	if (p->state != MSGSTORE_CONTACT_REQUESTED_BY_US)
		goto drop;
	if (open_env(c, p, b, len, pt, &e) < 0 || e.kind != CW_KIND_ACCEPT ||
	    cw_intro_decode(e.body, e.body_len, false, name, greet) < 0) {
		if (sess_load(c, p) < 0)
			sess_drop(p);
		goto drop;
	}
	p->s.flags |= CW_SESS_REQ_ACKED;
	outmsg_free(&p->ctl);
	p->state = MSGSTORE_CONTACT_ACCEPTED;
	if ((pd = pend_add(c, P_STATE, p->pk)) != NULL)
		pd->v = MSGSTORE_CONTACT_ACCEPTED;
	if (name[0] != '\0' && (pd = pend_add(c, P_NAME, p->pk)) != NULL &&
	    (pd->body = (uint8_t *)strdup(name)) == NULL)
		c->npend--;
	cid(id, p->pk);
	pend_event(c, "contact.accepted", json_pack("{s:s}", "id", id));
	p->ack_flags |= CW_ACK_ACCEPT;
	ack_now(p);
	if (peer_online(c, p))
		presence_event(c, p, true);
	return;
drop:
	c->st.frames_dropped++;
}

/* Decrypts and queues text n = received + 1.  false when it could not
 * be taken (then nothing changed but counters). */
static bool take_text(struct chat *c, struct peer *p, uint64_t n,
		      const uint8_t *b, size_t len, uint8_t *pt)
{
	struct cw_env e;
	struct pend *pd;

	if (c->npend >= PENDING_MAX - 4)
		return false; /* the flush is behind: the sender will resend */
	if (open_env(c, p, b, len, pt, &e) < 0 || e.kind != CW_KIND_TEXT ||
	    !msgstore__utf8_valid(e.body, e.body_len, true)) {
		/* forged or corrupt: the ratchet did not move unless it
		 * authenticated, and then the message is malformed: reload */
		if (p->sess_dirty && sess_load(c, p) < 0)
			sess_drop(p);
		c->st.frames_dropped++;
		return false;
	}
	if ((pd = pend_add(c, P_RECV, p->pk)) == NULL ||
	    (pd->body = malloc(e.body_len + 1)) == NULL) {
		if (pd != NULL)
			c->npend--;
		if (sess_load(c, p) < 0)
			sess_drop(p);
		return false;
	}
	memcpy(pd->id, e.id, MSGSTORE_ID_LEN);
	pd->ms = e.sent_ms;
	pd->has_reply = e.has_reply;
	memcpy(pd->reply_to, e.reply_to, MSGSTORE_ID_LEN);
	memcpy(pd->body, e.body, e.body_len);
	pd->body[e.body_len] = '\0';
	pd->len = e.body_len;
	p->s.received = n;
	ack_later(p);
	c->st.msgs_in++;
	return true;
}

static void on_text(struct chat *c, struct peer *p, uint64_t n,
		    const uint8_t *b, size_t len, uint8_t *pt)
{
	if (!p->has_sess || p->state != MSGSTORE_CONTACT_ACCEPTED) {
		c->st.frames_dropped++;
		return;
	}
	if (n <= p->s.received) {
		c->st.dup_in++;
		ack_now(p);
		return;
	}
	if (n > p->s.received + 1) {
		/* ahead of a gap: hold it (still encrypted) until the gap is
		 * filled, and tell the sender where we are, at most every
		 * few ms */
		struct rxslot *x;
		uint64_t now = mono(c);

		if (p->rx == NULL)
			p->rx = calloc(WIN_MAX, sizeof *p->rx);
		x = p->rx != NULL ? &p->rx[n % WIN_MAX] : NULL;
		if (x != NULL && n <= p->s.received + WIN_MAX && x->buf == NULL &&
		    p->rx_bytes + len <= RX_BYTES_MAX &&
		    (x->buf = malloc(len)) != NULL) {
			memcpy(x->buf, b, len);
			x->len = len;
			x->n = n;
			p->rx_bytes += len;
		}
		if (now - p->hint_ms >= 20) {
			p->hint_ms = now;
			ack_now(p);
		}
		return;
	}
	if (!take_text(c, p, n, b, len, pt))
		return;
	/* what was held behind it */
	while (p->rx != NULL) {
		struct rxslot *x = &p->rx[(p->s.received + 1) % WIN_MAX];
		uint8_t *buf;
		bool ok;

		if (x->buf == NULL)
			break;
		buf = x->buf;
		x->buf = NULL;
		p->rx_bytes -= x->len;
		ok = x->n == p->s.received + 1 &&
		     take_text(c, p, x->n, buf, x->len, pt);
		free(buf);
		if (!ok)
			break;
	}
}

static void on_message(struct chat *c, struct lk *l, uint8_t flags,
		       uint64_t n, const uint8_t *b, size_t len)
{
	struct peer *p;
	uint8_t *pt;

	if (!l->hello_in) {
		hello_send(c, l);
		c->st.frames_dropped++;
		return;
	}
	p = peer_get(c, l->account);
	if (p == NULL || p->state == MSGSTORE_CONTACT_BLOCKED)
		return;
	if (p->lki < 0 && p->state != 0)
		p->lki = (int)(l - c->lks);
	ack_confirm(c, p);
	pt = c->rx_pt;
	if ((flags & CW_DATA_CTL) && (flags & CW_DATA_INIT))
		on_request(c, l, p, b, len, pt);
	else if (flags & CW_DATA_CTL)
		on_accept(c, p, b, len, pt);
	else if (!(flags & CW_DATA_INIT))
		on_text(c, p, n, b, len, pt);
	else
		c->st.frames_dropped++;
	cx_wipe(pt, c->rx_hw < CW_MSG_MAX ? c->rx_hw : CW_MSG_MAX);
	c->rx_hw = 0;
	if (p->state == 0 && !p->has_sess)
		peer_free(p); /* a stranger's failed request */
}

static void on_data(struct chat *c, struct lk *l, const uint8_t *b,
		    size_t len)
{
	struct cw_data d;
	struct reasm *ra = NULL, *free_ra = NULL, *oldest = NULL;
	uint64_t now = mono(c);

	if (cw_data_decode(&d, b, len) < 0) {
		c->st.frames_dropped++;
		return;
	}
	if (d.count == 1) {
		on_message(c, l, d.flags, d.n, d.chunk, d.chunk_len);
		return;
	}
	for (unsigned i = 0; i < REASM_PER_LK; i++) {
		struct reasm *x = &l->ra[i];

		if (x->used && now - x->started_ms > REASM_TIMEOUT_MS)
			reasm_free(c, x);
		if (x->used && x->tag == d.tag && x->n == d.n) {
			ra = x;
		} else if (!x->used) {
			if (free_ra == NULL)
				free_ra = x;
		} else if (oldest == NULL ||
			   x->started_ms < oldest->started_ms) {
			oldest = x;
		}
	}
	if (ra == NULL) {
		size_t cap = (size_t)d.count * CW_DATA_CHUNK;

		if (free_ra == NULL) {
			reasm_free(c, oldest);
			free_ra = oldest;
		}
		if (c->reasm_bytes + cap > REASM_TOTAL) {
			c->st.frames_dropped++;
			return;
		}
		ra = free_ra;
		ra->buf = malloc(cap);
		if (ra->buf == NULL)
			return;
		ra->used = true;
		ra->cap = cap;
		c->reasm_bytes += cap;
		ra->tag = d.tag;
		ra->n = d.n;
		ra->flags = d.flags;
		ra->count = d.count;
		ra->started_ms = now;
	}
	if (ra->count != d.count || ra->flags != d.flags) {
		c->st.frames_dropped++;
		return;
	}
	if (ra->have[d.index / 8] & (1u << (d.index % 8)))
		return; /* duplicate fragment */
	ra->have[d.index / 8] |= (uint8_t)(1u << (d.index % 8));
	memcpy(ra->buf + (size_t)d.index * CW_DATA_CHUNK, d.chunk, d.chunk_len);
	if (d.index + 1 == d.count)
		ra->last_len = d.chunk_len;
	if (++ra->got < ra->count)
		return;
	{
		/* take the buffer out before handling (which may free l's
		 * reassemblies through callbacks) */
		uint8_t *buf = ra->buf;
		size_t mlen = (size_t)(ra->count - 1) * CW_DATA_CHUNK +
			      ra->last_len;
		uint8_t flags = ra->flags;
		uint64_t n = ra->n;

		c->reasm_bytes -= ra->cap;
		memset(ra, 0, sizeof *ra);
		on_message(c, l, flags, n, buf, mlen);
		free(buf);
	}
}

static void on_ack(struct chat *c, struct lk *l, const uint8_t *b, size_t len)
{
	struct peer *p;
	uint64_t cum;

	if (len != CW_ACK_LEN || (b[1] & ~(CW_ACK_REQ | CW_ACK_ACCEPT)) ||
	    !l->hello_in || (p = peer_find(c, l->account)) == NULL ||
	    !p->has_sess) {
		c->st.frames_dropped++;
		return;
	}
	c->st.acks_in++;
	ack_confirm(c, p);
	cum = link__get_u64(b + 2);
	if (cum > p->peer_cum && cum <= p->s.acked + p->nwin)
		p->peer_cum = cum;
	else if (cum == p->s.acked && p->nwin > 0)
		p->fast_retx = true; /* the peer waits for our oldest */
	if ((b[1] & CW_ACK_REQ) && (p->s.flags & CW_SESS_INITIATOR) &&
	    !(p->s.flags & CW_SESS_REQ_ACKED)) {
		p->s.flags |= CW_SESS_REQ_ACKED;
		p->sess_dirty = true;
		outmsg_free(&p->ctl);
	}
	if ((b[1] & CW_ACK_ACCEPT) && !(p->s.flags & CW_SESS_INITIATOR) &&
	    !(p->s.flags & CW_SESS_ACC_ACKED)) {
		p->s.flags |= CW_SESS_ACC_ACKED;
		p->sess_dirty = true;
		outmsg_free(&p->ctl);
	}
}

static void on_read(struct chat *c, struct lk *l, const uint8_t *b,
		    size_t len)
{
	struct peer *p;
	uint8_t f[5];
	size_t k;

	if (len < 6 || !l->hello_in || (p = peer_find(c, l->account)) == NULL ||
	    p->state != MSGSTORE_CONTACT_ACCEPTED) {
		c->st.frames_dropped++;
		return;
	}
	k = b[5];
	if (k == 0 || k > CW_READ_MAX || len != 6 + k * MSGSTORE_ID_LEN) {
		c->st.frames_dropped++;
		return;
	}
	for (size_t i = 0; i < k; i++) {
		struct pend *pd = pend_add(c, P_STATUS, p->pk);

		if (pd == NULL)
			return; /* not acknowledged: it comes again */
		memcpy(pd->id, b + 6 + i * MSGSTORE_ID_LEN, MSGSTORE_ID_LEN);
		pd->v = MSGSTORE_STATUS_READ;
		pd->ms = wall(c);
	}
	/* acknowledged now; written with the next flush, like the rest */
	f[0] = CF_READ_ACK;
	memcpy(f + 1, b + 1, 4);
	send_frame(c, p, f, sizeof f);
}

static void on_read_ack(struct chat *c, struct lk *l, const uint8_t *b,
			size_t len)
{
	struct peer *p;

	if (len != 5 || !l->hello_in ||
	    (p = peer_find(c, l->account)) == NULL || p->rq_inflight == 0 ||
	    link__get_u32(b + 1) != p->rq_tag)
		return;
	memmove(p->rq, p->rq + p->rq_inflight,
		(p->nrq - p->rq_inflight) * MSGSTORE_ID_LEN);
	p->nrq -= p->rq_inflight;
	p->rq_relayed = p->rq_relayed > p->rq_inflight
				? p->rq_relayed - p->rq_inflight
				: 0;
	p->rq_inflight = 0;
	p->rq_next_ms = 0;
	if (p->has_sess)
		p->sess_dirty = true; /* saved with the next commit; if we
				       * stop first they are sent again,
				       * which the peer ignores */
}

static void on_typing(struct chat *c, struct lk *l, const uint8_t *b,
		      size_t len)
{
	char id[CX_CONTACT_ID_LEN + 1];
	struct peer *p;

	if (len != 2 || b[1] > 1 || !l->hello_in ||
	    (p = peer_find(c, l->account)) == NULL ||
	    p->state != MSGSTORE_CONTACT_ACCEPTED)
		return;
	if (p->typing_in == (b[1] == 1))
		return;
	p->typing_in = b[1] == 1;
	cid(id, p->pk);
	pend_event(c, "typing",
		   json_pack("{s:s, s:b}", "id", id, "typing", b[1] == 1));
}

static void frame_in(struct chat *c, struct lk *l, const uint8_t *data,
		     size_t len);

void chat_link_data(struct chat *c, const uint8_t node_pk[static LINK_PK_LEN],
		    const uint8_t *data, size_t len)
{
	struct lk *l = lk_find(c, node_pk);

	if (len == 0)
		return;
	if (relay_frame_is_answer(data[0])) {
		if (c->rc != NULL)
			relayc_frame(c->rc, node_pk, data, len);
		return;
	}
	if (l == NULL || !l->up) {
		/* established_cb comes first; be safe anyway */
		chat_link_up(c, node_pk);
		if ((l = lk_find(c, node_pk)) == NULL)
			return;
	}
	c->need_flush = true;
	if (data[0] == CF_BATCH) {
		const uint8_t *f;
		size_t off = 1, flen;

		if (cw_batch_check(data, len) < 0) {
			c->st.frames_dropped++;
			return;
		}
		/* a frame may close the link: find it again for each */
		while (cw_batch_next(data, len, &off, &f, &flen) > 0 &&
		       (l = lk_find(c, node_pk)) != NULL && l->up)
			frame_in(c, l, f, flen);
		return;
	}
	frame_in(c, l, data, len);
}

static void frame_in(struct chat *c, struct lk *l, const uint8_t *data,
		     size_t len)
{
	c->st.frames_in++;
	switch (data[0]) {
	case CF_HELLO:
		on_hello(c, l, data, len);
		break;
	case CF_DATA:
		on_data(c, l, data, len);
		break;
	case CF_ACK:
		on_ack(c, l, data, len);
		break;
	case CF_READ:
		on_read(c, l, data, len);
		break;
	case CF_READ_ACK:
		on_read_ack(c, l, data, len);
		break;
	case CF_TYPING:
		on_typing(c, l, data, len);
		break;
	case CF_BYE:
		if (len == 1 && l->hello_in) {
			struct peer *p = peer_find(c, l->account);

			if (p != NULL && p->lki == (int)(l - c->lks)) {
				presence_event(c, p, false);
				p->lki = -1;
			}
			l->hello_in = false;
		}
		break;
	default:
		c->st.frames_dropped++;
	}
}

/* ---- finding contacts' nodes, publishing our records ---- */

enum stage {
	ST_CARD,
	ST_REQ_RV,
	ST_INTRO_RV,
	ST_PAIR_RV,
	ST_NODE,
	ST_RELAYS,
	ST_ADVERT /* a relay advert slot: pk[0] is the slot, epoch the hour */
};

struct lookup {
	struct chat *c;
	uint8_t pk[CHAT_PK_LEN];
	enum stage stage;
	uint64_t epoch;
	bool locating; /* a stage of locate(): counted in c->nlocating */
	struct lookup *next, *prev; /* c->lookups: freed with the chat, as
				     * dht_free() calls no callback */
};

static struct lookup *lookup_new(struct chat *c)
{
	struct lookup *lu = calloc(1, sizeof *lu);

	if (lu == NULL)
		return NULL;
	lu->c = c;
	lu->next = c->lookups;
	if (c->lookups != NULL)
		c->lookups->prev = lu;
	c->lookups = lu;
	return lu;
}

static void lookup_free(struct lookup *lu)
{
	if (lu->locating)
		lu->c->nlocating--;
	if (lu->prev != NULL)
		lu->prev->next = lu->next;
	else
		lu->c->lookups = lu->next;
	if (lu->next != NULL)
		lu->next->prev = lu->prev;
	free(lu);
}

static void locate_fail(struct chat *c, struct peer *p, bool idle)
{
	uint64_t max = idle ? LOCATE_IDLE_MAX_MS : LOCATE_MAX_MS;

	p->locate_next_ms = mono(c) + p->locate_backoff;
	p->locate_backoff = p->locate_backoff * 2 > max ? max
							: p->locate_backoff * 2;
}

/* Whether looking for p may slow to LOCATE_IDLE_MAX_MS: nothing of ours
 * waits for it to be online, or what waits is in good hands (our request
 * at its relays, which tell it when it comes), or it cannot be reached
 * anyway (no card: it cannot be written to before it publishes one).  An
 * address book of people who never answer cost a lookup a minute each. */
static bool locate_idle(const struct peer *p)
{
	if (p->state == MSGSTORE_CONTACT_ACCEPTED)
		return p->nwin == 0;
	return p->state == MSGSTORE_CONTACT_REQUESTED_BY_US &&
	       (!p->has_sess ||
		(p->ctl.buf != NULL && p->ctl.dep == DEP_DONE));
}

static bool has_work(const struct peer *p)
{
	return p->state == MSGSTORE_CONTACT_REQUESTED_BY_US ||
	       p->state == MSGSTORE_CONTACT_ACCEPTED;
}

static void locate(struct chat *c, struct peer *p);

/* A pairwise (or intro) rendezvous lookup came back: the node key it
 * names, or else the other epoch next time. */
static int rv_take(struct peer *p, const struct dht_result *res,
		   const uint8_t secret[static CARD_PAIR_LEN], uint64_t epoch)
{
	uint8_t node[CX_X_PK_LEN];
	int r = -ENOENT;

	if (res->status == 0 && res->record != NULL)
		r = card_pair_rv_parse(node, NULL, res->record, secret, p->pk,
				       epoch);
	if (r == 0) {
		memcpy(p->s.node_pk, node, 32);
		p->s.flags |= CW_SESS_HAS_NODE;
		p->node_stale = false;
		p->rv_epoch_back = 0;
	} else {
		p->rv_epoch_back ^= 1;
	}
	return r;
}

static void publish_pair(struct chat *c, struct peer *p);
static void advert_done(struct chat *c, const struct lookup *lu,
			const struct dht_result *res);

/* The contact's card came back (or not): its home relays. */
static void relays_done(struct chat *c, struct peer *p,
			const struct dht_result *res)
{
	struct card card;
	uint64_t now = mono(c);

	p->card_busy = false;
	if (res->status == 0 && res->record != NULL &&
	    card_record_parse(&card, res->record, p->pk) == 0) {
		if (card.num_relays != p->nrelays ||
		    memcmp(card.relays, p->relays,
			   card.num_relays * sizeof card.relays[0]) != 0)
			/* answers about the old relays are ignored now */
			for (unsigned i = 0; i < p->nwin; i++)
				if (p->win[i].m.dep == DEP_BUSY)
					p->win[i].m.dep = DEP_NONE;
		p->nrelays = card.num_relays;
		memcpy(p->relays, card.relays,
		       card.num_relays * sizeof card.relays[0]);
		p->spk_id = card.bundle.spk_id;
		memcpy(p->spk, card.bundle.spk, CX_X_PK_LEN);
		p->card_next_ms = now + CARD_REFRESH_MS;
		p->card_backoff = 0;
		c->need_flush = true; /* deposits may start */
	} else {
		p->card_backoff = p->card_backoff == 0
					  ? CARD_RETRY_MIN_MS
					  : p->card_backoff * 2;
		if (p->card_backoff > CARD_REFRESH_MS)
			p->card_backoff = CARD_REFRESH_MS;
		p->card_next_ms = now + p->card_backoff;
	}
	kick(c);
}

static void lookup_done(void *arg, const struct dht_result *res)
{
	struct lookup *lu = arg;
	struct chat *c = lu->c;
	struct peer *p;
	uint8_t node[CX_X_PK_LEN];
	int r = -ENOENT;

	if (lu->stage == ST_ADVERT) {
		advert_done(c, lu, res);
		lookup_free(lu);
		return;
	}
	p = peer_find(c, lu->pk);

	if (p == NULL || c->cfg.dht == NULL) {
		lookup_free(lu);
		return;
	}
	if (lu->stage == ST_RELAYS) {
		relays_done(c, p, res);
		lookup_free(lu);
		return;
	}
	p->lookup_busy = false;
	switch (lu->stage) {
	case ST_CARD:
		if (res->status == 0 && res->record != NULL) {
			struct card card;
			struct cx_x3dh_result xr;
			struct cx_x3dh_init in;

			r = card_record_parse(&card, res->record, p->pk);
			if (r == 0) {
				p->nrelays = card.num_relays;
				memcpy(p->relays, card.relays,
				       card.num_relays * sizeof card.relays[0]);
				p->spk_id = card.bundle.spk_id;
				memcpy(p->spk, card.bundle.spk, CX_X_PK_LEN);
				p->card_next_ms = mono(c) + CARD_REFRESH_MS;
			}
			if (r == 0 && !p->has_sess &&
			    p->state == MSGSTORE_CONTACT_REQUESTED_BY_US) {
				r = cx_x3dh_initiate(&xr, &in,
						     c->cfg.id->account_sk,
						     &card.bundle, c->cfg.rng);
				if (r == 0)
					r = cx_ratchet_new_alice(
						&p->rat, xr.sk,
						card.bundle.spk, xr.hka,
						xr.nhkb, xr.ad, sizeof xr.ad,
						cx_drbg_rng(c->drbg));
				if (r == 0) {
					memset(&p->s, 0, sizeof p->s);
					p->s.flags = CW_SESS_INITIATOR;
					cx_x3dh_init_encode(p->s.init, &in);
					r = pair_derive(p->s.pair, xr.sk);
					p->has_sess = true;
					p->in_round = false; /* new mailboxes */
					new_mailboxes(p);
					p->sess_dirty = true;
					/* where they find us to answer */
					publish_pair(c, p);
				}
				cx_x3dh_result_wipe(&xr);
			}
			if (r < 0)
				log_warn("chat: contact card unusable: %s",
					 strerror(-r));
		}
		break;
	case ST_REQ_RV:
		if (res->status == 0 && res->record != NULL &&
		    (r = card_req_rv_parse(node, res->record, p->pk)) == 0) {
			memcpy(p->s.node_pk, node, 32);
			p->s.flags |= CW_SESS_HAS_NODE;
			p->node_stale = false;
		} else {
			/* they take no requests from strangers: perhaps
			 * they added us too, and publish an intro record */
			p->try_intro = true;
			r = 0;
		}
		break;
	case ST_INTRO_RV: {
		uint8_t intro[CARD_PAIR_LEN];

		p->try_intro = false;
		if ((r = intro_derive(c, p->pk, intro)) == 0)
			r = rv_take(p, res, intro, lu->epoch);
		cx_wipe(intro, sizeof intro);
		break;
	}
	case ST_PAIR_RV:
		r = rv_take(p, res, p->s.pair, lu->epoch);
		break;
	case ST_RELAYS:
	case ST_ADVERT:
		break; /* handled above */
	case ST_NODE:
		if (res->status == 0 &&
		    memcmp(res->node.pk, p->s.node_pk, 32) == 0) {
			r = link_connect(c->cfg.links, mono(c), p->s.node_pk,
					 &res->node.addr);
			if (r == 0) {
				/* wait for the handshake; if it fails, the
				 * link's closed callback sends us back */
				p->locate_next_ms = mono(c) + LOCATE_MAX_MS;
				lookup_free(lu);
				kick(c);
				return;
			}
		} else {
			p->node_stale = true;
		}
		break;
	}
	lookup_free(lu);
	if (r < 0) {
		locate_fail(c, p, locate_idle(p));
		return;
	}
	locate(c, p); /* next stage */
	kick(c);
}

static void locate(struct chat *c, struct peer *p)
{
	struct lookup *lu;
	uint8_t key[DHT_ID_LEN];
	uint64_t now_w = wall(c);
	int r;

	if (c->cfg.dht == NULL || p->lookup_busy || peer_online(c, p) ||
	    !has_work(p) || c->nlocating >= LOCATE_CONCURRENT)
		return; /* (the last: chat_tick starts it when one ends) */
	lu = lookup_new(c);
	if (lu == NULL)
		return;
	memcpy(lu->pk, p->pk, CHAT_PK_LEN);
	/* counted from now: the DHT may answer (and lookup_free run)
	 * before dht_get returns */
	lu->locating = true;
	c->nlocating++;
	if (!p->has_sess) {
		if (p->state != MSGSTORE_CONTACT_REQUESTED_BY_US) {
			lookup_free(lu);
			return;
		}
		lu->stage = ST_CARD;
		card_key(key, p->pk);
		p->lookup_busy = true;
		r = dht_get(c->cfg.dht, now_w, key, DHT_GET_FIRST,
			    (struct dht_lookup_cb){lookup_done, lu});
	} else if ((p->s.flags & CW_SESS_HAS_NODE) && !p->node_stale) {
		uint8_t nid[CX_HASH_LEN];

		lu->stage = ST_NODE;
		cx_node_id(nid, p->s.node_pk);
		p->lookup_busy = true;
		r = dht_find_node(c->cfg.dht, now_w, nid, 0,
				  (struct dht_lookup_cb){lookup_done, lu});
	} else if (p->state == MSGSTORE_CONTACT_REQUESTED_BY_US &&
		   p->try_intro) {
		uint8_t intro[CARD_PAIR_LEN];

		lu->stage = ST_INTRO_RV;
		lu->epoch = now_w / 1000 / CARD_RV_EPOCH_S - p->rv_epoch_back;
		if (intro_derive(c, p->pk, intro) < 0) {
			lookup_free(lu);
			locate_fail(c, p, false);
			return;
		}
		card_pair_rv_key(key, intro, p->pk, lu->epoch);
		cx_wipe(intro, sizeof intro);
		p->lookup_busy = true;
		r = dht_get(c->cfg.dht, now_w, key, 0,
			    (struct dht_lookup_cb){lookup_done, lu});
	} else if (p->state == MSGSTORE_CONTACT_REQUESTED_BY_US) {
		lu->stage = ST_REQ_RV;
		card_req_rv_key(key, p->pk);
		p->lookup_busy = true;
		r = dht_get(c->cfg.dht, now_w, key, 0,
			    (struct dht_lookup_cb){lookup_done, lu});
	} else {
		lu->stage = ST_PAIR_RV;
		lu->epoch = now_w / 1000 / CARD_RV_EPOCH_S - p->rv_epoch_back;
		card_pair_rv_key(key, p->s.pair, p->pk, lu->epoch);
		p->lookup_busy = true;
		r = dht_get(c->cfg.dht, now_w, key, 0,
			    (struct dht_lookup_cb){lookup_done, lu});
	}
	if (r < 0) {
		lookup_free(lu);
		p->lookup_busy = false;
		if (r == -ENOSPC) {
			/* the DHT is full of lookups: not this contact's
			 * failure, so no longer a wait for it */
			p->locate_next_ms = mono(c) + 4 * LOCATE_WAIT_MS;
			return;
		}
		locate_fail(c, p, false);
		return;
	}
	c->st.lookups++;
	kick(c);
}

/* chat_tick's part for p, not online and with work: starts the lookup
 * that is due, if there is room, and lowers *next to when p needs the
 * tick again. */
static void locate_due(struct chat *c, struct peer *p, uint64_t now,
		       uint64_t *next)
{
	uint64_t at;

	if (p->lookup_busy)
		return;
	if (now >= p->locate_next_ms)
		locate(c, p);
	if (p->lookup_busy)
		return;
	/* not started (no room, or nothing it could do): never a timer
	 * for now, which would spin */
	at = p->locate_next_ms > now ? p->locate_next_ms : now + LOCATE_WAIT_MS;
	if (at < *next)
		*next = at;
}

/* No node took a record: it is put again after a backoff, and at once
 * when the routing table, empty now (the DHT is joining, or lost every
 * node), gets contacts again (chat_tick). */
static void put_failed(struct chat *c, const struct dht_result *res)
{
	struct dht_status ds;

	log_debug("chat: a record was not stored: %s",
		  strerror(res->status < 0 ? -res->status : ENOENT));
	dht_status(c->cfg.dht, &ds);
	if (ds.contacts == 0)
		c->retry_when_joined = true;
}

/* The end of a put of our card or request rendezvous: one no node took
 * is put again (with the other, see publish_own) after a backoff. */
static void put_done(void *arg, const struct dht_result *res)
{
	struct chat *c = arg;

	if (res->status == 0 && res->stored > 0) {
		c->publish_backoff = 0;
		return;
	}
	put_failed(c, res);
	c->publish_backoff = backoff_next(c->publish_backoff, 60000);
	c->own_retry_ms = mono(c) + c->publish_backoff;
}

/* Our intro rendezvous for a contact we asked (see intro_derive), so
 * that they find our node if they asked us too. */
static int publish_intro(struct chat *c, const struct peer *p,
			 struct dht_record *rec, uint64_t now_s,
			 struct dht_lookup_cb cb)
{
	uint8_t intro[CARD_PAIR_LEN];
	int r;

	if ((r = intro_derive(c, p->pk, intro)) < 0)
		return r;
	r = card_pair_rv_make(rec, intro, c->cfg.id->account_pk,
			      now_s / CARD_RV_EPOCH_S, c->cfg.id->node_pk,
			      now_s, c->cfg.rng);
	if (r == 0)
		r = dht_put(c->cfg.dht, wall(c), rec, 0, cb);
	cx_wipe(intro, sizeof intro);
	return r;
}

/* Our pairwise rendezvous for p, once we share a session: while we
 * asked (so that their acceptance finds us) and once accepted. */
static bool pair_wanted(const struct peer *p)
{
	return p->used && p->has_sess &&
	       (p->state == MSGSTORE_CONTACT_ACCEPTED ||
		p->state == MSGSTORE_CONTACT_REQUESTED_BY_US);
}

static int publish_pair_rec(struct chat *c, const struct peer *p,
			    struct dht_record *rec, uint64_t now_s,
			    struct dht_lookup_cb cb)
{
	int r;

	if (!pair_wanted(p))
		return 0;
	r = card_pair_rv_make(rec, p->s.pair, c->cfg.id->account_pk,
			      now_s / CARD_RV_EPOCH_S, c->cfg.id->node_pk,
			      now_s, c->cfg.rng);
	return r == 0 ? dht_put(c->cfg.dht, wall(c), rec, 0, cb) : r;
}

/* The records a publish puts for each contact (our intro rendezvous for
 * those we asked, our pairwise one for those we share a session with) go
 * PUB_CONCURRENT at a time, the next as one ends.  Put all at once, they
 * found the DHT's 32 lookup slots full after the first few, and the rest
 * were not published at all (put_done never heard of them) until the
 * next publish, which refused the same ones again: in an address book of
 * hundreds, most contacts had no rendezvous to find us by.
 *
 * A contact whose record no node took is marked (pub_redo) and put again
 * alone by a later pass over the marked ones, after a backoff of its own
 * (1 s doubling to a minute; a success resets it).  Before, one such
 * failure brought every record of ours forward, card and each contact's,
 * and a network that lost a few puts of each round had them all put
 * again and again.  A new contact or session marks its contact too:
 * its record goes out through the same pump. */
#define PUB_RETRY_MS 1000

static void pub_pump(struct chat *c);

/* Puts p's records again soon (at once, unless a pass is running). */
static void pub_mark(struct chat *c, struct peer *p, uint64_t after_ms)
{
	uint64_t at = mono(c) + after_ms;

	p->pub_redo = true;
	if (c->pub_redo_ms == 0 || at < c->pub_redo_ms)
		c->pub_redo_ms = at;
}

static void publish_pair(struct chat *c, struct peer *p)
{
	if (c->cfg.dht != NULL && pair_wanted(p)) {
		pub_mark(c, p, 0);
		kick(c);
	}
}

static void pub_put_done(void *arg, const struct dht_result *res)
{
	struct pubput *pp = arg;
	struct chat *c = pp->c;
	struct peer *p;

	pp->busy = false;
	c->pub_inflight--;
	if (res->status == 0 && res->stored > 0) {
		c->st.records_published++;
		c->pub_redo_backoff = 0;
	} else {
		put_failed(c, res);
		if ((p = peer_find(c, pp->pk)) != NULL) {
			c->pub_redo_backoff =
				backoff_next(c->pub_redo_backoff, 60000);
			pub_mark(c, p, c->pub_redo_backoff);
		}
	}
	pub_pump(c);
}

/* Puts one record of p's, counted in flight before the call (the DHT may
 * answer within it); -ENOSPC when the DHT had no room. */
static int pub_one(struct chat *c, const struct peer *p, bool intro,
		   struct dht_record *rec, uint64_t now_s)
{
	struct pubput *pp = NULL;
	struct dht_lookup_cb cb;
	int r;

	for (unsigned i = 0; i < PUB_CONCURRENT && pp == NULL; i++)
		if (!c->pubs[i].busy)
			pp = &c->pubs[i];
	if (pp == NULL)
		return -ENOSPC; /* never: pub_pump keeps to PUB_CONCURRENT */
	pp->c = c;
	memcpy(pp->pk, p->pk, CHAT_PK_LEN);
	pp->busy = true;
	cb = (struct dht_lookup_cb){pub_put_done, pp};
	c->pub_inflight++;
	r = intro ? publish_intro(c, p, rec, now_s, cb)
		  : publish_pair_rec(c, p, rec, now_s, cb);
	if (r < 0) { /* no callback will come */
		c->pub_inflight--;
		pp->busy = false;
	} else
		c->st.records_put++;
	return r;
}

static void pub_pump(struct chat *c)
{
	struct dht_record *rec;
	uint64_t now_s = wall(c) / 1000;

	if (c->cfg.dht == NULL || c->pub_pumping)
		return;
	if (c->pub_next >= c->npeers) {
		c->pub_next = PUB_NONE; /* contacts added now wait for a mark */
		return;
	}
	if ((rec = malloc(sizeof *rec)) == NULL)
		return;
	c->pub_pumping = true;
	while (c->pub_next < c->npeers && c->pub_inflight + 2 <= PUB_CONCURRENT) {
		struct peer *p = &c->peers[c->pub_next++];
		int r = 0;

		if (!p->used || (c->pub_redo_pass && !p->pub_redo))
			continue;
		p->pub_redo = false;
		if (p->state == MSGSTORE_CONTACT_REQUESTED_BY_US)
			r = pub_one(c, p, true, rec, now_s);
		if (r != -ENOSPC && pair_wanted(p))
			r = pub_one(c, p, false, rec, now_s);
		if (r == -ENOSPC) { /* this contact again, in a while */
			p->pub_redo = true;
			c->pub_next--;
			c->pub_retry_ms = mono(c) + PUB_RETRY_MS;
			break;
		}
	}
	if (c->pub_next >= c->npeers)
		c->pub_next = PUB_NONE; /* contacts added now wait for a mark */
	c->pub_pumping = false;
	free(rec);
}

/* chat_tick's part: the pass over marked contacts when it is due and
 * none runs; lowers *next to when it needs the tick again. */
static void pub_redo_due(struct chat *c, uint64_t now, uint64_t *next)
{
	if (c->pub_redo_ms == 0)
		return;
	if (now >= c->pub_redo_ms) {
		if (c->pub_next < c->npeers) {
			/* a pass runs: the marks wait for its end */
			c->pub_redo_ms = now + PUB_RETRY_MS;
		} else {
			c->pub_redo_ms = 0;
			c->pub_redo_pass = true;
			c->pub_next = 0;
			c->pub_retry_ms = 0;
			pub_pump(c);
			return;
		}
	}
	if (c->pub_redo_ms < *next)
		*next = c->pub_redo_ms;
}

/* Our card and our request rendezvous. */
static void publish_own(struct chat *c)
{
	struct dht_record *rec;
	uint64_t now_s = wall(c) / 1000;
	bool changed = false, refused = false;
	int r;

	c->own_retry_ms = 0;
	if (c->cfg.dht == NULL)
		return;
	rec = malloc(sizeof *rec);
	if (rec == NULL)
		return;
	if (card_prekeys_load(&c->pre, c->cfg.store, c->cfg.id, c->cfg.rng,
			      now_s, &changed) < 0)
		log_warn("chat: prekeys unavailable");
	if (card_record_make(rec, c->cfg.id, &c->pre, c->home,
			     c->nhome, now_s) == 0 &&
	    (r = dht_put(c->cfg.dht, wall(c), rec, DHT_PUT_REPUBLISH,
			 (struct dht_lookup_cb){put_done, c})) < 0) {
		log_warn("chat: cannot publish the contact card: %s",
			 strerror(-r));
		refused = true;
	}
	/* The request rendezvous: open (our node key) while we take
	 * requests, else closed, which also replaces an open one at once.
	 * Its seq only grows, even when toggled twice in one second. */
	c->req_rv_seq = c->req_rv_seq >= now_s ? c->req_rv_seq + 1 : now_s;
	/* With home relays, strangers' requests go to our request mailbox
	 * there: nothing in the DHT then ties the account to this node. */
	if ((c->accept_requests && c->nhome == 0
		     ? card_req_rv_make(rec, c->cfg.id, c->cfg.id->node_pk,
					c->req_rv_seq)
		     : card_req_rv_close(rec, c->cfg.id, c->req_rv_seq)) == 0 &&
	    dht_put(c->cfg.dht, wall(c), rec, DHT_PUT_REPUBLISH,
		    (struct dht_lookup_cb){put_done, c}) < 0)
		refused = true;
	free(rec);
	if (refused) { /* the DHT had no room (or no memory): again soon */
		c->publish_backoff = backoff_next(c->publish_backoff, 60000);
		c->own_retry_ms = mono(c) + c->publish_backoff;
	}
}

/* Everything: ours, then each contact's records, from the first. */
static void publish(struct chat *c)
{
	if (c->cfg.dht == NULL)
		return;
	publish_own(c);
	c->pub_redo_pass = false;
	c->pub_next = 0;
	c->pub_retry_ms = 0;
	pub_pump(c);
	kick(c);
}

/* ---- relays (DESIGN.md 7, docs/PROTOCOL-relay.md) ---- */

/* Cookie of a deposit: peer slot 12 | attempt 8 | n 44 (n 0: the ctl). */
#define MASK_N ((1ull << 44) - 1)
_Static_assert(PEERS_MAX <= 1u << 12, "a peer slot fits 12 bits");

static uint64_t dep_cookie(const struct chat *c, const struct peer *p,
			   const struct outmsg *m)
{
	return ((uint64_t)(p - c->peers) << 52) | ((uint64_t)m->dep_gen << 44) |
	       (m->n & MASK_N);
}

/* Whether texts for p go to its relays: it has been offline a while and
 * its card names relays. */
static bool relay_mode(const struct chat *c, const struct peer *p,
		       uint64_t now)
{
	return c->rc != NULL && p->has_sess &&
	       p->state == MSGSTORE_CONTACT_ACCEPTED && p->nrelays > 0 &&
	       !peer_online(c, p) && p->offline_ms != 0 &&
	       now - p->offline_ms >= DEPOSIT_AFTER_MS;
}

/* A text of p's window waits for a deposit. */
static bool dep_waiting(const struct peer *p)
{
	for (unsigned i = 0; i < p->nwin; i++)
		if (p->win[i].m.dep == DEP_NONE)
			return true;
	return false;
}

static void fetch_card(struct chat *c, struct peer *p)
{
	struct lookup *lu;
	uint8_t key[DHT_ID_LEN];

	if (c->cfg.dht == NULL || p->card_busy || (lu = lookup_new(c)) == NULL)
		return;
	memcpy(lu->pk, p->pk, CHAT_PK_LEN);
	lu->stage = ST_RELAYS;
	card_key(key, p->pk);
	p->card_busy = true;
	if (dht_get(c->cfg.dht, wall(c), key, DHT_GET_FIRST,
		    (struct dht_lookup_cb){lookup_done, lu}) < 0) {
		lookup_free(lu);
		p->card_busy = false;
		p->card_next_ms = mono(c) + CARD_RETRY_MIN_MS;
		return;
	}
	c->st.lookups++;
}

static void dep_failed(struct chat *c, struct peer *p)
{
	p->dep_backoff = p->dep_backoff == 0 ? DEP_RETRY_MIN_MS
					     : p->dep_backoff * 2;
	if (p->dep_backoff > DEP_RETRY_MAX_MS)
		p->dep_backoff = DEP_RETRY_MAX_MS;
	p->dep_next_ms = mono(c) + p->dep_backoff;
	c->st.relay_deposit_failed++;
}

/* Leaves m, in parts, at up to DEP_RELAYS of p's relays, the same sealed
 * blob at each: in the pair's mailbox mbox of epoch, or (request) in p's
 * public request mailbox, sealed to its signed prekey, each part with a
 * stamp of RELAY_POW_BITS (tens of ms of hashing each: requests are
 * rare). */
static void deposit_parts(struct chat *c, struct peer *p, struct outmsg *m,
			  uint64_t epoch, const uint8_t *mbox, bool request)
{
	unsigned nr = p->nrelays < DEP_RELAYS ? p->nrelays : DEP_RELAYS;
	size_t chunk = request ? MAILBOX_REQ_CHUNK : MAILBOX_CHUNK;
	size_t count = (m->len + chunk - 1) / chunk;
	uint8_t blob[RELAY_BLOB_MAX], rid[CX_MAILBOX_ID_LEN];
	uint8_t ch[CX_POW_CHALLENGE_LEN];
	struct mailbox_part mp;
	uint64_t cookie, stamp = 0;
	size_t bl;
	int r;

	if (count == 0 || count > MAILBOX_PARTS_MAX)
		return;
	if (request) {
		cx_request_mailbox_id(rid, p->pk, epoch);
		mbox = rid;
	}
	m->dep_gen++;
	cookie = dep_cookie(c, p, m); /* n 0 for a request: the ctl */
	m->dep = DEP_BUSY;
	m->dep_bad = 0;
	m->dep_relays = (uint8_t)nr;
	for (unsigned ri = 0; ri < nr; ri++)
		m->dep_left[ri] = (uint16_t)count;
	mp.flags = m->flags;
	mp.tag = m->tag;
	mp.n = m->n;
	mp.count = (uint16_t)count;
	for (size_t i = 0; i < count; i++) {
		mp.index = (uint16_t)i;
		mp.chunk = m->buf + i * chunk;
		mp.chunk_len = i + 1 < count ? chunk : m->len - i * chunk;
		if (request) {
			r = mailbox_req_seal(blob, sizeof blob, &bl, p->spk_id,
					     p->spk, &mp, c->cfg.rng);
			if (r == 0) {
				cx_pow_challenge(ch, mbox, blob, bl);
				stamp = 0;
				r = cx_pow_solve(&stamp, ch, RELAY_POW_BITS,
						 UINT64_MAX);
			}
		} else {
			r = mailbox_seal(blob, sizeof blob, &bl, p->s.pair,
					 p->pk, epoch, &mp, c->cfg.rng);
		}
		if (r < 0) {
			m->dep_bad = (uint8_t)((1u << nr) - 1);
			break;
		}
		for (unsigned ri = 0; ri < nr; ri++) {
			const uint8_t *relay = p->relays[ri].node_pk;

			if (m->dep_bad & (1u << ri))
				continue;
			r = request ? relayc_deposit_req(c->rc, relay, mbox,
							 stamp, blob, bl,
							 cookie)
				    : relayc_deposit(c->rc, relay, mbox, blob,
						     bl, cookie);
			if (r < 0)
				m->dep_bad |= (uint8_t)(1u << ri);
		}
	}
	if (m->dep_bad == (1u << nr) - 1) {
		/* nothing went out (or what did is ignored): again later */
		m->dep = DEP_NONE;
		dep_failed(c, p);
	}
}

/* One part that carries no message (an acknowledgement, read receipts),
 * sealed into the pair's mailbox of epoch at p's relays.  Fire and
 * forget: the cookie's n is all ones, no text's, so its outcome matches
 * nothing. */
static int deposit_signal(struct chat *c, struct peer *p, uint64_t epoch,
			  const struct mailbox_part *mp)
{
	unsigned nr = p->nrelays < DEP_RELAYS ? p->nrelays : DEP_RELAYS;
	uint8_t mbox[RELAY_MAILBOX_LEN], blob[RELAY_BLOB_MAX];
	size_t bl;
	int r;

	mailbox_id(mbox, NULL, p->s.pair, p->pk, epoch);
	if ((r = mailbox_seal(blob, sizeof blob, &bl, p->s.pair, p->pk, epoch,
			      mp, c->cfg.rng)) < 0)
		return r;
	for (unsigned ri = 0; ri < nr; ri++)
		(void)relayc_deposit(c->rc, p->relays[ri].node_pk, mbox, blob,
				     bl,
				     ((uint64_t)(p - c->peers) << 52) | MASK_N);
	return 0;
}

/* What we took from the peer (through our relays, while it was offline),
 * acknowledged in its mailbox at its relays, so that its texts become
 * "delivered" without both of us online at once: one part, flags MB_ACK,
 * n = our cumulative count, sealed like a text.  Fire and forget: a lost
 * one is made good by the next, or by a link. */
static void deposit_ack(struct chat *c, struct peer *p, uint64_t epoch)
{
	struct mailbox_part mp;
	uint8_t zero = 0;

	memset(&mp, 0, sizeof mp);
	mp.flags = MB_ACK;
	rng_fill(c->cfg.rng, &mp.tag, sizeof mp.tag);
	mp.n = p->s.received;
	mp.count = 1;
	mp.chunk = &zero;
	mp.chunk_len = 1;
	if (deposit_signal(c, p, epoch, &mp) < 0)
		return;
	p->relay_acked = p->s.received;
	c->st.relay_acks_out++;
}

/* Read receipts for an offline contact, left like the acknowledgement
 * (one part per CW_READ_MAX ids, flags MB_READ); they stay queued for a
 * link too, which the contact takes as copies. */
static void deposit_reads(struct chat *c, struct peer *p, uint64_t epoch)
{
	struct mailbox_part mp;

	while (p->nrq > p->rq_relayed) {
		size_t k = p->nrq - p->rq_relayed;

		if (k > CW_READ_MAX)
			k = CW_READ_MAX;
		memset(&mp, 0, sizeof mp);
		mp.flags = MB_READ;
		rng_fill(c->cfg.rng, &mp.tag, sizeof mp.tag);
		mp.count = 1;
		mp.chunk = p->rq[p->rq_relayed];
		mp.chunk_len = k * MSGSTORE_ID_LEN;
		if (deposit_signal(c, p, epoch, &mp) < 0)
			return;
		p->rq_relayed += k;
		c->st.relay_reads_out += k;
	}
}


/* After a commit: the texts in flight to an offline contact that no relay
 * holds yet go to its relays. */
static void deposit_due(struct chat *c, struct peer *p, uint64_t now)
{
	uint8_t mbox[RELAY_MAILBOX_LEN];
	uint64_t epoch;

	if (c->rc == NULL || now < p->dep_next_ms || peer_online(c, p))
		return;
	epoch = mailbox_epoch(wall(c) / 1000);
	if (p->ctl.buf != NULL && p->ctl.dep == DEP_NONE) {
		if (ctl_wanted(p, true) && p->spk_id != 0) {
			deposit_parts(c, p, &p->ctl, epoch, NULL, true);
		} else if (ctl_wanted(p, false) && relay_mode(c, p, now)) {
			mailbox_id(mbox, NULL, p->s.pair, p->pk, epoch);
			deposit_parts(c, p, &p->ctl, epoch, mbox, false);
		}
	}
	if (relay_mode(c, p, now) && p->s.received > p->relay_acked)
		deposit_ack(c, p, epoch);
	if (relay_mode(c, p, now) && p->nrq > p->rq_relayed)
		deposit_reads(c, p, epoch);
	if (!relay_mode(c, p, now) || now < p->dep_next_ms || !dep_waiting(p))
		return;
	mailbox_id(mbox, NULL, p->s.pair, p->pk, epoch);
	for (unsigned i = 0; i < p->nwin; i++) {
		struct outmsg *m = &p->win[i].m;

		if (m->dep == DEP_NONE && m->buf != NULL && m->n > p->relay_cum)
			deposit_parts(c, p, m, epoch, mbox, false);
		if (now < p->dep_next_ms)
			break; /* failed: the rest waits too */
	}
}

static void on_deposited(void *arg, const uint8_t relay[LINK_PK_LEN],
			 uint64_t cookie, int code)
{
	struct chat *c = arg;
	uint64_t pi = cookie >> 52, n44 = cookie & MASK_N;
	uint8_t gen = (uint8_t)(cookie >> 44);
	struct outmsg *m = NULL;
	struct peer *p;
	bool done = false, pending = false;
	unsigned ri;

	if (pi >= c->npeers || !(p = &c->peers[pi])->used)
		return;
	if (n44 == 0 && p->ctl.buf != NULL && p->ctl.dep == DEP_BUSY)
		m = &p->ctl; /* a request or an acceptance */
	for (unsigned i = 0; i < p->nwin && m == NULL; i++)
		if ((p->win[i].m.n & MASK_N) == n44 &&
		    p->win[i].m.dep == DEP_BUSY)
			m = &p->win[i].m;
	if (m == NULL || m->dep_gen != gen)
		return; /* acknowledged, done, or an earlier attempt's */
	for (ri = 0; ri < m->dep_relays; ri++)
		if (memcmp(p->relays[ri].node_pk, relay, LINK_PK_LEN) == 0)
			break;
	if (ri == m->dep_relays)
		return;
	if (code != RC_OK) {
		if (!(m->dep_bad & (1u << ri)))
			log_info("chat: a relay did not take a text: %s",
				 code < 0 ? strerror(-code)
					  : relay_code_str(code));
		m->dep_bad |= (uint8_t)(1u << ri);
	} else if (m->dep_left[ri] > 0) {
		m->dep_left[ri]--;
	}
	for (unsigned i = 0; i < m->dep_relays; i++) {
		if (m->dep_bad & (1u << i))
			continue;
		if (m->dep_left[i] == 0)
			done = true;
		else
			pending = true;
	}
	if (done) {
		m->dep = DEP_DONE;
		p->dep_backoff = 0;
		if (m == &p->ctl)
			c->st.relay_ctl_deposited++;
		else
			c->st.relay_deposited++;
	} else if (!pending) {
		m->dep = DEP_NONE;
		dep_failed(c, p);
	}
	kick(c);
}

/* Cookie of a fetch: peer slot (REQ_SLOT: our request mailbox), home
 * relay, epoch back. */
#define REQ_SLOT PEERS_MAX

static void fetch_start(struct chat *c, struct peer *p, unsigned ri,
			unsigned eb)
{
	struct fetchst *f = p != NULL ? &p->fs[ri][eb] : &c->reqfs[ri][eb];
	uint64_t pi = p != NULL ? (uint64_t)(p - c->peers) : REQ_SLOT;
	uint8_t mbox[RELAY_MAILBOX_LEN], sk[CX_ED_SK_LEN];
	uint64_t cookie = (pi << 16) | (ri << 8) | eb;
	uint64_t del = f->del > f->del_sent ? f->del : 0;
	int r;

	if (f->busy)
		return;
	if (p == NULL) {
		r = relayc_fetch_req(c->rc, c->home[ri].node_pk,
				     c->cfg.id->account_pk,
				     c->cfg.id->account_sk, f->epoch, del,
				     f->after, cookie);
	} else {
		mailbox_id(mbox, sk, p->s.pair, c->cfg.id->account_pk,
			   f->epoch);
		r = relayc_fetch(c->rc, c->home[ri].node_pk, mbox, sk, del,
				 f->after, cookie);
		cx_wipe(sk, sizeof sk);
	}
	if (r < 0)
		return;
	f->busy = true;
	f->del_sent = f->del;
}

/* Asks each home relay for our request mailbox of this epoch. */
static void fetch_req_now(struct chat *c)
{
	uint64_t epoch = mailbox_epoch(wall(c) / 1000);

	for (unsigned ri = 0; ri < c->nhome; ri++) {
		struct fetchst *f = &c->reqfs[ri][0];

		if (f->busy || f->wait_commit)
			continue;
		if (f->epoch != epoch) {
			rrx_free(f->rx);
			memset(f, 0, sizeof *f);
			f->epoch = epoch;
		}
		fetch_start(c, NULL, ri, 0);
	}
}

/* A pass over f's mailbox (of epoch) of p's (NULL: our request
 * mailbox) from its start, or from where the last fetch failed in the
 * same mailbox (resume).  A pass from the start notes p's received, so
 * that fetch_settle knows whether it took anything. */
static void fetch_begin(struct fetchst *f, const struct peer *p,
			uint64_t epoch)
{
	if (f->resume && f->epoch == epoch) {
		f->resume = false;
		return;
	}
	rrx_free(f->rx);
	memset(f, 0, sizeof *f);
	f->epoch = epoch;
	f->pass_recv = p != NULL && p->has_sess ? p->s.received : 0;
}

/* p's mailboxes (NULL: our request mailbox) of this epoch and the ones
 * before, at every home relay, from the start. */
static void fetch_all(struct chat *c, struct peer *p, uint64_t epoch)
{
	for (unsigned ri = 0; ri < c->nhome; ri++)
		for (unsigned eb = 0; eb < NEPOCHS && eb <= epoch; eb++) {
			struct fetchst *f =
				p != NULL ? &p->fs[ri][eb] : &c->reqfs[ri][eb];

			if (f->busy || f->wait_commit)
				continue;
			fetch_begin(f, p, epoch - eb);
			fetch_start(c, p, ri, eb);
		}
}

/* One of p's mailboxes (epoch back eb) at home relay ri, from the start
 * (what is there was not taken). */
static void fetch_one(struct chat *c, struct peer *p, unsigned ri,
		      unsigned eb, uint64_t epoch)
{
	fetch_begin(&p->fs[ri][eb], p, epoch - eb);
	fetch_start(c, p, ri, eb);
}

/* Our mailbox with p of epoch (its ID only), from the cache. */
static void peer_mbox(struct chat *c, struct peer *p, uint64_t epoch,
		      uint8_t id[RELAY_MAILBOX_LEN])
{
	unsigned k = (unsigned)(epoch % NEPOCHS);

	if (!p->mbx[k].ok || p->mbx[k].epoch != epoch ||
	    memcmp(p->mbx[k].pair8, p->s.pair, 8) != 0) {
		mailbox_id(p->mbx[k].id, NULL, p->s.pair,
			   c->cfg.id->account_pk, epoch);
		memcpy(p->mbx[k].pair8, p->s.pair, 8);
		p->mbx[k].epoch = epoch;
		p->mbx[k].ok = true;
	}
	memcpy(id, p->mbx[k].id, RELAY_MAILBOX_LEN);
}

/* A round polls before it fetches: one POLL asks a relay which of up to
 * RW_POLL_MAX pairwise mailboxes hold anything, and only those are
 * fetched (signed, one FETCH each).  A pollb remembers whose mailbox
 * each of a POLL's answers is; its index is the POLL's cookie.  With
 * every pollb in use, a round fetches the rest directly, as before
 * polls existed. */
#define POLLB_MAX 256
struct pollb {
	bool used;
	uint8_t ri, n;
	uint64_t epoch;		    /* the round's */
	uint16_t pi[RW_POLL_MAX];   /* peer slots */
	uint8_t eb[RW_POLL_MAX];    /* epochs back */
	uint8_t pk8[RW_POLL_MAX][8]; /* the peers' keys, to see a slot reused */
};

static void pollb_end(struct chat *c, struct pollb *b)
{
	for (unsigned k = 0; k < b->n; k++) {
		struct peer *p = &c->peers[b->pi[k]];

		if (b->pi[k] < c->npeers && p->used &&
		    memcmp(p->pk, b->pk8[k], 8) == 0)
			p->fs[b->ri][b->eb[k]].polling = false;
	}
	memset(b, 0, sizeof *b);
}

static void polls_clear(struct chat *c)
{
	for (unsigned i = 0; i < POLLB_MAX && c->polls != NULL; i++)
		if (c->polls[i].used)
			pollb_end(c, &c->polls[i]);
}

static struct pollb *pollb_new(struct chat *c, unsigned ri, uint64_t epoch)
{
	if (c->polls == NULL &&
	    (c->polls = calloc(POLLB_MAX, sizeof *c->polls)) == NULL)
		return NULL;
	for (unsigned i = 0; i < POLLB_MAX; i++)
		if (!c->polls[i].used) {
			struct pollb *b = &c->polls[i];

			memset(b, 0, sizeof *b);
			b->used = true;
			b->ri = (uint8_t)ri;
			b->epoch = epoch;
			return b;
		}
	return NULL;
}

static void fetch_retry(struct chat *c);

static void pollb_send(struct chat *c, struct pollb *b, const uint8_t *mb)
{
	if (relayc_poll(c->rc, c->home[b->ri].node_pk, mb, b->n,
			(uint64_t)(b - c->polls)) < 0) {
		pollb_end(c, b);
		fetch_retry(c);
	}
}

/* Our home relay ri failed a round's request (why: the reason): once per
 * round it counts towards dropping an automatically chosen relay.  One
 * named by hand is never dropped, so the user is told, once it failed
 * HOME_WARN_FAILS rounds in a row: texts cannot reach them through it. */
#define HOME_WARN_FAILS 3
static void home_failed(struct chat *c, unsigned ri, const char *why)
{
	if (c->home_fail_round[ri] != c->round_no &&
	    c->home_fail[ri] < UINT8_MAX) {
		c->home_fail[ri]++;
		c->home_fail_round[ri] = c->round_no;
		if (!c->cfg.home_relays_auto &&
		    c->home_fail[ri] == HOME_WARN_FAILS) {
			char hex[17];

			cx_hex_encode(hex, sizeof hex, c->home[ri].node_pk, 8);
			log_warn("chat: home relay %s... failed %u rounds in "
				 "a row (%s): texts left there for you cannot "
				 "reach you; check --home-relay",
				 hex, HOME_WARN_FAILS, why);
		}
	}
}

static bool round_wants(const struct peer *p)
{
	/* accepted contacts, and those we asked (their acceptance) */
	return p->used && p->has_sess &&
	       (p->state == MSGSTORE_CONTACT_ACCEPTED ||
		p->state == MSGSTORE_CONTACT_REQUESTED_BY_US);
}

/* Asks each home relay for each contact's mailboxes of this epoch and
 * the ones before: which hold anything (POLL), then those (FETCH). */
static void fetch_round(struct chat *c)
{
	uint64_t epoch = mailbox_epoch(wall(c) / 1000);
	uint8_t mb[RW_POLL_MAX * RELAY_MAILBOX_LEN];

	c->round_no++;
	/* our request mailbox, while we take requests from strangers */
	if (c->accept_requests)
		fetch_all(c, NULL, epoch);
	for (unsigned ri = 0; ri < c->nhome; ri++) {
		struct pollb *b = NULL;

		for (unsigned i = 0; i < c->npeers; i++) {
			struct peer *p = &c->peers[i];

			if (!round_wants(p))
				continue;
			p->in_round = true;
			for (unsigned eb = 0; eb < NEPOCHS && eb <= epoch;
			     eb++) {
				struct fetchst *f = &p->fs[ri][eb];

				if (f->busy || f->wait_commit || f->polling)
					continue;
				if (b == NULL &&
				    (b = pollb_new(c, ri, epoch)) == NULL) {
					fetch_one(c, p, ri, eb, epoch);
					continue;
				}
				peer_mbox(c, p, epoch - eb,
					  mb + b->n * RELAY_MAILBOX_LEN);
				b->pi[b->n] = (uint16_t)i;
				b->eb[b->n] = (uint8_t)eb;
				memcpy(b->pk8[b->n], p->pk, 8);
				b->n++;
				f->polling = true;
				if (b->n == RW_POLL_MAX) {
					pollb_send(c, b, mb);
					b = NULL;
				}
			}
		}
		if (b != NULL)
			pollb_send(c, b, mb);
	}
}

static void hold_add(struct rrx *x, uint64_t n, uint64_t seq)
{
	for (unsigned i = 0; i < x->nhold; i++)
		if (x->hold[i].n == n) {
			if (seq < x->hold[i].seq)
				x->hold[i].seq = seq;
			return;
		}
	if (x->nhold == RRX_HOLD) {
		x->overflow = true;
		return;
	}
	x->hold[x->nhold].n = n;
	x->hold[x->nhold++].seq = seq;
}

/* A whole text n waits behind a gap: its parts need not be kept again. */
static bool held(const struct rrx *x, uint64_t n)
{
	for (unsigned i = 0; i < x->nhold; i++)
		if (x->hold[i].n == n)
			return true;
	return false;
}

static void hold_add(struct rrx *x, uint64_t n, uint64_t seq);

/* Places one part; returns the slot when its text is whole. */
static struct rslot *rrx_put(struct chat *c, struct rrx *x,
			     const struct mailbox_part *mp, uint64_t seq)
{
	struct rslot *sl = NULL, *fr = NULL;

	for (unsigned i = 0; i < RRX_SLOTS; i++) {
		struct rslot *y = &x->slot[i];

		if (y->used && y->tag == mp->tag && y->n == mp->n &&
		    y->count == mp->count)
			sl = y;
		else if (!y->used && fr == NULL)
			fr = y;
	}
	if (sl == NULL) {
		if (fr == NULL) {
			/* Too many at once: the text furthest ahead goes, or
			 * this part if its text is further still (the relay
			 * keeps the parts; a later round reads them again).
			 * The text taken next is then never the one to go,
			 * so every round makes progress.  The oldest went
			 * before: with more texts in parts than slots, their
			 * parts interleaved in the mailbox, the next text
			 * could go each round just before its last part,
			 * and a backlog of 24 texts stalled for good. */
			fr = &x->slot[0];
			for (unsigned i = 1; i < RRX_SLOTS; i++)
				if (x->slot[i].n > fr->n)
					fr = &x->slot[i];
			c->st.frames_dropped++;
			x->evicted = true;
			/* The text that goes is held back by its first item
			 * seen, like one behind a gap, so that the relay
			 * deletes none of its parts (before, a text evicted
			 * lost its hold on them, and a round deleted the
			 * parts it had read). */
			if (mp->n >= fr->n) {
				hold_add(x, mp->n, seq);
				return NULL;
			}
			hold_add(x, fr->n, fr->first_seq);
			free(fr->buf);
		}
		memset(fr, 0, sizeof *fr);
		fr->buf = malloc((size_t)mp->count * MAILBOX_CHUNK);
		if (fr->buf == NULL)
			return NULL;
		fr->used = true;
		fr->tag = mp->tag;
		fr->n = mp->n;
		fr->count = mp->count;
		fr->first_seq = seq;
		sl = fr;
	}
	if (sl->have[mp->index / 8] & (1u << (mp->index % 8)))
		return NULL; /* the same part again */
	sl->have[mp->index / 8] |= (uint8_t)(1u << (mp->index % 8));
	memcpy(sl->buf + (size_t)mp->index * MAILBOX_CHUNK, mp->chunk,
	       mp->chunk_len);
	if (mp->index + 1 == mp->count)
		sl->last_len = mp->chunk_len;
	if (seq < sl->first_seq)
		sl->first_seq = seq;
	return ++sl->got == sl->count ? sl : NULL;
}

static void fetch_settle(struct chat *c, struct fetchst *f, struct rrx *x,
			 uint64_t received, bool more);

/* What a fetch holds back, made on its first answer. */
static struct rrx *rx_of(struct fetchst *f)
{
	if (f->rx == NULL)
		f->rx = calloc(1, sizeof *f->rx);
	return f->rx;
}

/* A part taken: true with the whole message in *msg (in the part, or in
 * the slot *sl that put it together, which the caller frees), false while
 * parts are missing.  chunk: the size of every part but the last. */
static bool rrx_whole(struct chat *c, struct rrx *x,
		      const struct mailbox_part *mp, uint64_t seq, size_t chunk,
		      const uint8_t **msg, size_t *mlen, struct rslot **sl)
{
	*sl = NULL;
	if (mp->count == 1) {
		*msg = mp->chunk;
		*mlen = mp->chunk_len;
		return true;
	}
	if ((*sl = rrx_put(c, x, mp, seq)) == NULL)
		return false;
	*msg = (*sl)->buf;
	*mlen = (size_t)((*sl)->count - 1) * chunk + (*sl)->last_len;
	return true;
}

/* Takes the items of one answer: opens each part, puts texts together,
 * hands whole ones to on_text as if a link brought them.  f->del moves
 * to just before the first item of anything held back (a text still in
 * parts, a text not taken); items that do not open are not ours to keep. */
static void relay_items(struct chat *c, struct peer *p, struct fetchst *f,
			const uint8_t *fr, size_t len)
{
	struct rw_items h;
	struct mailbox_part mp;
	uint8_t pt[RELAY_BLOB_MAX];
	size_t off = RW_ITEMS_HDR, bl;
	const uint8_t *blob;
	uint64_t seq, received;
	struct rrx *x;

	if (rw_items_decode(&h, fr, len) < 0 || (x = rx_of(f)) == NULL)
		return;
	while (rw_items_next(fr, len, &off, &seq, &blob, &bl) == 1) {
		struct rslot *sl = NULL;
		const uint8_t *msg;
		size_t mlen;
		uint64_t first = seq;

		f->after = seq;
		if (mailbox_open(&mp, pt, sizeof pt, blob, bl, p->s.pair,
				 c->cfg.id->account_pk, f->epoch) < 0) {
			c->st.frames_dropped++;
			continue;
		}
		if (mp.flags == CW_DATA_CTL && mp.n == 0 && mp.count == 1) {
			/* their acceptance of our request (one part: it
			 * carries a name at most) */
			on_accept(c, p, mp.chunk, mp.chunk_len, c->rx_pt);
			rx_wipe(c);
			continue;
		}
		if (mp.flags == MB_READ && mp.count == 1 &&
		    mp.chunk_len % MSGSTORE_ID_LEN == 0 &&
		    mp.chunk_len / MSGSTORE_ID_LEN <= CW_READ_MAX) {
			/* they read these texts of ours */
			for (size_t i = 0; i < mp.chunk_len / MSGSTORE_ID_LEN;
			     i++) {
				struct pend *pd = pend_add(c, P_STATUS, p->pk);

				if (pd == NULL)
					break;
				memcpy(pd->id, mp.chunk + i * MSGSTORE_ID_LEN,
				       MSGSTORE_ID_LEN);
				pd->v = MSGSTORE_STATUS_READ;
				pd->ms = wall(c);
				c->st.relay_reads_in++;
			}
			c->need_flush = true;
			continue;
		}
		if (mp.flags == MB_ACK && mp.count == 1) {
			/* they took our texts up to n from their relays */
			if (mp.n > p->relay_cum) {
				p->relay_cum = mp.n;
				c->st.relay_acks_in++;
				c->need_flush = true;
			}
			continue;
		}
		if (mp.flags != 0 || p->state != MSGSTORE_CONTACT_ACCEPTED) {
			c->st.frames_dropped++;
			continue;
		}
		if (mp.n <= p->s.received || held(x, mp.n))
			continue; /* had it: a copy */
		if (!rrx_whole(c, x, &mp, seq, MAILBOX_CHUNK, &msg, &mlen, &sl))
			continue;
		if (sl != NULL)
			first = sl->first_seq;
		received = p->s.received;
		on_text(c, p, mp.n, msg, mlen, c->rx_pt);
		rx_wipe(c);
		if (sl != NULL) {
			free(sl->buf);
			memset(sl, 0, sizeof *sl);
		}
		c->st.relay_taken += p->s.received - received;
		if (p->s.received < mp.n)
			hold_add(x, mp.n, first);
	}
	cx_wipe(pt, sizeof pt);
	fetch_settle(c, f, x, p->s.received, (h.flags & RW_ITEMS_MORE) != 0);
}

/* After an answer: what is still held back (texts not taken, parts of
 * texts still coming) bounds what the next fetch deletes; then it goes
 * on after the commit if there is more or something to delete.  Slots
 * of texts already taken (n <= received, when received != 0) go. */
static void fetch_settle(struct chat *c, struct fetchst *f, struct rrx *x,
			 uint64_t received, bool more)
{
	uint64_t bound = UINT64_MAX;

	for (unsigned i = 0; i < x->nhold;) {
		if (x->hold[i].n <= received) {
			x->hold[i] = x->hold[--x->nhold];
			continue;
		}
		if (x->hold[i].seq < bound)
			bound = x->hold[i].seq;
		i++;
	}
	for (unsigned i = 0; i < RRX_SLOTS; i++) {
		struct rslot *sl = &x->slot[i];

		if (sl->used && received != 0 &&
		    (sl->n <= received || held(x, sl->n))) {
			free(sl->buf); /* copies of a text we have */
			memset(sl, 0, sizeof *sl);
		}
		if (sl->used && sl->first_seq < bound)
			bound = sl->first_seq;
	}
	if (!x->overflow) {
		uint64_t d = bound == UINT64_MAX ? f->after : bound - 1;

		if (d > f->after)
			d = f->after;
		if (d > f->del)
			f->del = d;
	}
	/* Texts in parts that found no slot wait in the mailbox: when this
	 * pass took something (the next text always keeps its slot), read
	 * what is left again at once rather than at the next round, minutes
	 * away (24 texts left while b was away took b 5 minutes to take). */
	if (!more && !f->again && x->evicted && received > f->pass_recv)
		f->rewind = true;
	f->more = more || f->again || f->rewind;
	f->again = false;
	if (f->more || f->del > f->del_sent) {
		f->wait_commit = true; /* asked again after the commit */
		c->need_flush = true;
	}
}

/* Items of our public request mailbox: contact requests from strangers,
 * sealed to one of our signed prekeys, in parts.  A whole one goes to
 * on_request as if a link had brought it; the account that asks is the
 * one in its X3DH header, which X3DH authenticates. */
static void request_items(struct chat *c, struct fetchst *f,
			  const uint8_t *fr, size_t len)
{
	struct rw_items h;
	struct mailbox_part mp;
	uint8_t pt[RELAY_BLOB_MAX], sk[CX_X_SK_LEN], pk[CX_X_PK_LEN];
	size_t off = RW_ITEMS_HDR, bl;
	const uint8_t *blob;
	uint64_t seq;
	uint32_t spk_id;
	struct rrx *x;

	if (rw_items_decode(&h, fr, len) < 0 || (x = rx_of(f)) == NULL)
		return;
	while (rw_items_next(fr, len, &off, &seq, &blob, &bl) == 1) {
		struct rslot *sl = NULL;
		struct cx_x3dh_init in;
		const uint8_t *msg;
		struct peer *p;
		size_t mlen;
		int r;

		f->after = seq;
		r = mailbox_req_spk_id(blob, bl, &spk_id);
		if (r == 0 &&
		    (r = card_prekeys_secret(&c->pre, spk_id, sk)) == 0) {
			cx_x25519_public(pk, sk);
			r = mailbox_req_open(&mp, pt, sizeof pt, blob, bl, sk,
					     pk);
		}
		cx_wipe(sk, sizeof sk);
		if (r < 0 || mp.flags != (CW_DATA_CTL | CW_DATA_INIT) ||
		    mp.n != 0) {
			log_debug("chat: an item of our request mailbox does "
				  "not open: %s",
				  r < 0 ? strerror(-r) : "not a request");
			c->st.frames_dropped++;
			continue;
		}
		if (!rrx_whole(c, x, &mp, seq, MAILBOX_REQ_CHUNK, &msg, &mlen,
			       &sl))
			continue;
		if (mlen >= CX_X3DH_INIT_LEN &&
		    cx_x3dh_init_parse(&in, msg, CX_X3DH_INIT_LEN) == 0 &&
		    memcmp(in.ik, c->cfg.id->account_pk, 32) != 0 &&
		    (p = peer_get(c, in.ik)) != NULL &&
		    p->state != MSGSTORE_CONTACT_BLOCKED) {
			on_request(c, NULL, p, msg, mlen, c->rx_pt);
			rx_wipe(c);
			log_debug("chat: a request from a relay: state %d",
				  p->state);
			if (p->state == 0 && !p->has_sess)
				peer_free(p); /* a failed request */
		} else {
			log_debug("chat: a request from a relay names no "
				  "account we take");
			c->st.frames_dropped++;
		}
		if (sl != NULL) {
			free(sl->buf);
			memset(sl, 0, sizeof *sl);
		}
	}
	cx_wipe(pt, sizeof pt);
	fetch_settle(c, f, x, 0, (h.flags & RW_ITEMS_MORE) != 0);
}

static void fetch_retry(struct chat *c)
{
	uint64_t at = mono(c) + (c->fetch_backoff == 0 ? FETCH_RETRY_MIN_MS
						       : c->fetch_backoff);

	if (at >= c->fetch_next_ms)
		return; /* already sooner */
	c->fetch_next_ms = at;
	c->fetch_backoff = c->fetch_backoff == 0 ? 2 * FETCH_RETRY_MIN_MS
						 : c->fetch_backoff * 2;
	if (c->fetch_backoff > FETCH_EVERY_MS)
		c->fetch_backoff = FETCH_EVERY_MS;
}

static void on_fetched(void *arg, const uint8_t relay[LINK_PK_LEN],
		       uint64_t cookie, const uint8_t *fr, size_t len, int err)
{
	struct chat *c = arg;
	uint64_t pi = cookie >> 16;
	unsigned ri = (cookie >> 8) & 0xff, eb = cookie & 0xff;
	struct rw_items h = {0};
	struct fetchst *f;
	struct peer *p;

	if ((pi >= c->npeers && pi != REQ_SLOT) ||
	    ri >= c->nhome || eb >= NEPOCHS ||
	    memcmp(c->home[ri].node_pk, relay, LINK_PK_LEN) != 0)
		return;
	p = pi == REQ_SLOT ? NULL : &c->peers[pi];
	f = p == NULL ? &c->reqfs[ri][eb] : &p->fs[ri][eb];
	if ((p != NULL && !p->used) || !f->busy)
		return; /* the peer went (its slot may be another's now) */
	f->busy = false;
	if (fr == NULL || rw_items_decode(&h, fr, len) < 0 || h.code != RC_OK) {
		const char *why =
			fr == NULL ? strerror(-err) : relay_code_str(h.code);

		log_debug("chat: a fetch from a relay failed: %s", why);
		c->st.relay_fetch_failed++;
		home_failed(c, ri, why);
		f->del_sent = 0; /* what was to be deleted: ask again */
		/* an answer holds a part or two, so a mailbox of many parts
		 * takes as many fetches: the next round goes on from here,
		 * not from the start */
		f->resume = true;
		fetch_retry(c);
		kick(c);
		return;
	}
	c->fetch_backoff = 0;
	c->home_fail[ri] = 0;
	c->st.relay_fetches++;
	if (p == NULL)
		request_items(c, f, fr, len);
	else if (p->has_sess)
		relay_items(c, p, f, fr, len);
	kick(c);
}

/* Probes of --home-relay auto's candidates (below) share the POLL
 * callback: their cookies carry PROBE_FLAG, the probe generation and the
 * candidate. */
#define PROBE_FLAG (1ull << 48)
static void probe_answer(struct chat *c, uint64_t cookie, const uint8_t *fr,
			 size_t len);

static void on_polled(void *arg, const uint8_t relay[LINK_PK_LEN],
		      uint64_t cookie, const uint8_t *fr, size_t len, int err)
{
	struct chat *c = arg;
	struct pollb *b;
	struct rw_poll_res pr = {0};
	unsigned ri;

	if (cookie & PROBE_FLAG) {
		probe_answer(c, cookie, fr, len);
		return;
	}
	if (c->polls == NULL || cookie >= POLLB_MAX || !c->polls[cookie].used)
		return;
	b = &c->polls[cookie];
	ri = b->ri;
	if (ri >= c->nhome ||
	    memcmp(c->home[ri].node_pk, relay, LINK_PK_LEN) != 0) {
		pollb_end(c, b);
		return;
	}
	if (fr == NULL || rw_poll_res_decode(&pr, fr, len) < 0 ||
	    pr.code != RC_OK || pr.n != b->n) {
		const char *why = fr == NULL ? strerror(-err)
					     : relay_code_str(pr.code);

		log_debug("chat: a poll of a relay failed: %s", why);
		c->st.relay_poll_failed++;
		home_failed(c, ri, why);
		pollb_end(c, b);
		fetch_retry(c);
		kick(c);
		return;
	}
	c->st.relay_polls++;
	c->fetch_backoff = 0;
	c->home_fail[ri] = 0;
	for (unsigned k = 0; k < b->n; k++) {
		struct peer *p = &c->peers[b->pi[k]];
		struct fetchst *f;

		if (b->pi[k] >= c->npeers || !p->used ||
		    memcmp(p->pk, b->pk8[k], 8) != 0)
			continue;
		f = &p->fs[ri][b->eb[k]];
		if (!f->polling)
			continue;
		f->polling = false;
		if (rw_poll_res_has(&pr, k) && round_wants(p))
			fetch_one(c, p, ri, b->eb[k], b->epoch);
	}
	memset(b, 0, sizeof *b);
	kick(c);
}

/* A NOTIFY from home relay ri naming one of our pairwise mailboxes: that
 * mailbox is fetched at once, alone.  False when the ID is none of ours
 * (or its fetch is under way): a round will look. */
static bool notify_fetch(struct chat *c, unsigned ri,
			 const uint8_t mailbox[RELAY_MAILBOX_LEN])
{
	uint64_t epoch = mailbox_epoch(wall(c) / 1000);
	uint8_t id[RELAY_MAILBOX_LEN];

	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (!round_wants(p))
			continue;
		for (unsigned eb = 0; eb < NEPOCHS && eb <= epoch; eb++) {
			struct fetchst *f = &p->fs[ri][eb];

			peer_mbox(c, p, epoch - eb, id);
			if (memcmp(id, mailbox, RELAY_MAILBOX_LEN) != 0)
				continue;
			if (f->polling)
				return false;
			c->st.relay_notify_fetches++;
			if (f->busy || f->wait_commit) {
				/* its answer may predate the deposit: once
				 * it is settled, ask again */
				f->again = true;
				return true;
			}
			fetch_one(c, p, ri, eb, epoch);
			return true;
		}
	}
	return false;
}

/* A home relay says something was left for us: our request mailbox of
 * this epoch is fetched at once, and so is a pairwise mailbox of ours;
 * anything else, in a fetch round soon (rounds at most every
 * NOTIFY_ROUND_MS however often we are told). */
#define NOTIFY_ROUND_MS 2000
static void on_notified(void *arg, const uint8_t relay[LINK_PK_LEN],
			const uint8_t mailbox[RELAY_MAILBOX_LEN])
{
	struct chat *c = arg;
	uint8_t rid[CX_MAILBOX_ID_LEN];
	uint64_t now = mono(c), at;
	unsigned ri;

	for (ri = 0; ri < c->nhome; ri++)
		if (memcmp(c->home[ri].node_pk, relay, LINK_PK_LEN) == 0)
			break;
	if (ri == c->nhome || !c->started)
		return;
	c->st.relay_notified++;
	cx_request_mailbox_id(rid, c->cfg.id->account_pk,
			      mailbox_epoch(wall(c) / 1000));
	if (memcmp(rid, mailbox, CX_MAILBOX_ID_LEN) == 0) {
		if (c->accept_requests)
			fetch_req_now(c);
		kick(c);
		return;
	}
	if (notify_fetch(c, ri, mailbox)) {
		kick(c);
		return;
	}
	at = c->last_round_ms + NOTIFY_ROUND_MS;
	if (at < now)
		at = now;
	if (at < c->fetch_next_ms)
		c->fetch_next_ms = at;
	kick(c);
}

/* After the flush's commit (ok) or its failure: the fetches that waited
 * for it go on (deleting what is now stored), or start over. */
static void after_commit_one(struct chat *c, struct peer *p,
			     struct fetchst *f, unsigned ri, unsigned eb,
			     bool ok)
{
	if (!f->wait_commit)
		return;
	f->wait_commit = false;
	if (!ok) {
		/* what it took is not ours after all: the mailbox again
		 * from what is left, at the next round, soon */
		f->after = f->del = f->del_sent;
		f->rewind = false;
		fetch_retry(c);
		return;
	}
	if (f->rewind) { /* a new pass over what is left */
		f->rewind = false;
		f->after = f->del;
		rrx_free(f->rx);
		f->rx = NULL;
		f->pass_recv = p != NULL && p->has_sess ? p->s.received : 0;
	}
	fetch_start(c, p, ri, eb);
}

static void relay_after_commit(struct chat *c, bool ok)
{
	if (c->rc == NULL)
		return;
	for (unsigned ri = 0; ri < c->nhome; ri++)
		for (unsigned eb = 0; eb < NEPOCHS; eb++)
			after_commit_one(c, NULL, &c->reqfs[ri][eb], ri, eb,
					 ok);
	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (!p->used)
			continue;
		for (unsigned ri = 0; ri < c->nhome; ri++)
			for (unsigned eb = 0; eb < NEPOCHS; eb++)
				after_commit_one(c, p, &p->fs[ri][eb], ri, eb,
						 ok);
	}
}

/* Relay work of chat_tick for p: its relays (the card), the deposit
 * timer.  Returns its next deadline. */
static uint64_t relay_tick_peer(struct chat *c, struct peer *p, uint64_t now)
{
	uint64_t next = UINT64_MAX, at;

	if (peer_online(c, p)) {
		p->offline_ms = 0;
		return next;
	}
	if (p->offline_ms == 0)
		p->offline_ms = now > 0 ? now : 1;
	if (c->rc == NULL || !p->has_sess ||
	    !(((p->obx_more || p->nwin > 0 ||
		p->s.received > p->relay_acked || p->nrq > p->rq_relayed) &&
	       p->state == MSGSTORE_CONTACT_ACCEPTED) ||
	      ctl_wanted(p, true) || ctl_wanted(p, false)))
		return next;
	if (!p->card_busy) {
		if (now >= p->card_next_ms)
			fetch_card(c, p);
		else
			next = p->card_next_ms;
	}
	if (p->nrelays == 0)
		return next;
	/* a request goes at once: with home relays a contact publishes no
	 * way to reach its node directly */
	at = ctl_wanted(p, true) ? 0 : p->offline_ms + DEPOSIT_AFTER_MS;
	if (p->dep_next_ms > at)
		at = p->dep_next_ms;
	if (now < at)
		return at < next ? at : next;
	if ((p->obx_more && p->nwin < WIN_MAX) || dep_waiting(p) ||
	    p->s.received > p->relay_acked || p->nrq > p->rq_relayed ||
	    ((ctl_wanted(p, true) || ctl_wanted(p, false)) &&
	     (p->ctl.buf == NULL || p->ctl.dep == DEP_NONE)))
		c->need_flush = true;
	return next;
}

/* ---- --home-relay auto ---- */

#define META_HOME "relay.home" /* count 1 | count x node key 32 */
#define AUTO_PICK 3	       /* home relays chosen */
#define AUTO_RETRY_MIN_MS 2000 /* none found: again, doubling */
#define AUTO_RETRY_MAX_MS (10 * 60000)
#define AUTO_DROP_FAILS 6 /* a chosen relay that failed so many rounds */

static int home_get_txn(struct store_txn *t, void *ctx)
{
	struct chat *c = ctx;
	uint8_t v[1 + CARD_RELAYS_MAX * 32];
	size_t len;
	int r;

	if ((r = store_get(t, STORE_TABLE_META, META_HOME,
			   sizeof META_HOME - 1, v, sizeof v, &len)) < 0)
		return r;
	if (len < 1 || v[0] > CARD_RELAYS_MAX || len != 1 + (size_t)v[0] * 32)
		return -EBADMSG;
	for (unsigned i = 0; i < v[0]; i++)
		memcpy(c->home[i].node_pk, v + 1 + i * 32, 32);
	c->nhome = v[0];
	return 0;
}

static int home_put_txn(struct store_txn *t, void *ctx)
{
	struct chat *c = ctx;
	uint8_t v[1 + CARD_RELAYS_MAX * 32];

	v[0] = (uint8_t)c->nhome;
	for (unsigned i = 0; i < c->nhome; i++)
		memcpy(v + 1 + i * 32, c->home[i].node_pk, 32);
	return store_put(t, STORE_TABLE_META, META_HOME, sizeof META_HOME - 1,
			 v, 1 + c->nhome * 32);
}

static bool is_home(const struct chat *c, const uint8_t pk[32])
{
	for (unsigned i = 0; i < c->nhome; i++)
		if (memcmp(c->home[i].node_pk, pk, 32) == 0)
			return true;
	return false;
}

/* A chosen home relay that keeps failing goes: the others take its
 * place in the tables (every fetch starts over: their indexes move), the
 * choice is kept and published, and another is looked for. */
static void home_drop(struct chat *c, unsigned ri)
{
	char hex[17];

	cx_hex_encode(hex, sizeof hex, c->home[ri].node_pk, 8);
	log_warn("chat: home relay %s... does not serve; choosing another",
		 hex);
	if (c->rc != NULL)
		relayc_unkeep(c->rc, c->home[ri].node_pk);
	for (unsigned i = ri; i + 1 < c->nhome; i++) {
		c->home[i] = c->home[i + 1];
		c->home_fail[i] = c->home_fail[i + 1];
		c->home_fail_round[i] = c->home_fail_round[i + 1];
	}
	c->nhome--;
	c->home_fail[c->nhome] = 0;
	polls_clear(c); /* their answers would land on moved indexes */
	for (unsigned i = 0; i <= c->npeers && c->peers != NULL; i++)
		for (unsigned r = 0; r < CARD_RELAYS_MAX; r++)
			for (unsigned e = 0; e < NEPOCHS; e++) {
				struct fetchst *f = i < c->npeers
							    ? &c->peers[i].fs[r][e]
							    : &c->reqfs[r][e];

				rrx_free(f->rx);
				memset(f, 0, sizeof *f);
			}
	if (store_write(c->cfg.store, home_put_txn, c) < 0)
		log_warn("chat: cannot keep the chosen home relays");
	c->publish_next_ms = 0;
	c->fetch_next_ms = 0;
	c->auto_refill = true;
	c->auto_next_ms = 0;
	c->auto_backoff = 0;
	kick(c);
}

/* Reads this hour's relay adverts (node/relay.h). */
static void auto_start(struct chat *c)
{
	uint64_t hour = wall(c) / 1000 / RELAY_ADVERT_HOUR_S;
	uint8_t key[DHT_ID_LEN];

	c->auto_busy = true;
	c->auto_hour = hour;
	c->ncand = 0;
	c->auto_pending = 1; /* while starting them */
	for (unsigned s = 0; s < RELAY_ADVERT_SLOTS; s++) {
		struct lookup *lu = lookup_new(c);

		if (lu == NULL)
			break;
		lu->stage = ST_ADVERT;
		lu->pk[0] = (uint8_t)s;
		lu->epoch = hour;
		relay_advert_key(key, s, hour);
		c->auto_pending++;
		if (dht_get(c->cfg.dht, wall(c), key, DHT_GET_FIRST,
			    (struct dht_lookup_cb){lookup_done, lu}) < 0) {
			lookup_free(lu);
			c->auto_pending--;
		}
	}
	advert_done(c, NULL, NULL); /* the starting share */
	kick(c);
}

static void probe_start(struct chat *c);
static void auto_choose(struct chat *c);

/* One slot answered (lu NULL: the start is over).  When all have, the
 * relays found are probed (probe_start), then up to AUTO_PICK of those
 * that answered chosen (auto_choose). */
static void advert_done(struct chat *c, const struct lookup *lu,
			const struct dht_result *res)
{
	uint8_t pk[32];
	unsigned i;

	if (lu != NULL && res->status == 0 && res->record != NULL &&
	    relay_advert_parse(pk, res->record, lu->pk[0], lu->epoch) == 0 &&
	    memcmp(pk, c->cfg.id->node_pk, 32) != 0 && !is_home(c, pk)) {
		for (i = 0; i < c->ncand; i++)
			if (memcmp(c->cand[i], pk, 32) == 0)
				break;
		if (i == c->ncand && c->ncand < RELAY_ADVERT_SLOTS)
			memcpy(c->cand[c->ncand++], pk, 32);
	}
	if (--c->auto_pending > 0)
		return;
	c->auto_busy = false;
	/* fewer than AUTO_PICK so far: look again later, backing off */
	c->auto_backoff = c->auto_backoff == 0 ? AUTO_RETRY_MIN_MS
					       : c->auto_backoff * 2;
	if (c->auto_backoff > AUTO_RETRY_MAX_MS)
		c->auto_backoff = AUTO_RETRY_MAX_MS;
	c->auto_next_ms = mono(c) + c->auto_backoff;
	if (c->ncand == 0) {
		c->auto_refill = c->nhome > 0;
		return;
	}
	probe_start(c);
}

/* An advert proves nothing: before choosing, each candidate gets a POLL
 * of a random mailbox ID (which it holds nothing for), and only those
 * that answer "ok" may be chosen.  One that is down, unreachable or not
 * a relay (any more) fails within relayc's timeouts (about 15 s). */
static void probe_start(struct chat *c)
{
	uint8_t mb[RELAY_MAILBOX_LEN];

	c->auto_busy = true;
	c->probe_gen++;
	c->probe_pending = 1; /* while starting them */
	for (unsigned i = 0; i < c->ncand; i++) {
		uint64_t cookie = PROBE_FLAG |
				  (uint64_t)(c->probe_gen & 0xffffff) << 8 | i;

		c->cand_ok[i] = false;
		rng_fill(c->cfg.rng, mb, sizeof mb);
		if (c->rc != NULL &&
		    relayc_poll(c->rc, c->cand[i], mb, 1, cookie) == 0)
			c->probe_pending++;
	}
	probe_answer(c, 0, NULL, 0); /* the starting share */
}

static void probe_answer(struct chat *c, uint64_t cookie, const uint8_t *fr,
			 size_t len)
{
	struct rw_poll_res pr;
	unsigned i = cookie & 0xff, k = 0;

	if (cookie != 0) {
		if (!c->auto_busy || c->probe_pending == 0 ||
		    ((cookie >> 8) & 0xffffff) != (c->probe_gen & 0xffffff) ||
		    i >= c->ncand)
			return; /* an earlier probe's */
		c->cand_ok[i] = fr != NULL &&
				rw_poll_res_decode(&pr, fr, len) == 0 &&
				pr.code == RC_OK;
	}
	if (--c->probe_pending > 0)
		return;
	c->auto_busy = false;
	for (i = 0; i < c->ncand; i++) /* only those that answered */
		if (c->cand_ok[i])
			memcpy(c->cand[k++], c->cand[i], 32);
	if (k < c->ncand)
		log_info("chat: %u of %u advertised relays did not answer",
			 c->ncand - k, c->ncand);
	c->st.relay_probes_failed += c->ncand - k;
	c->ncand = k;
	if (c->ncand == 0) {
		c->auto_refill = c->nhome > 0;
		return;
	}
	auto_choose(c);
}

/* Picks up to AUTO_PICK of the candidates, at random, keeps them in META
 * and publishes them in the card. */
static void auto_choose(struct chat *c)
{
	unsigned i;

	while (c->nhome < AUTO_PICK && c->ncand > 0) {
		uint32_t k;

		rng_fill(c->cfg.rng, &k, sizeof k);
		k %= c->ncand;
		memcpy(c->home[c->nhome++].node_pk, c->cand[k], 32);
		memcpy(c->cand[k], c->cand[--c->ncand], 32);
	}
	c->auto_refill = c->nhome < AUTO_PICK;
	if (store_write(c->cfg.store, home_put_txn, c) < 0)
		log_warn("chat: cannot keep the chosen home relays");
	log_info("chat: chose %u home relays from the DHT's adverts", c->nhome);
	for (i = 0; c->rc != NULL && i < c->nhome; i++)
		(void)relayc_keep(c->rc, c->home[i].node_pk);
	c->fetch_next_ms = 0;
	c->publish_next_ms = 0; /* the card names them */
	kick(c);
}

static int load_contacts(struct chat *c)
{
	struct msgstore_contact *list = malloc(64 * sizeof *list);
	uint8_t after[CHAT_PK_LEN];
	bool first = true;
	size_t n;
	int r;

	if (list == NULL)
		return -ENOMEM;
	do {
		r = msgstore_contact_list(c->cfg.msgs, first ? NULL : after,
					  list, 64, &n);
		if (r < 0)
			break;
		for (size_t i = 0; i < n; i++)
			if (list[i].state == MSGSTORE_CONTACT_ACCEPTED ||
			    list[i].state == MSGSTORE_CONTACT_REQUESTED_BY_US)
				peer_get(c, list[i].pk);
		if (n > 0)
			memcpy(after, list[n - 1].pk, CHAT_PK_LEN);
		first = false;
	} while (n == 64);
	free(list);
	return r;
}

void chat_start(struct chat *c)
{
	c->started = true;
	load_contacts(c);
	c->publish_next_ms = mono(c) + PUBLISH_EVERY_MS;
	publish(c);
	for (unsigned i = 0; i < c->npeers; i++)
		if (c->peers[i].used)
			c->peers[i].locate_next_ms = 0;
	/* home relays stay linked: their NOTIFYs reach us at once (last:
	 * relayc_keep kicks, and the tick that follows fetches) */
	for (unsigned i = 0; c->rc != NULL && i < c->nhome; i++)
		(void)relayc_keep(c->rc, c->home[i].node_pk);
	kick(c);
}

/* The DHT has contacts (else a relay's address cannot be found yet). */
static bool dht_joined(const struct chat *c)
{
	struct dht_status ds;

	if (c->cfg.dht == NULL)
		return true;
	dht_status(c->cfg.dht, &ds);
	return ds.contacts > 0;
}

uint64_t chat_tick(struct chat *c)
{
	uint64_t now = mono(c), next = UINT64_MAX;

	if (c->started && c->retry_when_joined && c->cfg.dht != NULL) {
		struct dht_status ds;

		dht_status(c->cfg.dht, &ds);
		if (ds.contacts > 0) { /* what failed then goes again now */
			c->retry_when_joined = false;
			if (c->own_retry_ms != 0)
				c->own_retry_ms = now;
			if (c->pub_redo_ms != 0)
				c->pub_redo_ms = now;
		}
	}
	if (c->started && now >= c->publish_next_ms) {
		c->publish_next_ms = now + PUBLISH_EVERY_MS;
		publish(c);
	}
	if (c->started && c->publish_next_ms < next)
		next = c->publish_next_ms;
	/* a publish's records the DHT had no room for */
	if (c->pub_next < c->npeers && c->pub_inflight == 0 &&
	    c->pub_retry_ms != 0) {
		if (now >= c->pub_retry_ms) {
			c->pub_retry_ms = 0;
			pub_pump(c);
		}
		if (c->pub_retry_ms != 0 && c->pub_retry_ms < next)
			next = c->pub_retry_ms;
	}
	if (c->started)
		pub_redo_due(c, now, &next);
	if (c->reflush_ms != 0) {
		if (now >= c->reflush_ms) {
			c->reflush_ms = 0;
			c->need_flush = true;
			kick(c);
		} else if (c->reflush_ms < next) {
			next = c->reflush_ms;
		}
	}
	if (c->commit_recovered) {
		commit_told(c, now);
		if (c->commit_recovered &&
		    c->commit_warn_ms + COMMIT_WARN_MS < next)
			next = c->commit_warn_ms + COMMIT_WARN_MS;
	}
	if (c->started && c->own_retry_ms != 0) {
		if (now >= c->own_retry_ms)
			publish_own(c);
		else if (c->own_retry_ms < next)
			next = c->own_retry_ms;
	}
	for (unsigned i = 0; i < LKS_MAX; i++) {
		struct lk *l = &c->lks[i];

		if (!l->used || !l->up)
			continue;
		if (!l->hello_acked || !l->hello_in) {
			if (now >= l->hello_next_ms)
				hello_send(c, l);
			if (l->hello_next_ms < next)
				next = l->hello_next_ms;
		}
	}
	for (unsigned ri = 0; c->cfg.home_relays_auto && ri < c->nhome; ri++)
		if (c->home_fail[ri] >= AUTO_DROP_FAILS) {
			home_drop(c, ri);
			break;
		}
	if (c->started && c->cfg.home_relays_auto &&
	    (c->nhome == 0 || (c->auto_refill && c->nhome < AUTO_PICK)) &&
	    !c->auto_busy && c->cfg.dht != NULL && dht_joined(c)) {
		if (now >= c->auto_next_ms)
			auto_start(c);
		else if (c->auto_next_ms < next)
			next = c->auto_next_ms;
	}
	if (c->rc != NULL) {
		uint64_t t = relayc_tick(c->rc);

		if (t < next)
			next = t;
		if (c->started && c->nhome > 0) {
			/* a round due while our DHT has no contact waits for
			 * one, looking again after FETCH_JOIN_WAIT_MS, doubling
			 * to a minute (an offline machine stays quiet):
			 * nothing else need wake us when the DHT joins again */
			if (now >= c->fetch_next_ms && !dht_joined(c)) {
				c->join_wait_ms = c->join_wait_ms == 0
							  ? FETCH_JOIN_WAIT_MS
							  : 2 * c->join_wait_ms;
				if (c->join_wait_ms > FETCH_JOIN_WAIT_MAX_MS)
					c->join_wait_ms = FETCH_JOIN_WAIT_MAX_MS;
				c->fetch_next_ms = now + c->join_wait_ms;
			} else if (now >= c->fetch_next_ms) {
				c->join_wait_ms = 0;
				c->fetch_next_ms = now + FETCH_EVERY_MS;
				c->last_round_ms = now;
				fetch_round(c);
			}
			if (c->fetch_next_ms < next)
				next = c->fetch_next_ms;
		}
	}
	for (unsigned i = 0; i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (!p->used)
			continue;
		if (c->started) {
			uint64_t t = relay_tick_peer(c, p, now);

			if (t < next)
				next = t;
		}
		if (c->started && c->nhome > 0 && c->rc != NULL &&
		    !p->in_round && round_wants(p) &&
		    c->fetch_next_ms > now + NEW_ROUND_MS && c->join_wait_ms == 0) {
			/* a new contact: its mailboxes are asked for (and so
			 * watched: NOTIFY) soon, not at the next round */
			c->fetch_next_ms = now + NEW_ROUND_MS;
			if (c->fetch_next_ms < next)
				next = c->fetch_next_ms;
		}
		/* accepted contacts first; the others after the loop */
		if (c->started && !peer_online(c, p) && has_work(p) &&
		    p->state == MSGSTORE_CONTACT_ACCEPTED)
			locate_due(c, p, now, &next);
		if (!peer_online(c, p)) {
			peer_trim(p);
			continue;
		}
		if (p->lack_ms != 0) {
			uint64_t t = ack_check(c, p, now);

			if (t < next)
				next = t;
		}
		if (p->nwin > 0 && p->retx_ms != 0) {
			if (now >= p->retx_ms)
				send_due(c, p, now);
			if (p->retx_ms != 0 && p->retx_ms < next)
				next = p->retx_ms;
		}
		if (p->ctl.buf != NULL) {
			if (now >= p->ctl_next_ms)
				send_due(c, p, now);
			if (p->ctl_next_ms < next)
				next = p->ctl_next_ms;
		}
		if (p->nrq > 0) {
			if (now >= p->rq_next_ms)
				send_reads(c, p, now);
			if (p->rq_next_ms < next)
				next = p->rq_next_ms;
		}
		if (p->ack_due && p->ack_at != 0) {
			ack_maybe(c, p, now, false);
			if (p->ack_due && p->ack_at < next)
				next = p->ack_at;
		}
	}
	for (unsigned i = 0; c->started && i < c->npeers; i++) {
		struct peer *p = &c->peers[i];

		if (p->used && p->state != MSGSTORE_CONTACT_ACCEPTED &&
		    !peer_online(c, p) && has_work(p))
			locate_due(c, p, now, &next);
	}
	return next;
}

void chat_goodbye(struct chat *c)
{
	uint8_t f = CF_BYE;

	for (unsigned i = 0; i < c->npeers; i++)
		if (c->peers[i].used && peer_online(c, &c->peers[i]))
			send_frame(c, &c->peers[i], &f, 1);
}

/* ---- API operations ---- */

static int check_pk(const struct chat *c, const uint8_t pk[CHAT_PK_LEN])
{
	if (memcmp(pk, c->cfg.id->account_pk, CHAT_PK_LEN) == 0)
		return -EINVAL;
	return 0;
}

static void peer_refresh(struct chat *c, struct peer *p)
{
	p->state = contact_state(c, p->pk);
	p->locate_next_ms = 0;
	p->locate_backoff = LOCATE_MIN_MS;
}

struct del_ctx {
	const uint8_t *pk;
};

static int del_sess_txn(struct store_txn *t, void *ctx)
{
	struct del_ctx *d = ctx;
	int r = store_del(t, STORE_TABLE_SESSIONS, d->pk, CHAT_PK_LEN);

	return r == -ENOENT ? 0 : r;
}

int chat_contact_add(struct chat *c, const uint8_t pk[static CHAT_PK_LEN],
		     const char *name, const char *greeting)
{
	struct msgstore_contact mc;
	struct peer *p;
	int r;

	if ((r = check_pk(c, pk)) < 0)
		return r;
	r = msgstore_contact_get(c->cfg.msgs, pk, &mc);
	if (r == 0) {
		if (mc.state == MSGSTORE_CONTACT_REQUESTED_BY_THEM)
			return chat_contact_accept(c, pk);
		if (mc.state != MSGSTORE_CONTACT_REJECTED)
			return -EEXIST;
		/* asking again someone we had turned down */
		if (greeting != NULL &&
		    (r = msgstore_contact_set_greeting(c->cfg.msgs, pk,
						       greeting, wall(c))) < 0)
			return r;
		r = msgstore_contact_set_state(
			c->cfg.msgs, pk, MSGSTORE_CONTACT_REQUESTED_BY_US,
			wall(c));
		if (r < 0)
			return r;
		{
			struct del_ctx d = {pk};

			if ((r = store_write(c->cfg.store, del_sess_txn,
					     &d)) < 0)
				return r;
		}
		if ((p = peer_find(c, pk)) != NULL)
			sess_drop(p);
	} else if (r != -ENOENT) {
		return r;
	} else {
		memset(&mc, 0, sizeof mc);
		memcpy(mc.pk, pk, CHAT_PK_LEN);
		mc.state = MSGSTORE_CONTACT_REQUESTED_BY_US;
		snprintf(mc.name, sizeof mc.name, "%s", name ? name : "");
		snprintf(mc.greeting, sizeof mc.greeting, "%s",
			 greeting ? greeting : "");
		if ((r = msgstore_contact_add(c->cfg.msgs, &mc, wall(c))) < 0)
			return r;
	}
	p = peer_get(c, pk);
	if (p == NULL)
		return -ENOSPC;
	peer_refresh(c, p);
	if (p->has_sess && (p->s.flags & CW_SESS_INITIATOR) == 0)
		sess_drop(p); /* start our own session */
	if (c->cfg.dht != NULL)
		pub_mark(c, p, 0); /* our intro rendezvous for them */
	locate(c, p);
	kick(c);
	return 0;
}

int chat_contact_accept(struct chat *c, const uint8_t pk[static CHAT_PK_LEN])
{
	struct peer *p;
	int r;

	if ((r = check_pk(c, pk)) < 0)
		return r;
	p = peer_get(c, pk);
	if (p == NULL)
		return -ENOSPC;
	if (p->state == 0)
		return -ENOENT;
	if (p->state == MSGSTORE_CONTACT_ACCEPTED)
		return 0;
	if (p->state != MSGSTORE_CONTACT_REQUESTED_BY_THEM || !p->has_sess)
		return -EPERM;
	r = msgstore_contact_set_state(c->cfg.msgs, pk,
				       MSGSTORE_CONTACT_ACCEPTED, wall(c));
	if (r < 0)
		return r;
	peer_refresh(c, p);
	p->s.flags &= (uint8_t)~CW_SESS_ACC_ACKED;
	p->sess_dirty = true;
	presence_event(c, p, peer_online(c, p));
	kick(c);
	return 0;
}

static int set_state(struct chat *c, const uint8_t *pk, int state)
{
	int r = msgstore_contact_set_state(
		c->cfg.msgs, pk, (enum msgstore_contact_state)state, wall(c));
	struct peer *p;

	if (r < 0)
		return r;
	if ((p = peer_get(c, pk)) != NULL)
		peer_refresh(c, p);
	return 0;
}

int chat_contact_reject(struct chat *c, const uint8_t pk[static CHAT_PK_LEN])
{
	int r, st;

	if ((r = check_pk(c, pk)) < 0)
		return r;
	st = contact_state(c, pk);
	if (st != MSGSTORE_CONTACT_REQUESTED_BY_THEM)
		return st == 0 ? -ENOENT : -EPERM;
	/* the session stays, so copies of the request are recognised and
	 * acknowledged without a word */
	return set_state(c, pk, MSGSTORE_CONTACT_REJECTED);
}

int chat_contact_remove(struct chat *c, const uint8_t pk[static CHAT_PK_LEN])
{
	struct del_ctx d = {pk};
	struct peer *p;
	int r;

	if ((r = check_pk(c, pk)) < 0)
		return r;
	if ((r = msgstore_contact_remove(c->cfg.msgs, pk)) < 0)
		return r;
	if ((r = store_write(c->cfg.store, del_sess_txn, &d)) < 0)
		return r;
	if ((p = peer_find(c, pk)) != NULL)
		peer_free(p);
	return 0;
}

int chat_contact_block(struct chat *c, const uint8_t pk[static CHAT_PK_LEN],
		       bool block)
{
	struct peer *p;
	int r, st;

	if ((r = check_pk(c, pk)) < 0)
		return r;
	st = contact_state(c, pk);
	if (block) {
		if (st == 0) {
			/* block someone who is not a contact yet */
			struct msgstore_contact mc;

			memset(&mc, 0, sizeof mc);
			memcpy(mc.pk, pk, CHAT_PK_LEN);
			mc.state = MSGSTORE_CONTACT_BLOCKED;
			r = msgstore_contact_add(c->cfg.msgs, &mc, wall(c));
			if (r < 0)
				return r;
		} else if ((r = set_state(c, pk, MSGSTORE_CONTACT_BLOCKED)) <
			   0) {
			return r;
		}
		if ((p = peer_get(c, pk)) != NULL) {
			peer_refresh(c, p);
			presence_event(c, p, false);
			p->lki = -1;
		}
		return 0;
	}
	if (st != MSGSTORE_CONTACT_BLOCKED)
		return st == 0 ? -ENOENT : -EPERM;
	p = peer_get(c, pk);
	/* back to a contact if a session was ever made, else turned down */
	r = set_state(c, pk,
		      p != NULL && p->has_sess ? MSGSTORE_CONTACT_ACCEPTED
					       : MSGSTORE_CONTACT_REJECTED);
	if (r == 0 && p != NULL) {
		/* a link the contact already has counts again */
		for (unsigned j = 0; j < LKS_MAX; j++)
			if (c->lks[j].used && c->lks[j].up &&
			    c->lks[j].hello_in &&
			    memcmp(c->lks[j].account, pk, CHAT_PK_LEN) == 0)
				p->lki = (int)j;
		presence_event(c, p, peer_online(c, p));
	}
	kick(c);
	return r;
}

/* Who may be written to: not oneself, a contact, not blocked or turned
 * down. */
static int send_check(struct chat *c, const uint8_t to[CHAT_PK_LEN])
{
	int st, r;

	if ((r = check_pk(c, to)) < 0)
		return r;
	st = contact_state(c, to);
	if (st == 0)
		return -ENOENT;
	if (st == MSGSTORE_CONTACT_BLOCKED || st == MSGSTORE_CONTACT_REJECTED)
		return -EPERM;
	return 0;
}

int chat_send(struct chat *c, const uint8_t to[static CHAT_PK_LEN],
	      const uint8_t *body, size_t len, const uint8_t *reply_to,
	      uint8_t id_out[static CHAT_ID_LEN])
{
	struct peer *p;
	int r;

	if ((r = send_check(c, to)) < 0)
		return r;
	r = msgstore_send(c->cfg.msgs, to, body, len, reply_to, wall(c),
			  id_out, NULL);
	if (r < 0)
		return r;
	if ((p = peer_get(c, to)) != NULL && !peer_online(c, p))
		locate(c, p);
	kick(c);
	return 0;
}

int chat_send_async(struct chat *c, const uint8_t to[static CHAT_PK_LEN],
		    const uint8_t *body, size_t len, const uint8_t *reply_to,
		    chat_send_cb cb, void *arg)
{
	struct peer *p;
	struct pend *pd;
	int r;

	if ((r = send_check(c, to)) < 0)
		return r;
	if (len > MSGSTORE_BODY_MAX || !msgstore__utf8_valid(body, len, false))
		return -EINVAL;
	if ((p = peer_get(c, to)) == NULL)
		return -ENOSPC;
	if ((pd = pend_add(c, P_SEND, to)) == NULL)
		return -EAGAIN; /* the flush is behind: try again */
	if ((pd->body = malloc(len + 1)) == NULL) {
		c->npend--;
		return -ENOMEM;
	}
	memcpy(pd->body, body, len);
	pd->body[len] = '\0';
	pd->len = len;
	pd->ms = wall(c);
	pd->v = MSGSTORE_STATUS_QUEUED;
	pd->has_reply = reply_to != NULL;
	if (reply_to != NULL)
		memcpy(pd->reply_to, reply_to, MSGSTORE_ID_LEN);
	msgstore_new_id(c->cfg.rng, pd->ms, pd->id);
	pd->cb = cb;
	pd->cb_arg = arg;
	p->obx_more = true;
	if (!peer_online(c, p))
		locate(c, p);
	kick(c);
	return 0;
}

int chat_mark_read(struct chat *c, const uint8_t with[static CHAT_PK_LEN],
		   const uint8_t *up_to, size_t *marked)
{
	struct msgstore_msg last;
	uint8_t *ids = NULL, uid[CHAT_ID_LEN];
	size_t n = 0, got = 0;
	bool on = true;
	struct peer *p;
	int r;

	*marked = 0;
	if (contact_state(c, with) == 0)
		return -ENOENT;
	if (up_to == NULL) {
		memset(&last, 0, sizeof last);
		r = msgstore_list(c->cfg.msgs, with, NULL, 1, &last, &got);
		if (r < 0)
			return r;
		if (got == 0)
			return 0;
		memcpy(uid, last.id, CHAT_ID_LEN);
		msgstore_msg_clear(&last);
		up_to = uid;
	}
	r = msgstore_mark_read(c->cfg.msgs, with, up_to, wall(c), &ids, &n);
	if (r < 0)
		return r;
	*marked = n;
	if (n > 0 && msgstore_receipts_for(c->cfg.msgs, with, &on) == 0 &&
	    on && (p = peer_get(c, with)) != NULL) {
		size_t room = READQ_MAX - p->nrq;
		size_t k = n < room ? n : room;
		uint8_t(*nq)[MSGSTORE_ID_LEN];

		nq = realloc(p->rq, (p->nrq + k + 1) * MSGSTORE_ID_LEN);
		if (nq != NULL) {
			p->rq = nq;
			memcpy(p->rq + p->nrq, ids, k * MSGSTORE_ID_LEN);
			p->nrq += k;
			/* kept in the session record from this turn's commit
			 * until the peer acknowledges them */
			if (p->has_sess) {
				p->sess_dirty = true;
				c->need_flush = true;
			}
			send_reads(c, p, mono(c));
		}
	}
	free(ids);
	kick(c);
	return 0;
}

int chat_typing(struct chat *c, const uint8_t to[static CHAT_PK_LEN],
		bool typing)
{
	struct peer *p = peer_find(c, to);
	uint8_t f[2] = {CF_TYPING, typing ? 1 : 0};

	if (contact_state(c, to) != MSGSTORE_CONTACT_ACCEPTED)
		return contact_state(c, to) == 0 ? -ENOENT : -EPERM;
	if (p == NULL || !peer_online(c, p))
		return -ENOTCONN;
	return send_frame(c, p, f, sizeof f);
}

bool chat_online(const struct chat *c, const uint8_t pk[static CHAT_PK_LEN])
{
	const struct peer *p = peer_find(c, pk);

	return p != NULL && p->state == MSGSTORE_CONTACT_ACCEPTED &&
	       peer_online(c, p);
}

static int meta_get_bool(struct store_txn *t, void *ctx)
{
	bool *b = ctx;
	uint8_t v = 1;
	size_t len = 0;
	int r = store_get(t, STORE_TABLE_META, META_ACCEPT_REQ,
			  sizeof META_ACCEPT_REQ - 1, &v, 1, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	*b = len == 1 && v != 0;
	return 0;
}

static int meta_set_bool(struct store_txn *t, void *ctx)
{
	uint8_t v = *(bool *)ctx ? 1 : 0;

	return store_put(t, STORE_TABLE_META, META_ACCEPT_REQ,
			 sizeof META_ACCEPT_REQ - 1, &v, 1);
}

void chat_settings_get(const struct chat *c, struct chat_settings *s)
{
	s->read_receipts = c->read_receipts;
	s->accept_requests = c->accept_requests;
}

int chat_settings_set(struct chat *c, const struct chat_settings *s)
{
	bool ar = s->accept_requests;
	int r;

	if ((r = msgstore_receipts_default_set(c->cfg.msgs,
					       s->read_receipts)) < 0)
		return r;
	c->read_receipts = s->read_receipts;
	if (ar != c->accept_requests) {
		if ((r = store_write(c->cfg.store, meta_set_bool, &ar)) < 0)
			return r;
		c->accept_requests = ar;
		if (c->started)
			publish(c); /* open or close it now */
	}
	return 0;
}

unsigned chat_home_relays(const struct chat *c, uint8_t (*out)[32],
			  unsigned max)
{
	unsigned n = c->nhome < max ? c->nhome : max;

	for (unsigned i = 0; i < n; i++)
		memcpy(out[i], c->home[i].node_pk, 32);
	return n;
}

void chat_status(const struct chat *c, struct chat_status *st)
{
	*st = c->st;
	st->peers = 0;
	st->peers_online = 0;
	for (unsigned i = 0; i < c->npeers; i++) {
		st->peers += c->peers[i].used;
		if (c->peers[i].used && peer_online(c, &c->peers[i]))
			st->peers_online++;
	}
}

int chat_new(struct chat **out, const struct chat_config *cfg)
{
	struct chat *c;
	bool ar = true;
	int r;

	*out = NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return -ENOMEM;
	c->cfg = *cfg;
	c->pub_next = PUB_NONE;
	c->peers = calloc(PEERS_MAX, sizeof *c->peers);
	c->pidx = calloc(2 * PEERS_MAX, sizeof *c->pidx);
	c->sess_key = cx_secret_alloc(CX_KEY_LEN);
	c->rx_pt = malloc(CW_MSG_MAX);
	rng_fill(cfg->rng, c->pidx_key, sizeof c->pidx_key);
	if (c->peers == NULL || c->pidx == NULL || c->sess_key == NULL ||
	    c->rx_pt == NULL ||
	    (r = cx_drbg_new(&c->drbg, cfg->rng)) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = cx_store_subkey(c->sess_key, cfg->id, 1, SESS_CTX)) < 0)
		goto fail;
	if ((r = store_read(cfg->store, meta_get_bool, &ar)) < 0)
		goto fail;
	c->accept_requests = ar;
	if ((r = msgstore_receipts_default_get(cfg->msgs,
					       &c->read_receipts)) < 0)
		goto fail;
	if ((r = card_prekeys_load(&c->pre, cfg->store, cfg->id, cfg->rng,
				   wall(c) / 1000, NULL)) < 0)
		goto fail;
	if (cfg->num_home_relays > CARD_RELAYS_MAX ||
	    (cfg->num_home_relays > 0 && cfg->home_relays == NULL)) {
		r = -EINVAL;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->num_home_relays; i++)
		memcpy(c->home[i].node_pk, cfg->home_relays[i], CX_X_PK_LEN);
	c->nhome = cfg->num_home_relays;
	if (cfg->home_relays_auto && c->nhome == 0 &&
	    (r = store_read(cfg->store, home_get_txn, c)) < 0 && r != -ENOENT)
		goto fail;
	if (cfg->links != NULL) {
		struct relayc_config rcc;

		memset(&rcc, 0, sizeof rcc);
		rcc.clock = cfg->clock;
		rcc.rng = cfg->rng;
		rcc.links = cfg->links;
		rcc.dht = cfg->dht;
		rcc.cb = (struct relayc_callbacks){on_deposited, on_fetched,
						   on_polled, on_notified, c};
		rcc.kick = cfg->kick;
		rcc.self = cfg->self;
		if ((r = relayc_new(&c->rc, &rcc)) < 0)
			goto fail;
	}
	*out = c;
	return 0;
fail:
	chat_free(c);
	return r;
}

void chat_free(struct chat *c)
{
	if (c == NULL)
		return;
	if (c->peers != NULL) {
		for (unsigned i = 0; i < c->npeers; i++)
			if (c->peers[i].used)
				peer_free(&c->peers[i]);
		free(c->peers);
	}
	free(c->pidx);
	for (unsigned i = 0; i < LKS_MAX; i++)
		if (c->lks[i].used)
			lk_free(c, &c->lks[i]);
	pend_clear(c);
	free(c->pend);
	while (c->lookups != NULL)
		lookup_free(c->lookups);
	relayc_free(c->rc);
	free(c->polls);
	for (unsigned i = 0; i < CARD_RELAYS_MAX; i++)
		for (unsigned j = 0; j < NEPOCHS; j++)
			rrx_free(c->reqfs[i][j].rx);
	card_prekeys_clear(&c->pre);
	cx_secret_free(c->sess_key);
	cx_secret_free(c->scratch);
	free(c->rx_pt);
	cx_drbg_free(c->drbg);
	free(c);
}
