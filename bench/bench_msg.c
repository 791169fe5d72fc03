/* bench/msg: one-to-one messaging between two real parleyd daemons on
 * loopback, driven through their sockets as an app would (issue 5).
 *
 * Daemon A listens on 127.0.0.1, daemon B on 127.0.1.1 and bootstraps off
 * A (two /24s, as the DHT counts addresses per /24).  This program is both
 * daemons' client, with two connections to each: one for requests, one
 * subscribed to the events.  A adds B (contacts.add), B's client accepts
 * on contact.request, and then:
 *   first_msg          contacts.add on A, sent right after both routing
 *                      tables hold the other node, to B's client reading
 *                      message.received for a message A sent just after
 *                      the add;
 *   throughput_SIZE    SIZE-byte bodies (100 and 1,372, Tox's
 *                      TOX_MAX_MESSAGE_LENGTH) sent with messages.send,
 *                      pipelined on A's request connection (at most
 *                      WINDOW answers outstanding), counted at B's client
 *                      by message.received; from the first request
 *                      written to the last event read.  Each answer
 *                      means the message is in A's LMDB outbox;
 *   cpu_per_msg_SIZE.a/.b  utime+stime of that daemon (/proc/PID/stat)
 *                      over the same run, divided by the messages;
 *   rss_after.a/.b, hwm_after.a/.b  VmRSS and VmHWM after the 100-byte
 *                      run (100,000 messages by default), at rest: 1 s
 *                      after its last message arrived (a daemon trims
 *                      the pages of its database it maps 250 ms after
 *                      its last commits, see store_trim);
 *   rss_anon_after.a/.b, rss_mapped_db_after.a/.b  VmRSS split: the
 *                      daemon's own memory (RssAnon) and the mapped pages
 *                      of files (RssFile + RssShmem), almost all of it the
 *                      LMDB database, which LMDB reads through a shared
 *                      read-only map (page cache, reclaimable);
 *   cpu_per_ping.a/.b  CPU time of each daemon per round trip;
 *   rtt_p50/p99        100-byte ping: A's client sends, B's client
 *                      answers with messages.send when it reads
 *                      message.received, A's client times its own
 *                      message.received; one ping at a time, GAP_MS
 *                      between pings so that both daemons are idle (they
 *                      never spin: they wait in the kernel for packets);
 *   idle_wakeups.a/.b  context switches of every thread of the daemon
 *                      (/proc/PID/task/TID/status) per second while both
 *                      are idle with the contact online;
 *   idle_pkts.a/.b     UDP datagrams the daemon received per second in
 *                      that window, from its own counters (dht.status
 *                      traffic.pkts_in + links.status pkts_in; the two
 *                      share one socket and count separately), and
 *                      idle_pkts their mean, the per-side figure Tox's
 *                      harness prints; idle_pkts_out likewise for sent;
 *   peak_rss.a/.b      VmHWM at the end.
 * Output lines are "parley.NAME VALUE UNIT"; lines starting with '#' are
 * comments.
 *
 * Usage: bench_msg [--quick] [--messages N] [--pings N] [--idle S]
 *                  [--tmp DIR] (data directories under DIR, default /tmp)
 *                  [--window W]          (PARLEYD env: the binary)
 *                  [--backlog N] [--contacts N] [--settle S]
 * --backlog N: before the runs, A adds a third daemon as a contact, which
 * then stops for good (it never accepts), and A's client leaves N 100-byte
 * texts for it; they stay queued in A's outbox through every run, as for
 * anyone who writes to a contact who went away.  The figures then show
 * what such a backlog costs the conversation with B.
 * --contacts N: before the runs, A adds N more contacts, fresh account
 * keys of people who never answer (their requests stay pending, as for
 * anyone whose address book holds people who are not online): what
 * contacts who are not in the conversation cost it.
 * --settle S: wait S seconds after those steps before the runs (the
 * first lookups for new contacts come fast, then slow down).
 * Every wait is bounded.  Exit 1 with a message on stderr when a step
 * fails, 0 otherwise. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "bench/bench_util.h"
#include "crypto/keys.h"
#include <sodium.h>

#define BIG_LEN 1372
#define PING_LEN 100
#define GAP_MS 2
#define LINE_MAX_LEN (1 << 16)

struct conn {
	struct bu_reader rd; /* rd.fd is the socket, non-blocking */
	char wbuf[1 << 18];
	size_t woff, wlen;
};

