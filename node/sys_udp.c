/* libuv UDP for the DHT (see sys_udp.h).
 *
 * Receiving uses recvmmsg where libuv offers it (UV_UDP_RECVMMSG: libuv
 * cuts the buffer we lend it into 64 KiB slots, one datagram each, so a
 * buffer of UDP_RECV_SLOTS slots takes that many datagrams per syscall;
 * only the pages datagrams land in are ever touched).  Sending is uv_udp_try_send: a
 * datagram that cannot go out at once is dropped and counted by the DHT
 * (UDP may lose it anyway; the DHT retries).
 *
 * Two protocols share the socket, told apart by the first byte: Noise
 * links (node/link.c, classes 0x10-0x1f) and the DHT (0x01-0x03).
 *
 * Time: the DHT wants wall-clock ms, links monotonic ms; both come from
 * the node's clock, read once per loop turn.  One timer serves both: it
 * is armed for whichever deadline comes first.
 *
 * A kick (something changed: run what is due, arm the timer again) goes
 * through every layer's tick, and the messaging layer's visits every
 * contact.  Layers kick often, several times for one message, so a kick
 * only asks for a run at the next loop turn (an idle handle, which also
 * keeps the loop from sleeping in between); the kicks of one turn share
 * it.  With 2,000 contacts, a kick each time cost a sender half of its
 * CPU time (bench_msg --contacts). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "node/addr.h"
#include "node/chat.h"
#include "node/relay.h"
#include "node/link.h"
#include "node/log.h"
#include "node/sys_udp.h"

#define UDP_RECV_SLOTS 4
#define UDP_RECV_BUF (UDP_RECV_SLOTS * 65536)
#define UDP_SOCKBUF (4 << 20) /* SO_RCVBUF / SO_SNDBUF asked for */

struct sys_udp {
	uv_udp_t udp;
	bool v6; /* an AF_INET6 socket: IPv4 peers go as v4-mapped */
	uv_timer_t timer;
	uv_idle_t idle; /* a kick asked for: run at the next loop turn */
	struct node *node;
	struct dht_addr local;

	int open_handles;
	bool closing;
	bool in_kick, rekick; /* ticks may start work that kicks again */
	bool batch_kick;      /* a recvmmsg batch brought packets */
	char *buf; /* UDP_RECV_BUF bytes, lent to libuv on every read */
};

static uint64_t wall(const struct sys_udp *u)
{
	const struct clock *c = u->node->env->clock;

	return c->wall_ms(c->self);
}

static void to_sockaddr(const struct dht_addr *a, struct sockaddr_storage *ss,
			bool v6)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == DHT_FAMILY_IPV4 && v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		uint8_t *p = (uint8_t *)&s6->sin6_addr;

		s6->sin6_family = AF_INET6;
		p[10] = p[11] = 0xff;
		memcpy(p + 12, a->ip, 4);
		s6->sin6_port = htons(a->port);
	} else if (a->family == DHT_FAMILY_IPV6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->ip, 16);
		s6->sin6_port = htons(a->port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->ip, 4);
		s4->sin_port = htons(a->port);
	}
}

static bool from_sockaddr(const struct sockaddr *sa, struct dht_addr *a)
{
	memset(a, 0, sizeof *a);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		a->family = DHT_FAMILY_IPV4;
		memcpy(a->ip, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0,    0,
						     0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(&s6->sin6_addr, v4mapped, 12) == 0) {
			a->family = DHT_FAMILY_IPV4;
			memcpy(a->ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
		} else {
			a->family = DHT_FAMILY_IPV6;
			memcpy(a->ip, &s6->sin6_addr, 16);
		}
		a->port = ntohs(s6->sin6_port);
		return true;
	}
	return false;
}

static int udp_send(void *self, const struct dht_addr *to, const uint8_t *pkt,
		    size_t len)
{
	struct sys_udp *u = self;
	struct sockaddr_storage ss;
	uv_buf_t b = uv_buf_init((char *)pkt, (unsigned)len);
	int r;

	if (u->closing)
		return -ESHUTDOWN;
	if (to->family == DHT_FAMILY_IPV6 && !u->v6)
		return -EAFNOSUPPORT;
	to_sockaddr(to, &ss, u->v6);
	r = uv_udp_try_send(&u->udp, &b, 1, (const struct sockaddr *)&ss);
	return r < 0 ? r : 0;
}

static void timer_cb(uv_timer_t *t);

static uint64_t mono(const struct sys_udp *u)
{
	const struct clock *c = u->node->env->clock;

	return c->mono_ms(c->self);
}

static void kick_once(struct sys_udp *u)
{
	uint64_t now, next, delay = UINT64_MAX;

	if (u->closing)
		return;
	if (u->node->dht != NULL) {
		now = wall(u);
		next = dht_tick(u->node->dht, now);
		delay = next > now ? next - now : 0;
	}
	if (u->node->links != NULL) {
		now = mono(u);
		next = link_tick(u->node->links, now);
		if (next != UINT64_MAX && (next > now ? next - now : 0) < delay)
			delay = next > now ? next - now : 0;
	}
	if (u->node->relay != NULL) {
		now = mono(u);
		next = relay_tick(u->node->relay);
		if (next != UINT64_MAX && (next > now ? next - now : 0) < delay)
			delay = next > now ? next - now : 0;
	}
	if (u->node->chat != NULL) {
		now = mono(u);
		next = chat_tick(u->node->chat);
		if (next != UINT64_MAX && (next > now ? next - now : 0) < delay)
			delay = next > now ? next - now : 0;
	}
	if (delay == UINT64_MAX)
		uv_timer_stop(&u->timer);
	else
		uv_timer_start(&u->timer, timer_cb, delay, 0);
}

