/* LAN discovery over IPv4 multicast (see sys_lan.h).
 *
 * Announce datagram, 42 bytes:
 *   "PLAN" (4) | version 1 (1) | flags 0 (1) | DHT port (2, big endian) |
 *   node public key (32) | reserved 0 (2)
 * Nothing in it is trusted: a node heard is only used as a bootstrap
 * address with its key, so the DHT's own authenticated exchange decides
 * whether it is real.  Joins through one source address are rate limited
 * (one per LAN_ANNOUNCE_MS) so a flood of announces cannot make us send a
 * flood of requests. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "dht/dht.h"
#include "node/log.h"
#include "node/sys_lan.h"
#include "node/sys_udp.h"

#define LAN_MSG_LEN 42
#define LAN_SEEN_MAX 32 /* sources remembered for the rate limit */

struct lan_seen {
	uint8_t ip[4];
	uint64_t at_ms;
};

struct sys_lan {
	uv_udp_t udp;
	uv_timer_t timer;
	struct node *node;
	uint8_t msg[LAN_MSG_LEN];
	struct lan_seen seen[LAN_SEEN_MAX];
	unsigned next_seen;
	int open_handles;
	char buf[512];
};

static uint64_t now_ms(const struct sys_lan *l)
{
	const struct clock *c = l->node->env->clock;

	return c->wall_ms(c->self);
}

static void announce(struct sys_lan *l)
{
	struct sockaddr_in sa;
	uv_buf_t b = uv_buf_init((char *)l->msg, LAN_MSG_LEN);
	int r;

	uv_ip4_addr(LAN_GROUP, LAN_PORT, &sa);
	r = uv_udp_try_send(&l->udp, &b, 1, (const struct sockaddr *)&sa);
	if (r < 0)
		log_debug("lan: announce: %s", uv_strerror(r));
}

static void timer_cb(uv_timer_t *t)
{
	announce(t->data);
}

/* True when src may be used now (and remembers it). */
static bool rate_ok(struct sys_lan *l, const uint8_t ip[4], uint64_t now)
{
	for (unsigned i = 0; i < LAN_SEEN_MAX; i++) {
		struct lan_seen *s = &l->seen[i];

		if (s->at_ms != 0 && memcmp(s->ip, ip, 4) == 0) {
			if (now - s->at_ms < LAN_ANNOUNCE_MS)
				return false;
			s->at_ms = now;
			return true;
		}
	}
	memcpy(l->seen[l->next_seen].ip, ip, 4);
	l->seen[l->next_seen].at_ms = now;
	l->next_seen = (l->next_seen + 1) % LAN_SEEN_MAX;
	return true;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sys_lan *l = h->data;

	(void)suggested;
	*buf = uv_buf_init(l->buf, sizeof l->buf);
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		    const struct sockaddr *addr, unsigned flags)
{
	struct sys_lan *l = h->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	const struct sockaddr_in *from = (const void *)addr;
	struct dht_addr a;
	uint64_t now;

	(void)flags;
	if (nread != LAN_MSG_LEN || addr == NULL ||
	    addr->sa_family != AF_INET || memcmp(p, "PLAN", 4) != 0 ||
	    p[4] != 1 || l->node->dht == NULL)
		return;
	if (memcmp(p + 8, l->node->identity.node_pk, CX_X_PK_LEN) == 0)
		return; /* our own announce, looped back */
	memset(&a, 0, sizeof a);
	a.family = DHT_FAMILY_IPV4;
	memcpy(a.ip, &from->sin_addr, 4);
	a.port = (uint16_t)(p[6] << 8 | p[7]);
	if (a.port == 0)
		return;
	now = now_ms(l);
	if (!rate_ok(l, a.ip, now))
		return;
	log_debug("lan: heard a node, joining through it");
	if (dht_bootstrap(l->node->dht, now, &a, p + 8) == 0 &&
	    l->node->dht_kick != NULL)
		l->node->dht_kick(l->node->dht_kick_self);
}

static void close_cb(uv_handle_t *h)
{
	struct sys_lan *l = h->data;

	if (--l->open_handles == 0)
		free(l);
}

int sys_lan_start(struct sys_lan **out, uv_loop_t *loop, struct node *n,
		  uint16_t dht_port)
{
	struct sockaddr_in any;
	struct sys_lan *l;
	int r;

	*out = NULL;
	l = calloc(1, sizeof *l);
	if (l == NULL)
		return -ENOMEM;
	l->node = n;
	memcpy(l->msg, "PLAN", 4);
	l->msg[4] = 1;
	l->msg[6] = (uint8_t)(dht_port >> 8);
	l->msg[7] = (uint8_t)dht_port;
	memcpy(l->msg + 8, n->identity.node_pk, CX_X_PK_LEN);
	uv_udp_init(loop, &l->udp);
	uv_timer_init(loop, &l->timer);
	l->udp.data = l->timer.data = l;
	l->open_handles = 2;
	uv_ip4_addr("0.0.0.0", LAN_PORT, &any);
	r = uv_udp_bind(&l->udp, (const struct sockaddr *)&any,
			UV_UDP_REUSEADDR);
	if (r == 0)
		r = uv_udp_set_membership(&l->udp, LAN_GROUP, NULL,
					  UV_JOIN_GROUP);
	if (r == 0)
		r = uv_udp_set_multicast_loop(&l->udp, 1);
	if (r == 0)
		r = uv_udp_recv_start(&l->udp, alloc_cb, recv_cb);
	if (r < 0) {
		sys_lan_stop(l);
		return r;
	}
	uv_timer_start(&l->timer, timer_cb, 0, LAN_ANNOUNCE_MS);
	*out = l;
	return 0;
}

void sys_lan_stop(struct sys_lan *l)
{
	if (l == NULL)
		return;
	uv_close((uv_handle_t *)&l->udp, close_cb);
	uv_close((uv_handle_t *)&l->timer, close_cb);
}