struct dmn {
	char name;
	char sock[96];
	char id[128]; /* contact ID from identity.get */
	int pid;
	struct conn req, ev;
};

static struct dmn ds[2];
static char dir[64] = "/tmp/parley-msgb.XXXXXX";
static bool have_dir;
static long next_id = 1;
static char line[LINE_MAX_LEN];

static void cleanup(void)
{
	char cmd[256];

	for (int i = 0; i < 2; i++) {
		if (ds[i].pid <= 0)
			continue;
		kill(ds[i].pid, SIGTERM);
		for (int t = 0; t < 500 && kill(ds[i].pid, 0) == 0; t++)
			usleep(10000);
		ds[i].pid = 0;
	}
	if (have_dir) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_msg: could not remove %s\n",
				dir);
		have_dir = false;
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_msg: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(1);
}

/* ---- non-blocking line I/O ---- */

/* One line out of c's buffer into line[] if there is one: its length,
 * or -1. */
static int take_line(struct conn *c)
{
	char *nl = memchr(c->rd.buf, '\n', c->rd.len);
	size_t k;

	if (nl == NULL) {
		if (c->rd.len == sizeof c->rd.buf)
			fail("a line from the daemon exceeds %zu bytes",
			     sizeof c->rd.buf);
		return -1;
	}
	k = (size_t)(nl - c->rd.buf);
	memcpy(line, c->rd.buf, k < sizeof line ? k : sizeof line - 1);
	line[k < sizeof line ? k : sizeof line - 1] = '\0';
	c->rd.len -= k + 1;
	memmove(c->rd.buf, nl + 1, c->rd.len);
	return (int)k;
}

/* Reads what the socket has. */
static void fill(struct conn *c, const struct dmn *d)
{
	ssize_t r = read(c->rd.fd, c->rd.buf + c->rd.len,
			 sizeof c->rd.buf - c->rd.len);

	if (r == 0)
		fail("daemon %c closed the connection", d->name);
	if (r < 0 && errno != EAGAIN && errno != EINTR)
		fail("read from daemon %c: %s", d->name, strerror(errno));
	if (r > 0)
		c->rd.len += (size_t)r;
}

/* Writes what is queued in c->wbuf, as much as the socket takes. */
static void flush(struct conn *c, const struct dmn *d)
{
	while (c->woff < c->wlen) {
		ssize_t w =
			write(c->rd.fd, c->wbuf + c->woff, c->wlen - c->woff);

		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0)
			fail("write to daemon %c: %s", d->name,
			     strerror(errno));
		c->woff += (size_t)w;
	}
	c->woff = c->wlen = 0;
}

/* Queues one request line (built by the caller, with its newline). */
static void queue(struct conn *c, const struct dmn *d, const char *req,
		  size_t len)
{
	if (c->wlen + len > sizeof c->wbuf) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + len > sizeof c->wbuf)
		fail("request buffer for daemon %c full", d->name);
	memcpy(c->wbuf + c->wlen, req, len);
	c->wlen += len;
	flush(c, d);
}

/* The next line from c within timeout_s, into line[]. */
static void wait_line(struct conn *c, const struct dmn *d, double timeout_s,
		      const char *what)
{
	double end = bu_now() + timeout_s;

	while (take_line(c) < 0) {
		struct pollfd p = {.fd = c->rd.fd, .events = POLLIN};
		double left = end - bu_now();

		if (c->woff < c->wlen)
			p.events |= POLLOUT;
		if (left <= 0 || poll(&p, 1, (int)(left * 1e3) + 1) == 0)
			fail("no answer from daemon %c within %.0f s (%s)",
			     d->name, timeout_s, what);
		if (p.revents & POLLOUT)
			flush(c, d);
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			fill(c, d);
	}
}

/* ---- synchronous calls (setup and status; never in a timed loop) ---- */