static void kick_now(struct sys_udp *u)
{
	if (u->in_kick) {
		u->rekick = true;
		return;
	}
	u->in_kick = true;
	do {
		u->rekick = false;
		kick_once(u);
	} while (u->rekick);
	u->in_kick = false;
}

static void idle_cb(uv_idle_t *h)
{
	struct sys_udp *u = h->data;

	uv_idle_stop(&u->idle);
	kick_now(u);
}

void sys_udp_kick(void *self)
{
	struct sys_udp *u = self;

	if (u->closing || uv_is_active((uv_handle_t *)&u->idle))
		return;
	uv_idle_start(&u->idle, idle_cb);
}

static void timer_cb(uv_timer_t *t)
{
	kick_now(t->data);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sys_udp *u = h->data;

	(void)suggested;
	*buf = uv_buf_init(u->buf, UDP_RECV_BUF);
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
		    const struct sockaddr *addr, unsigned flags)
{
	struct sys_udp *u = h->data;
	struct dht_addr from;

	/* With recvmmsg, libuv calls us once per datagram (each in its slot
	 * of our buffer, flagged UV_UDP_MMSG_CHUNK) and then once more with
	 * UV_UDP_MMSG_FREE; the buffer is ours and reused, so there is
	 * nothing to free.  The timers are run once per batch, at that last
	 * call, not once per datagram. */
	if (flags & UV_UDP_MMSG_FREE) {
		if (u->batch_kick) {
			u->batch_kick = false;
			sys_udp_kick(u);
		}
		return;
	}
	if (nread <= 0 || addr == NULL)
		return;
	if (flags & UV_UDP_PARTIAL)
		return; /* larger than any packet of ours: drop */
	if (!from_sockaddr(addr, &from))
		return;
	if (link_is_packet((const uint8_t *)buf->base, (size_t)nread)) {
		if (u->node->links != NULL)
			link_recv(u->node->links, mono(u), &from,
				  (const uint8_t *)buf->base, (size_t)nread);
	} else if (u->node->dht != NULL) {
		dht_recv(u->node->dht, wall(u), &from,
			 (const uint8_t *)buf->base, (size_t)nread);
	}
	if (flags & UV_UDP_MMSG_CHUNK)
		u->batch_kick = true;
	else
		sys_udp_kick(u);
}

int sys_udp_open(struct sys_udp **out, uv_loop_t *loop, struct node *n,
		 const char *listen, struct dht_io *io, char *err,
		 size_t err_max)
{
	struct sockaddr_storage ss;
	struct dht_addr a;
	struct sys_udp *u;
	int namelen = sizeof ss;
	int r;

	*out = NULL;
	if (addr_parse(listen, &a, NULL, NULL, true) < 0) {
		snprintf(err, err_max,
			 "--listen '%s': expected ip:port or [ipv6]:port",
			 listen);
		return -EINVAL;
	}
	u = calloc(1, sizeof *u);
	if (u != NULL)
		u->buf = malloc(UDP_RECV_BUF);
	if (u == NULL || u->buf == NULL) {
		free(u);
		return -ENOMEM;
	}
	u->node = n;
	r = uv_udp_init_ex(loop, &u->udp,
			   (a.family == DHT_FAMILY_IPV6 ? AF_INET6 : AF_INET) |
				   UV_UDP_RECVMMSG);
	if (r < 0) {
		free(u->buf);
		free(u);
		snprintf(err, err_max, "UDP socket: %s", uv_strerror(r));
		return r;
	}
	u->udp.data = u;
	uv_timer_init(loop, &u->timer);
	u->timer.data = u;
	uv_idle_init(loop, &u->idle);
	u->idle.data = u;
	u->open_handles = 3;
	u->v6 = a.family == DHT_FAMILY_IPV6;
	to_sockaddr(&a, &ss, false);
	r = uv_udp_bind(&u->udp, (const struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_udp_getsockname(&u->udp, (struct sockaddr *)&ss,
				       &namelen);
	if (r < 0) {
		snprintf(err, err_max, "cannot bind UDP %s: %s", listen,
			 uv_strerror(r));
		sys_udp_close(u);
		return r;
	}
	from_sockaddr((const struct sockaddr *)&ss, &u->local);
	/* A contact's window of messages arrives as one burst: room for it
	 * in the kernel rather than drops and retransmissions.  Asked, not
	 * required (the kernel caps it at net.core.rmem_max). */
	{
		int want = UDP_SOCKBUF;

		uv_recv_buffer_size((uv_handle_t *)&u->udp, &want);
		want = UDP_SOCKBUF;
		uv_send_buffer_size((uv_handle_t *)&u->udp, &want);
	}
	io->send = udp_send;
	io->self = u;
	*out = u;
	return 0;
}

const struct dht_addr *sys_udp_local(const struct sys_udp *u)
{
	return &u->local;
}

int sys_udp_attach(struct sys_udp *u)
{
	int r = uv_udp_recv_start(&u->udp, alloc_cb, recv_cb);

	if (r < 0)
		return r;
	sys_udp_kick(u);
	return 0;
}

static void close_cb(uv_handle_t *h)
{
	struct sys_udp *u = h->data;

	if (--u->open_handles == 0) {
		free(u->buf);
		free(u);
	}
}

void sys_udp_close(struct sys_udp *u)
{
	if (u == NULL || u->closing)
		return;
	u->closing = true;
	uv_close((uv_handle_t *)&u->udp, close_cb);
	uv_close((uv_handle_t *)&u->timer, close_cb);
	uv_close((uv_handle_t *)&u->idle, close_cb);
}