/* Calls method with params (a JSON object text, or NULL) on d's request
 * connection and returns the parsed answer (caller frees).  The request
 * connection must have nothing outstanding. */
static json_t *call(struct dmn *d, const char *method, const char *params,
		    double timeout_s)
{
	char req[4096];
	long id = next_id++;
	json_error_t je;
	json_t *ans;
	int n;

	n = snprintf(req, sizeof req,
		     "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"%s\"%s%s}\n",
		     id, method, params != NULL ? ",\"params\":" : "",
		     params != NULL ? params : "");
	if (n < 0 || (size_t)n >= sizeof req)
		fail("request too long");
	queue(&d->req, d, req, (size_t)n);
	wait_line(&d->req, d, timeout_s, method);
	ans = json_loads(line, 0, &je);
	if (ans == NULL || json_integer_value(json_object_get(ans, "id")) != id)
		fail("daemon %c: unexpected answer to %s: %.300s", d->name,
		     method, line);
	return ans;
}

/* The result of a call that must succeed; what names the step. */
static json_t *call_ok(struct dmn *d, const char *method, const char *params,
		       const char *what)
{
	json_t *ans = call(d, method, params, 30);
	json_t *res = json_object_get(ans, "result");

	if (res == NULL) {
		char *s = json_dumps(ans, JSON_COMPACT);

		fprintf(stderr, "bench_msg: %s: daemon %c answered %s\n", what,
			d->name, s != NULL ? s : "?");
		free(s);
		json_decref(ans);
		fail("%s failed", what);
	}
	json_incref(res);
	json_decref(ans);
	return res;
}

static long status_int(struct dmn *d, const char *method, const char *obj,
		       const char *key)
{
	json_t *res = call_ok(d, method, NULL, method);
	json_t *o = obj != NULL ? json_object_get(res, obj) : res;
	long v = (long)json_integer_value(json_object_get(o, key));

	json_decref(res);
	return v;
}

/* ---- setup ---- */

static void dial(struct conn *c, struct dmn *d)
{
	c->rd.fd = bu_dial(d->sock);
	if (c->rd.fd < 0)
		fail("cannot connect to daemon %c at %s", d->name, d->sock);
	fcntl(c->rd.fd, F_SETFL, O_NONBLOCK);
}

static void start(struct dmn *d, int i, const char *parleyd, int port)
{
	char data[128], listen[64], boot[64];
	json_t *res;

	d->name = (char)('a' + i);
	snprintf(data, sizeof data, "%s/d%d", dir, i);
	snprintf(d->sock, sizeof d->sock, "%s/s%d", dir, i);
	snprintf(listen, sizeof listen, "127.0.%d.1:%d", i, port);
	snprintf(boot, sizeof boot, "127.0.0.1:%d", port);
	if (bu_start_parleyd(parleyd, data, d->sock, listen,
			     i > 0 ? boot : NULL) < 0)
		fail("%s did not start (daemon %c)", parleyd, d->name);
	dial(&d->req, d);
	dial(&d->ev, d);
	res = call_ok(d, "node.status", NULL, "node.status");
	d->pid = (int)json_integer_value(json_object_get(res, "pid"));
	json_decref(res);
	res = call_ok(d, "identity.get", NULL, "identity.get");
	snprintf(d->id, sizeof d->id, "%s",
		 json_string_value(json_object_get(res, "id")) != NULL
			 ? json_string_value(json_object_get(res, "id"))
			 : "");
	json_decref(res);
	if (d->pid <= 0 || d->id[0] == '\0')
		fail("daemon %c: no pid or contact id", d->name);
}

/* Subscribes d's event connection to the types this bench reads. */
static void subscribe(struct dmn *d)
{
	static const char req[] =
		"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"events.subscribe\","
		"\"params\":{\"types\":[\"message.received\","
		"\"contact.request\",\"contact.accepted\"]}}\n";

	queue(&d->ev, d, req, sizeof req - 1);
	wait_line(&d->ev, d, 30, "events.subscribe");
	if (strstr(line, "\"result\"") == NULL)
		fail("daemon %c: events.subscribe: %.300s", d->name, line);
}

static bool is_event(const char *type)
{
	char pat[64];

	snprintf(pat, sizeof pat, "\"type\":\"%s\"", type);
	if (strstr(line, "\"events.overflow\"") != NULL)
		fail("events.overflow: the bench fell behind the event log");
	return strstr(line, pat) != NULL;
}

/* The answer line in line[] must not be an error. */
static void check_answer(const struct dmn *d, const char *what)
{
	if (strstr(line, "\"error\"") != NULL)
		fail("daemon %c: %s: %.300s", d->name, what, line);
}

/* contacts.add on A, a first message right after it, contacts.accept on
 * B when contact.request arrives; the time to B's message.received. */
static size_t send_req(char *out, size_t max, const char *to, long id,
		       const char *body);

/* --contacts: N contacts who never answer (see the top). */
static void more_contacts(long n)
{
	struct dmn *a = &ds[0];
	char params[256], cid[CX_CONTACT_ID_LEN + 1];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	double t0 = bu_now();

	for (long i = 0; i < n; i++) {
		crypto_sign_keypair(pk, sk);
		if (cx_contact_id_encode(cid, sizeof cid, pk) < 0)
			fail("cannot encode a contact ID");
		snprintf(params, sizeof params,
			 "{\"id\":\"%s\",\"name\":\"away %ld\"}", cid, i);
		json_decref(call_ok(a, "contacts.add", params,
				    "contacts.add (--contacts)"));
	}
	sodium_memzero(sk, sizeof sk);
	printf("# contacts: %ld more contacts who never answer, added in "
	       "%.2f s\n",
	       n, bu_now() - t0);
	fflush(stdout);
}

/* --backlog: N texts for a contact that is gone (see the top). */
static void backlog(long n, const char *parleyd, int port)
{
	struct dmn *a = &ds[0], gone;
	static char body[PING_LEN + 1], req[PING_LEN + 512];
	char params[256];
	long sent = 0, answered = 0;
	double t0, end;

	memset(&gone, 0, sizeof gone);
	start(&gone, 2, parleyd, port);
	close(gone.req.rd.fd);
	close(gone.ev.rd.fd);
	kill(gone.pid, SIGTERM);
	for (int t = 0; t < 500 && kill(gone.pid, 0) == 0; t++)
		usleep(10000);
	if (kill(gone.pid, 0) == 0)
		fail("daemon c did not stop");
	snprintf(params, sizeof params, "{\"id\":\"%s\",\"name\":\"gone\"}",
		 gone.id);
	json_decref(call_ok(a, "contacts.add", params, "contacts.add gone"));
	bu_text_body(body, PING_LEN, 3);
	body[PING_LEN] = '\0';
	t0 = bu_now();
	end = t0 + 600;
	while (answered < n) {
		struct pollfd p = {.fd = a->req.rd.fd, .events = POLLIN};

		while (sent < n && sent - answered < 1000 &&
		       a->req.wlen + sizeof req < sizeof a->req.wbuf) {
			size_t len = send_req(req, sizeof req, gone.id,
					      next_id++, body);

			memcpy(a->req.wbuf + a->req.wlen, req, len);
			a->req.wlen += len;
			sent++;
		}
		flush(&a->req, a);
		if (a->req.woff < a->req.wlen)
			p.events |= POLLOUT;
		if (bu_now() > end)
			fail("backlog: %ld of %ld answered in 600 s", answered,
			     n);
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			fill(&a->req, a);
			while (take_line(&a->req) >= 0) {
				check_answer(a, "messages.send (backlog)");
				answered++;
			}
		}
	}
	printf("# backlog: %ld texts queued for a contact that is gone, in "
	       "%.2f s\n",
	       n, bu_now() - t0);
	fflush(stdout);
}

static void first_message(void)
{
	struct dmn *a = &ds[0], *b = &ds[1];
	char params[512];
	bool queued = false, accepted_ev = false, accepted = false;
	double t0, end, t_first = 0;
	json_t *ans;

	snprintf(params, sizeof params, "{\"id\":\"%s\",\"name\":\"b\"}",
		 b->id);
	t0 = bu_now();
	ans = call(a, "contacts.add", params, 30);
	if (json_object_get(ans, "result") == NULL) {
		char *s = json_dumps(ans, JSON_COMPACT);

		fprintf(stderr,
			"bench_msg: contacts.add answered %s\n"
			"bench_msg: this parleyd has no messaging API yet "
			"(issue 5); nothing to measure\n",
			s != NULL ? s : "?");
		free(s);
		json_decref(ans);
		fail("stopped at contacts.add");
	}
	json_decref(ans);
	snprintf(params, sizeof params,
		 "{\"to\":\"%s\",\"body\":\"first message\"}", b->id);
	ans = call(a, "messages.send", params, 30);
	/* An implementation may refuse to queue for a contact who has
	 * not accepted yet; then send once contact.accepted comes. */
	queued = json_object_get(ans, "result") != NULL;
	json_decref(ans);
	end = t0 + 60;
	for (;;) {
		struct pollfd p[2] = {{.fd = a->ev.rd.fd, .events = POLLIN},
				      {.fd = b->ev.rd.fd, .events = POLLIN}};
		double left = end - bu_now();

		if (left <= 0)
			fail("first contact not done within 60 s (request "
			     "accepted: %s, message queued: %s, delivered: "
			     "%s)",
			     accepted ? "yes" : "no", queued ? "yes" : "no",
			     t_first > 0 ? "yes" : "no");
		if (poll(p, 2, (int)(left * 1e3) + 1) <= 0)
			continue;
		if (p[0].revents != 0)
			fill(&a->ev, a);
		if (p[1].revents != 0)
			fill(&b->ev, b);
		while (take_line(&b->ev) >= 0) {
			if (is_event("contact.request") && !accepted) {
				snprintf(params, sizeof params,
					 "{\"id\":\"%s\"}", a->id);
				json_decref(call_ok(b, "contacts.accept",
						    params, "contacts.accept"));
				accepted = true;
			} else if (is_event("message.received") &&
				   t_first == 0) {
				t_first = bu_now();
			}
		}
		/* Delivered, and the request answered (a daemon might
		 * show the message before the request). */
		if (t_first > 0 && accepted) {
			printf("parley.first_msg %.3f s\n", t_first - t0);
			fflush(stdout);
			return;
		}
		while (take_line(&a->ev) >= 0)
			if (is_event("contact.accepted"))
				accepted_ev = true;
		if (accepted_ev && !queued) {
			snprintf(params, sizeof params,
				 "{\"to\":\"%s\",\"body\":\"first message\"}",
				 b->id);
			json_decref(call_ok(a, "messages.send", params,
					    "messages.send after accept"));
			queued = true;
		}
	}
}

/* ---- measurements ---- */

static size_t send_req(char *out, size_t max, const char *to, long id,
		       const char *body)
{
	int n = snprintf(out, max,
			 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":"
			 "\"messages.send\",\"params\":{\"to\":\"%s\","
			 "\"body\":\"%s\"}}\n",
			 id, to, body);

	if (n < 0 || (size_t)n >= max)
		fail("request too long");
	return (size_t)n;
}

static void throughput(long n, int size, long window, bool mem_after)
{
	struct dmn *a = &ds[0], *b = &ds[1];
	static char body[BIG_LEN + 1], req[BIG_LEN + 512];
	long sent = 0, answered = 0, got = 0, ca, cb, out0, retx0, dup0, mem0;
	double t0, t1, end;

	bu_text_body(body, (size_t)size, 1);
	body[size] = '\0';
	out0 = status_int(a, "node.status", "messaging", "texts_out");
	retx0 = status_int(a, "node.status", "messaging", "retransmits");
	mem0 = status_int(a, "node.status", "messaging", "texts_out_cached");
	dup0 = status_int(b, "node.status", "messaging", "duplicates_in");
	ca = bu_proc_cpu_us(a->pid);
	cb = bu_proc_cpu_us(b->pid);
	t0 = bu_now();
	end = t0 + 600;
	while (got < n || answered < sent) {
		struct pollfd p[2] = {{.fd = a->req.rd.fd, .events = POLLIN},
				      {.fd = b->ev.rd.fd, .events = POLLIN}};
		double left = end - bu_now();

		/* Fill the pipe up to the window, a buffer at a time. */
		while (sent < n && sent - answered < window &&
		       a->req.wlen + sizeof req < sizeof a->req.wbuf) {
			size_t len = send_req(req, sizeof req, b->id, next_id++,
					      body);

			memcpy(a->req.wbuf + a->req.wlen, req, len);
			a->req.wlen += len;
			sent++;
		}
		flush(&a->req, a);
		if (a->req.woff < a->req.wlen)
			p[0].events |= POLLOUT;
		if (left <= 0)
			fail("throughput %d B: %ld of %ld delivered, %ld "
			     "answered, in 600 s",
			     size, got, n, answered);
		if (poll(p, 2, (int)(left * 1e3) + 1) <= 0)
			continue;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			fill(&a->req, a);
			while (take_line(&a->req) >= 0) {
				check_answer(a, "messages.send");
				answered++;
			}
		}
		if (p[1].revents != 0) {
			fill(&b->ev, b);
			while (take_line(&b->ev) >= 0)
				got += is_event("message.received");
		}
	}
	t1 = bu_now();
	ca = bu_proc_cpu_us(a->pid) - ca;
	cb = bu_proc_cpu_us(b->pid) - cb;
	printf("parley.throughput_%d %.0f msg/s\n", size,
	       (double)n / (t1 - t0));
	printf("parley.cpu_per_msg_%d.a %.1f us\n", size, (double)ca / n);
	printf("parley.cpu_per_msg_%d.b %.1f us\n", size, (double)cb / n);
	/* what went on the wire for those n texts (node.status messaging):
	 * texts encrypted into the window (and of them, those taken from
	 * memory rather than read back from the store), frames sent again,
	 * and texts B got twice */
	printf("parley.texts_out_%d.a %ld\n", size,
	       status_int(a, "node.status", "messaging", "texts_out") - out0);
	printf("parley.texts_out_cached_%d.a %ld\n", size,
	       status_int(a, "node.status", "messaging", "texts_out_cached") -
		       mem0);
	printf("parley.retransmits_%d.a %ld\n", size,
	       status_int(a, "node.status", "messaging", "retransmits") -
		       retx0);
	printf("parley.duplicates_%d.b %ld\n", size,
	       status_int(b, "node.status", "messaging", "duplicates_in") -
		       dup0);
	if (mem_after)
		usleep(1000 * 1000); /* at rest: see rss_after above */
	if (mem_after)
		for (int i = 0; i < 2; i++) {
			printf("parley.rss_after.%c %.1f MiB\n", ds[i].name,
			       bu_proc_status(ds[i].pid, "VmRSS") / 1024.0);
			printf("parley.hwm_after.%c %.1f MiB\n", ds[i].name,
			       bu_proc_status(ds[i].pid, "VmHWM") / 1024.0);
			/* VmRSS = the daemon's own memory (anon) + the pages
			 * of files it maps that it touched: LMDB reads the
			 * database through a read-only shared map, so those
			 * are page-cache pages of the database (file on a
			 * disk, shmem on tmpfs), shared and reclaimable. */
			printf("parley.rss_anon_after.%c %.1f MiB\n",
			       ds[i].name,
			       bu_proc_status(ds[i].pid, "RssAnon") / 1024.0);
			printf("parley.rss_mapped_db_after.%c %.1f MiB\n",
			       ds[i].name,
			       (bu_proc_status(ds[i].pid, "RssFile") +
				bu_proc_status(ds[i].pid, "RssShmem")) /
				       1024.0);
		}
	fflush(stdout);
}

static void pingpong(long n)
{
	struct dmn *a = &ds[0], *b = &ds[1];
	char body[PING_LEN + 1], req[PING_LEN + 512];
	double *rtt = calloc((size_t)n, sizeof *rtt);
	long pending_a = 0, pending_b = 0;
	long long ca = bu_proc_cpu_us(a->pid), cb = bu_proc_cpu_us(b->pid);

	if (rtt == NULL)
		fail("out of memory");
	bu_text_body(body, PING_LEN, 2);
	body[PING_LEN] = '\0';
	for (long i = 0; i < n; i++) {
		double t0 = bu_now(), end = t0 + 30;
		bool back = false;

		queue(&a->req, a, req,
		      send_req(req, sizeof req, b->id, next_id++, body));
		pending_a++;
		while (!back) {
			struct pollfd p[4] = {
				{.fd = a->req.rd.fd, .events = POLLIN},
				{.fd = a->ev.rd.fd, .events = POLLIN},
				{.fd = b->req.rd.fd, .events = POLLIN},
				{.fd = b->ev.rd.fd, .events = POLLIN}};
			double left = end - bu_now();

			if (left <= 0)
				fail("ping %ld: no answer within 30 s", i);
			if (poll(p, 4, (int)(left * 1e3) + 1) <= 0)
				continue;
			if (p[3].revents != 0) {
				fill(&b->ev, b);
				while (take_line(&b->ev) >= 0) {
					if (!is_event("message.received"))
						continue;
					queue(&b->req, b, req,
					      send_req(req, sizeof req, a->id,
						       next_id++, body));
					pending_b++;
				}
			}
			if (p[1].revents != 0) {
				fill(&a->ev, a);
				while (take_line(&a->ev) >= 0)
					if (is_event("message.received"))
						back = true;
			}
			if (back)
				rtt[i] = (bu_now() - t0) * 1e3;
			if (p[0].revents != 0) {
				fill(&a->req, a);
				while (take_line(&a->req) >= 0) {
					check_answer(a, "messages.send");
					pending_a--;
				}
			}
			if (p[2].revents != 0) {
				fill(&b->req, b);
				while (take_line(&b->req) >= 0) {
					check_answer(b, "messages.send");
					pending_b--;
				}
			}
		}
		usleep(GAP_MS * 1000);
	}
	/* Leave the request connections empty for the calls that follow. */
	while (pending_a > 0) {
		wait_line(&a->req, a, 30, "messages.send answer");
		check_answer(a, "messages.send");
		pending_a--;
	}
	while (pending_b > 0) {
		wait_line(&b->req, b, 30, "messages.send answer");
		check_answer(b, "messages.send");
		pending_b--;
	}
	ca = bu_proc_cpu_us(a->pid) - ca;
	cb = bu_proc_cpu_us(b->pid) - cb;
	qsort(rtt, (size_t)n, sizeof *rtt, bu_cmp_double);
	/* what each daemon spent per round trip (two messages, their acks,
	 * statuses and events): the part of the round trip that is work */
	printf("parley.cpu_per_ping.a %.1f us\n", (double)ca / n);
	printf("parley.cpu_per_ping.b %.1f us\n", (double)cb / n);
	printf("parley.rtt_p50 %.3f ms\n", bu_pct(rtt, (size_t)n, 50));
	printf("parley.rtt_p99 %.3f ms\n", bu_pct(rtt, (size_t)n, 99));
	fflush(stdout);
	free(rtt);
}

struct pkts {
	long in, out;
};

static struct pkts pkts(struct dmn *d)
{
	struct pkts p;

	p.in = status_int(d, "dht.status", "traffic", "pkts_in") +
	       status_int(d, "links.status", NULL, "pkts_in");
	p.out = status_int(d, "dht.status", "traffic", "pkts_out") +
		status_int(d, "links.status", NULL, "pkts_out");
	return p;
}

static void idle(long secs)
{
	long w0[2], w1[2];
	struct pkts p0[2], p1[2];
	double t0, t1, in_sum = 0;

	/* Settle: acks and receipts of the last pings are out. */
	usleep(2000000);
	for (int i = 0; i < 2; i++) {
		p0[i] = pkts(&ds[i]);
		w0[i] = bu_proc_wakeups(ds[i].pid);
	}
	t0 = bu_now();
	/* The status calls above woke the daemons; they are not counted
	 * because the window starts after them.  The ones below are after
	 * the window closes. */
	usleep((useconds_t)(secs * 1000000));
	t1 = bu_now();
	for (int i = 0; i < 2; i++)
		w1[i] = bu_proc_wakeups(ds[i].pid);
	for (int i = 0; i < 2; i++)
		p1[i] = pkts(&ds[i]);
	for (int i = 0; i < 2; i++) {
		double in = (double)(p1[i].in - p0[i].in) / (t1 - t0);

		printf("parley.idle_wakeups.%c %.2f /s\n", ds[i].name,
		       (double)(w1[i] - w0[i]) / (t1 - t0));
		printf("parley.idle_pkts.%c %.3f pkt/s\n", ds[i].name, in);
		printf("parley.idle_pkts_out.%c %.3f pkt/s\n", ds[i].name,
		       (double)(p1[i].out - p0[i].out) / (t1 - t0));
		in_sum += in;
	}
	printf("parley.idle_pkts %.3f pkt/s\n", in_sum / 2);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *parleyd = getenv("PARLEYD");
	long n = 100000, n_ping = 2000, idle_s = 60, window = 1000, n_back = 0;
	long n_more = 0, settle_s = 0;
	int port = 30000 + (int)(getpid() % 20000);
	double t0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			n = 5000;
			n_ping = 200;
			idle_s = 5;
		} else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--pings") == 0 && i + 1 < argc) {
			n_ping = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) {
			idle_s = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--tmp") == 0 && i + 1 < argc) {
			/* where the daemons' data goes: another file system
			 * (tmpfs) separates the software from the disk's
			 * fsync latency */
			if (strlen(argv[++i]) > 40)
				return 64;
			snprintf(dir, sizeof dir, "%.40s/parley-msgb.XXXXXX",
				 argv[i]);
		} else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc) {
			window = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--backlog") == 0 && i + 1 < argc) {
			n_back = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--contacts") == 0 && i + 1 < argc) {
			n_more = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--settle") == 0 && i + 1 < argc) {
			settle_s = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: bench_msg [--quick] "
					"[--messages N] [--pings N] "
					"[--idle S] [--window W] [--tmp DIR] "
					"[--backlog N] [--contacts N] "
					"[--settle S]\n");
			return 64;
		}
	}
	if (n < 1 || n > 10000000 || n_ping < 1 || n_ping > 1000000 ||
	    idle_s < 1 || idle_s > 3600 || window < 1 || window > 100000 ||
	    n_back < 0 || n_back > 10000000 || n_more < 0 || n_more > 4000 ||
	    settle_s < 0 || settle_s > 3600)
		return 64;
	if (parleyd == NULL)
		parleyd = "./node/parleyd";
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		fail("sodium_init failed");
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp: %s", strerror(errno));
	have_dir = true;
	printf("# parleyd, two daemons on 127.0.0.1 and 127.0.1.1\n"
	       "# %ld messages per throughput run (window %ld), %ld pings, "
	       "idle %ld s\n",
	       n, window, n_ping, idle_s);
	t0 = bu_now();
	start(&ds[0], 0, parleyd, port);
	start(&ds[1], 1, parleyd, port);
	subscribe(&ds[0]);
	subscribe(&ds[1]);
	/* A fresh two-node network: each routing table holds the other. */
	for (int tries = 0;; tries++) {
		if (status_int(&ds[0], "dht.status", NULL, "contacts") > 0 &&
		    status_int(&ds[1], "dht.status", NULL, "contacts") > 0)
			break;
		if (tries == 200)
			fail("the two daemons did not find each other in "
			     "10 s");
		usleep(50000);
	}
	printf("# daemons started and joined in %.3f s\n", bu_now() - t0);
	fflush(stdout);

	first_message();
	if (n_back > 0)
		backlog(n_back, parleyd, port);
	if (n_more > 0)
		more_contacts(n_more);
	if (settle_s > 0) {
		printf("# settling for %ld s\n", settle_s);
		fflush(stdout);
		sleep((unsigned)settle_s);
	}
	throughput(n, 100, window, true);
	throughput(n, BIG_LEN, window, false);
	pingpong(n_ping);
	idle(idle_s);
	for (int i = 0; i < 2; i++)
		printf("parley.peak_rss.%c %.1f MiB\n", ds[i].name,
		       bu_proc_status(ds[i].pid, "VmHWM") / 1024.0);
	cleanup();
	return 0;
}
