/* bench/tox: the workload of bench/msg (issue 5) run on toxcore, so that
 * both columns come from the same machine in the same run.
 *
 * The parent forks two children, A and B, each running one Tox instance
 * with its own loop, so the kernel accounts CPU, memory and wake-ups to
 * each side separately.  The parent never touches Tox: it sends the
 * children one-line commands over a pipe, reads their one-line reports
 * back over another, and reads their /proc files.  A and B bootstrap off
 * each other on 127.0.0.1 (UDP, IPv4, LAN discovery off: two explicit
 * bootstraps are all the network they need) and add each other with
 * tox_friend_add_norequest.
 *
 * Figures, one per line as "tox.NAME VALUE UNIT":
 *   friend_connect     start (just before the children are forked) to
 *                      both seeing the friend at TOX_CONNECTION_UDP;
 *   throughput_SIZE    SIZE-byte TOX_MESSAGE_TYPE_NORMAL messages sent
 *                      by A as fast as it can (send until SENDQ, iterate,
 *                      again), counted by B's message callback; from A's
 *                      first send to B's last receipt; both loops busy;
 *   cpu_per_msg_SIZE.a/.b   utime+stime (/proc/PID/stat) of that side
 *                      over the same run, divided by the messages;
 *   rss_after.a/.b     VmRSS after the run of 100-byte messages (100,000
 *                      by default);
 *   rtt_busy_p50/p99   100-byte ping from A, echoed by B from its message
 *                      callback, timed by A; both loops busy;
 *   rtt_sleep_p50/p99  the same with both loops sleeping
 *                      tox_iteration_interval() between tox_iterate calls,
 *                      as toxcore recommends;
 *   idle_wakeups.a/.b  context switches (voluntary + involuntary, of
 *                      every thread, from /proc/PID/task/TID/status) per
 *                      second over the idle window,
 *                      loops sleeping, friend online, nothing sent;
 *   idle_pkts          UDP datagrams received per second per side in the
 *                      idle window (see below);
 *   peak_rss.a/.b      VmHWM at the end;
 *   connection_losses.a/.b  times the friend connection went down after
 *                      it was first up.  On a busy machine toxcore drops
 *                      it under a flood; the run is then abandoned, the
 *                      reconnection awaited and the run tried once more,
 *                      and a second loss prints the figure as "lost".
 *
 * Packets: toxcore has no packet counters in its API.  When it may (root,
 * or a user namespace), the parent moves itself into a new network
 * namespace with only a loopback interface before forking, so the
 * kernel's own UDP counters there (/proc/net/snmp, Udp InDatagrams) count
 * exactly the datagrams A and B receive; idle_pkts is their delta over
 * the window divided by the window and by 2 (the two sides are
 * symmetric).  Without a namespace the counters are the machine's and
 * the figure is marked "machine-wide" (an upper bound).
 *
 * Usage: bench_tox [--quick] [--messages N] [--idle S] [--no-netns]
 * Every wait is bounded; on a timeout the bench says which step failed,
 * kills its children and exits 1.  Run it on an otherwise idle machine:
 * both loops spin during the throughput runs and want a core each. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* unshare() */
#endif
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <tox/tox.h>

#include "bench/bench_util.h"

#define MSG_BIG TOX_MAX_MESSAGE_LENGTH
#define PING_LEN 100
#define PINGS_MAX 100000

/* ---- child side ---- */

struct side {
	Tox *tox;
	int cmd_fd, rep_fd;
	char cmd[4096];
	size_t cmd_len;
	bool busy, connected, echo;
	/* sending (A) */
	long to_send, sent, size;
	double send_t0;
	/* counting (B) */
	long expect, got;
	double got_t0;
	/* echo (B): payloads waiting to go back, sent after tox_iterate */
	uint8_t echo_buf[16][PING_LEN];
	int echo_n;
	/* pinging (A) */
	long pings, ping_i;
	bool ping_out;
	double ping_t, *rtt;
};

static void report(struct side *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct side *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 1)
		_exit(3);
	line[n++] = '\n';
	/* One write of less than PIPE_BUF: atomic, so the parent reads
	 * whole lines. */
	if (bu_write_all(s->rep_fd, line, (size_t)n) < 0)
		_exit(3);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int unhex(uint8_t *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void conn_cb(Tox *tox, uint32_t fn, Tox_Connection st, void *ud)
{
	struct side *s = ud;

	if (st == TOX_CONNECTION_UDP && !s->connected) {
		s->connected = true;
		report(s, "connected %.6f", bu_now());
	} else if (st != TOX_CONNECTION_UDP && s->connected) {
		s->connected = false;
		report(s, "lost %d", (int)st);
	}
}

static void msg_cb(Tox *tox, uint32_t fn, Tox_Message_Type type,
		   const uint8_t *m, size_t len, void *ud)
{
	struct side *s = ud;

	if (len == PING_LEN && m[0] == 'P') {
		if (s->echo) {
			if (s->echo_n < 16)
				memcpy(s->echo_buf[s->echo_n++], m, PING_LEN);
			return;
		}
		if (s->ping_out) {
			s->rtt[s->ping_i++] = (bu_now() - s->ping_t) * 1e3;
			s->ping_out = false;
			if (s->ping_i == s->pings)
				report(s, "pinged");
		}
		return;
	}
	if (s->expect > 0) {
		if (s->got == 0)
			s->got_t0 = bu_now();
		if (++s->got == s->expect) {
			report(s, "got %.6f %.6f", s->got_t0, bu_now());
			s->expect = 0;
		}
	}
}

static void send_some(struct side *s)
{
	static uint8_t body[MSG_BIG];
	Tox_Err_Friend_Send_Message err;

	bu_text_body((char *)body, (size_t)s->size, 1);
	body[0] = 'T';
	while (s->sent < s->to_send) {
		if (s->sent == 0)
			s->send_t0 = bu_now();
		tox_friend_send_message(s->tox, 0, TOX_MESSAGE_TYPE_NORMAL,
					body, (size_t)s->size, &err);
		if (err == TOX_ERR_FRIEND_SEND_MESSAGE_SENDQ)
			return;
		/* Reported as "lost" already; the parent resets. */
		if (err == TOX_ERR_FRIEND_SEND_MESSAGE_FRIEND_NOT_CONNECTED) {
			s->to_send = 0;
			return;
		}
		if (err != TOX_ERR_FRIEND_SEND_MESSAGE_OK) {
			report(s, "fail send error %d after %ld", (int)err,
			       s->sent);
			s->to_send = 0;
			return;
		}
		if (++s->sent == s->to_send)
			report(s, "sent %.6f %.6f", s->send_t0, bu_now());
	}
}

static void ping_next(struct side *s)
{
	uint8_t body[PING_LEN];
	Tox_Err_Friend_Send_Message err;

	bu_text_body((char *)body, sizeof body, 2);
	body[0] = 'P';
	s->ping_t = bu_now();
	s->ping_out = true;
	tox_friend_send_message(s->tox, 0, TOX_MESSAGE_TYPE_NORMAL, body,
				sizeof body, &err);
	if (err == TOX_ERR_FRIEND_SEND_MESSAGE_FRIEND_NOT_CONNECTED) {
		s->pings = 0; /* reported as "lost" already */
		s->ping_out = false;
	} else if (err != TOX_ERR_FRIEND_SEND_MESSAGE_OK) {
		report(s, "fail ping error %d", (int)err);
		s->pings = 0;
		s->ping_out = false;
	}
}

static void echo_back(struct side *s)
{
	Tox_Err_Friend_Send_Message err;

	for (int i = 0; i < s->echo_n; i++)
		tox_friend_send_message(s->tox, 0, TOX_MESSAGE_TYPE_NORMAL,
					s->echo_buf[i], PING_LEN, &err);
	s->echo_n = 0;
}

/* Handles one command line from the parent. */
static void command(struct side *s, char *line)
{
	char pk_hex[2 * TOX_PUBLIC_KEY_SIZE + 1],
		dht_hex[2 * TOX_PUBLIC_KEY_SIZE + 1];
	uint8_t pk[TOX_PUBLIC_KEY_SIZE], dht[TOX_PUBLIC_KEY_SIZE];
	unsigned port;
	long n, size;

	if (sscanf(line, "friend %64s %64s %u", pk_hex, dht_hex, &port) == 3) {
		Tox_Err_Friend_Add fe;
		Tox_Err_Bootstrap be;

		if (unhex(pk, pk_hex, sizeof pk) < 0 ||
		    unhex(dht, dht_hex, sizeof dht) < 0)
			_exit(4);
		tox_friend_add_norequest(s->tox, pk, &fe);
		tox_bootstrap(s->tox, "127.0.0.1", (uint16_t)port, dht, &be);
		if (fe != TOX_ERR_FRIEND_ADD_OK || be != TOX_ERR_BOOTSTRAP_OK)
			report(s, "fail friend_add %d bootstrap %d", (int)fe,
			       (int)be);
	} else if (strcmp(line, "busy") == 0) {
		s->busy = true;
	} else if (strcmp(line, "sleep") == 0) {
		s->busy = false;
	} else if (sscanf(line, "echo %ld", &n) == 1) {
		s->echo = n != 0;
	} else if (sscanf(line, "send %ld %ld", &n, &size) == 2) {
		s->to_send = n;
		s->sent = 0;
		s->size = size;
	} else if (sscanf(line, "expect %ld", &n) == 1) {
		s->expect = n;
		s->got = 0;
	} else if (sscanf(line, "ping %ld", &n) == 1 && n > 0 &&
		   n <= PINGS_MAX) {
		s->pings = n;
		s->ping_i = 0;
		s->ping_out = false;
	} else if (strcmp(line, "rtt") == 0) {
		qsort(s->rtt, (size_t)s->ping_i, sizeof *s->rtt, bu_cmp_double);
		report(s, "rtt %ld %.4f %.4f %.4f", s->ping_i,
		       bu_pct(s->rtt, (size_t)s->ping_i, 50),
		       bu_pct(s->rtt, (size_t)s->ping_i, 99),
		       s->ping_i > 0 ? s->rtt[s->ping_i - 1] : 0.0);
	} else if (strcmp(line, "reset") == 0) {
		s->to_send = s->sent = 0;
		s->expect = 0;
		s->pings = s->ping_i = 0;
		s->ping_out = false;
		s->echo_n = 0;
	} else if (strcmp(line, "sync") == 0) {
		report(s, "synced");
	} else if (strcmp(line, "quit") == 0) {
		tox_kill(s->tox);
		_exit(0);
	}
}

/* Reads whatever the parent wrote, runs each whole line. */
static void read_commands(struct side *s)
{
	for (;;) {
		ssize_t r = read(s->cmd_fd, s->cmd + s->cmd_len,
				 sizeof s->cmd - 1 - s->cmd_len);
		char *nl;

		if (r == 0) /* parent gone */
			_exit(0);
		if (r < 0)
			return;
		s->cmd_len += (size_t)r;
		while ((nl = memchr(s->cmd, '\n', s->cmd_len)) != NULL) {
			size_t k = (size_t)(nl - s->cmd);

			*nl = '\0';
			command(s, s->cmd);
			s->cmd_len -= k + 1;
			memmove(s->cmd, nl + 1, s->cmd_len);
		}
		if (s->cmd_len == sizeof s->cmd - 1)
			_exit(4);
	}
}

static void child_main(int cmd_fd, int rep_fd)
{
	static struct side s;
	struct Tox_Options *o = tox_options_new(NULL);
	uint8_t pk[TOX_PUBLIC_KEY_SIZE], dht[TOX_PUBLIC_KEY_SIZE];
	char pk_hex[2 * sizeof pk + 1], dht_hex[2 * sizeof dht + 1];
	Tox_Err_New err;
	unsigned long turn = 0;

	s.cmd_fd = cmd_fd;
	s.rep_fd = rep_fd;
	s.rtt = calloc(PINGS_MAX, sizeof *s.rtt);
	fcntl(cmd_fd, F_SETFL, O_NONBLOCK);
	if (o == NULL || s.rtt == NULL)
		_exit(5);
	tox_options_set_ipv6_enabled(o, false);
	tox_options_set_local_discovery_enabled(o, false);
	tox_options_set_udp_enabled(o, true);
	s.tox = tox_new(o, &err);
	tox_options_free(o);
	if (s.tox == NULL) {
		report(&s, "fail tox_new %d", (int)err);
		_exit(5);
	}
	tox_callback_friend_connection_status(s.tox, conn_cb);
	tox_callback_friend_message(s.tox, msg_cb);
	tox_self_get_public_key(s.tox, pk);
	tox_self_get_dht_id(s.tox, dht);
	hex(pk_hex, pk, sizeof pk);
	hex(dht_hex, dht, sizeof dht);
	report(&s, "info %s %s %u", pk_hex, dht_hex,
	       (unsigned)tox_self_get_udp_port(s.tox, NULL));
	/* Sleeping starts as toxcore recommends; the parent says when to
	 * spin. */
	for (;;) {
		struct pollfd p = {.fd = cmd_fd, .events = POLLIN};
		int wait_ms = s.busy ? 0 : (int)tox_iteration_interval(s.tox);

		tox_iterate(s.tox, &s);
		if (s.echo_n > 0)
			echo_back(&s);
		if (s.sent < s.to_send)
			send_some(&s);
		if (s.ping_i < s.pings && !s.ping_out)
			ping_next(&s);
		/* A busy loop looks at the pipe every 64 turns only. */
		if (!s.busy || (++turn & 63) == 0)
			if (poll(&p, 1, wait_ms) > 0)
				read_commands(&s);
	}
}

/* ---- parent side ---- */

struct kid {
	pid_t pid;
	int cmd_fd;
	struct bu_reader rd;
	char name;
	bool up;     /* friend at TOX_CONNECTION_UDP, as last reported */
	double t_up; /* when it first was */
	int losses;  /* times it went down after that */
};

static struct kid kids[2];
static double t_start;

static void die(const char *what)
{
	fprintf(stderr, "bench_tox: %s\n", what);
	for (int i = 0; i < 2; i++)
		if (kids[i].pid > 0)
			kill(kids[i].pid, SIGKILL);
	exit(1);
}

static void tell(struct kid *k, const char *line)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%s\n", line);

	if (n < 0 || (size_t)n >= sizeof buf ||
	    bu_write_all(k->cmd_fd, buf, (size_t)n) < 0)
		die("a child is gone");
}

static void both(const char *line)
{
	tell(&kids[0], line);
	tell(&kids[1], line);
}

/* The next report line of k by time end; a timeout ends the bench. */
static void next_line(struct kid *k, char *out, size_t max, double end,
		      const char *what)
{
	/* A child writes each line whole, so once the pipe is readable a
	 * whole line is there. */
	if (memchr(k->rd.buf, '\n', k->rd.len) == NULL) {
		struct pollfd p = {.fd = k->rd.fd, .events = POLLIN};
		double left = end - bu_now();
		char msg[256];

		if (left <= 0 || poll(&p, 1, (int)(left * 1e3) + 1) == 0) {
			snprintf(msg, sizeof msg, "%c: timeout in %s", k->name,
				 what);
			die(msg);
		}
	}
	if (bu_read_line(&k->rd, out, max) < 0)
		die("a child closed its pipe");
}

/* Reads k's reports until one starts with prefix (into out), within
 * timeout_s.  Connection changes update k->up on the way; a lost friend
 * connection returns -1 unless prefix is "connected" (then it waits on
 * for the reconnection).  Reports of an abandoned phase are skipped; a
 * "fail" report or a timeout ends the bench. */
static int expect(struct kid *k, const char *prefix, char *out, size_t max,
		  double timeout_s, const char *what)
{
	double end = bu_now() + timeout_s;
	bool want_up = strcmp(prefix, "connected") == 0;

	for (;;) {
		next_line(k, out, max, end, what);
		if (strncmp(out, "fail", 4) == 0) {
			char msg[600];

			snprintf(msg, sizeof msg, "%c in %s: %s", k->name, what,
				 out);
			die(msg);
		}
		if (strncmp(out, "lost", 4) == 0) {
			k->up = false;
			k->losses++;
			if (!want_up)
				return -1;
			continue;
		}
		if (strncmp(out, "connected", 9) == 0) {
			if (k->t_up == 0 &&
			    sscanf(out, "connected %lf", &k->t_up) != 1)
				die(out);
			k->up = true;
			if (want_up)
				return 0;
			continue;
		}
		if (strncmp(out, prefix, strlen(prefix)) == 0)
			return 0;
	}
}

/* Round trip through both children: every earlier command has run and
 * every earlier report is read.  0, or -1 if a friend connection is
 * down. */
static int sync_both(void)
{
	char ans[256];

	both("sync");
	for (int i = 0; i < 2; i++)
		if (expect(&kids[i], "synced", ans, sizeof ans, 30, "sync") < 0)
			return -1;
	return kids[0].up && kids[1].up ? 0 : -1;
}

/* After a lost friend connection: both children drop what they were
 * doing; wait (bounded) until both see the friend again. */
static void recover(const char *what)
{
	char ans[256];

	printf("# friend connection lost during %s; waiting for it\n", what);
	fflush(stdout);
	both("reset");
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2; i++)
			if (!kids[i].up)
				expect(&kids[i], "connected", ans, sizeof ans,
				       120, "reconnection");
		if (sync_both() == 0)
			return;
	}
	die("the friend connection does not hold");
}

static void spawn(struct kid *k, char name)
{
	int c[2], r[2];

	if (pipe(c) < 0 || pipe(r) < 0)
		die("pipe");
	k->name = name;
	k->pid = fork();
	if (k->pid < 0)
		die("fork");
	if (k->pid == 0) {
		close(c[1]);
		close(r[0]);
		child_main(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	k->cmd_fd = c[1];
	k->rd.fd = r[0];
}

/* Own network namespace with loopback up: see the header comment. */
static bool enter_netns(void)
{
	struct ifreq ifr = {0};
	int fd;
	bool ok;

	if (unshare(CLONE_NEWNET) < 0)
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	memcpy(ifr.ifr_name, "lo", 3);
	ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	close(fd);
	return ok;
}

/* Udp InDatagrams from /proc/net/snmp (this namespace's), or -1. */
static long udp_in(void)
{
	char head[512], vals[512];
	long v = -1;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (f == NULL)
		return -1;
	while (fgets(head, sizeof head, f) != NULL) {
		if (strncmp(head, "Udp: InDatagrams", 16) != 0)
			continue;
		if (fgets(vals, sizeof vals, f) != NULL)
			v = strtol(vals + 4, NULL, 10);
		break;
	}
	fclose(f);
	return v;
}

/* One run of n size-byte messages; 0, or -1 if the friend connection
 * went down (the figures are then not printed). */
static int throughput(long n, long size, bool mem_after)
{
	struct kid *a = &kids[0], *b = &kids[1];
	char line[256], ans[256];
	double a0, a1, b0, b1, secs;
	long ca, cb;

	both("busy");
	snprintf(line, sizeof line, "expect %ld", n);
	tell(b, line);
	if (sync_both() < 0)
		return -1;
	ca = bu_proc_cpu_us(a->pid);
	cb = bu_proc_cpu_us(b->pid);
	snprintf(line, sizeof line, "send %ld %ld", n, size);
	tell(a, line);
	if (expect(a, "sent", ans, sizeof ans, 300, "sending") < 0)
		return -1;
	if (sscanf(ans, "sent %lf %lf", &a0, &a1) != 2)
		die(ans);
	if (expect(b, "got", ans, sizeof ans, 300, "receiving") < 0)
		return -1;
	if (sscanf(ans, "got %lf %lf", &b0, &b1) != 2)
		die(ans);
	ca = bu_proc_cpu_us(a->pid) - ca;
	cb = bu_proc_cpu_us(b->pid) - cb;
	secs = b1 - a0;
	printf("tox.throughput_%ld %.0f msg/s\n", size, (double)n / secs);
	printf("tox.cpu_per_msg_%ld.a %.1f us\n", size, (double)ca / n);
	printf("tox.cpu_per_msg_%ld.b %.1f us\n", size, (double)cb / n);
	if (mem_after) {
		printf("tox.rss_after.a %.1f MiB\n",
		       bu_proc_status(a->pid, "VmRSS") / 1024.0);
		printf("tox.rss_after.b %.1f MiB\n",
		       bu_proc_status(b->pid, "VmRSS") / 1024.0);
	}
	fflush(stdout);
	return 0;
}

/* n pings one at a time, both loops busy or sleeping; 0 or -1 as
 * throughput(). */
static int pingpong(long n, bool busy)
{
	const char *mode = busy ? "busy" : "sleep";
	char line[64], ans[256];
	double p50, p99, max;
	long got;

	both(mode);
	tell(&kids[1], "echo 1");
	if (sync_both() < 0)
		return -1;
	snprintf(line, sizeof line, "ping %ld", n);
	tell(&kids[0], line);
	if (expect(&kids[0], "pinged", ans, sizeof ans, 60 + (double)n * 0.5,
		   "ping-pong") < 0)
		return -1;
	tell(&kids[0], "rtt");
	if (expect(&kids[0], "rtt", ans, sizeof ans, 30, "rtt") < 0)
		return -1;
	if (sscanf(ans, "rtt %ld %lf %lf %lf", &got, &p50, &p99, &max) != 4)
		die(ans);
	printf("tox.rtt_%s_p50 %.3f ms\n", mode, p50);
	printf("tox.rtt_%s_p99 %.3f ms\n", mode, p99);
	fflush(stdout);
	tell(&kids[1], "echo 0");
	return 0;
}

static void idle(long secs, bool own_netns)
{
	long w0[2], w1[2], u0, u1;
	double t0, t1;

	both("sleep");
	if (sync_both() < 0)
		recover("idle");
	/* Settle: the last messages and their acks are out of the way. */
	usleep(1000000);
	u0 = udp_in();
	t0 = bu_now();
	for (int i = 0; i < 2; i++)
		w0[i] = bu_proc_wakeups(kids[i].pid);
	/* The children report nothing while idle but connection changes,
	 * which are noted and printed. */
	for (;;) {
		struct pollfd p[2] = {{.fd = kids[0].rd.fd, .events = POLLIN},
				      {.fd = kids[1].rd.fd, .events = POLLIN}};
		double left = t0 + (double)secs - bu_now();
		char ans[256];

		if (left <= 0)
			break;
		if (poll(p, 2, (int)(left * 1e3) + 1) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (p[i].revents == 0)
				continue;
			next_line(&kids[i], ans, sizeof ans, t0 + secs + 1,
				  "idle");
			printf("# %c while idle: %s\n", kids[i].name, ans);
		}
	}
	for (int i = 0; i < 2; i++)
		w1[i] = bu_proc_wakeups(kids[i].pid);
	u1 = udp_in();
	t1 = bu_now();
	printf("tox.idle_wakeups.a %.1f /s\n",
	       (double)(w1[0] - w0[0]) / (t1 - t0));
	printf("tox.idle_wakeups.b %.1f /s\n",
	       (double)(w1[1] - w0[1]) / (t1 - t0));
	if (u0 >= 0 && u1 >= 0)
		printf("tox.idle_pkts %.2f pkt/s%s\n",
		       (double)(u1 - u0) / (t1 - t0) / 2,
		       own_netns ? "" : " (machine-wide)");
	fflush(stdout);
}

/* Toxcore drops the friend connection when a loop is starved (a flood
 * on a busy machine does it): such a run is abandoned, the connection
 * awaited, and the run tried once more; a second loss prints the figure
 * as "lost". */
static void throughput_twice(long n, long size, bool mem_after)
{
	char what[64];

	snprintf(what, sizeof what, "throughput %ld B", size);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (throughput(n, size, mem_after) == 0)
			return;
		recover(what);
	}
	printf("tox.throughput_%ld lost msg/s\n", size);
}

static void pingpong_twice(long n, bool busy)
{
	const char *mode = busy ? "busy" : "sleep";
	char what[64];

	snprintf(what, sizeof what, "ping-pong (%s)", mode);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (pingpong(n, busy) == 0)
			return;
		recover(what);
	}
	printf("tox.rtt_%s_p50 lost ms\n", mode);
}

int main(int argc, char **argv)
{
	long n = 100000, n_ping = 10000, n_ping_sleep = 200, idle_s = 10;
	bool netns = true, quick = false;
	char ans[2][512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) {
			idle_s = strtol(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--no-netns") == 0) {
			netns = false;
		} else {
			fprintf(stderr, "usage: bench_tox [--quick] "
					"[--messages N] [--idle S] "
					"[--no-netns]\n");
			return 64;
		}
	}
	if (quick) {
		n = 5000;
		n_ping = 500;
		n_ping_sleep = 20;
		idle_s = 3;
	}
	if (n < 1 || n > 10000000 || idle_s < 1 || idle_s > 3600)
		return 64;
	signal(SIGPIPE, SIG_IGN);
	netns = netns && enter_netns();
	printf("# toxcore %u.%u.%u, two processes on 127.0.0.1 (%s)\n",
	       tox_version_major(), tox_version_minor(), tox_version_patch(),
	       netns ? "own network namespace" : "host network");
	printf("# %ld messages per throughput run, %ld + %ld pings, "
	       "idle %ld s\n",
	       n, n_ping, n_ping_sleep, idle_s);
	fflush(stdout);

	t_start = bu_now();
	spawn(&kids[0], 'a');
	spawn(&kids[1], 'b');
	expect(&kids[0], "info", ans[0], sizeof ans[0], 30, "tox_new");
	expect(&kids[1], "info", ans[1], sizeof ans[1], 30, "tox_new");
	for (int i = 0; i < 2; i++) {
		char pk[65], dht[65], line[256];
		unsigned port;

		if (sscanf(ans[1 - i], "info %64s %64s %u", pk, dht, &port) !=
		    3)
			die(ans[1 - i]);
		snprintf(line, sizeof line, "friend %s %s %u", pk, dht, port);
		tell(&kids[i], line);
	}
	for (int i = 0; i < 2; i++)
		expect(&kids[i], "connected", ans[i], sizeof ans[i], 120,
		       "friend connection");
	printf("tox.friend_connect %.2f s\n",
	       (kids[0].t_up > kids[1].t_up ? kids[0].t_up : kids[1].t_up) -
		       t_start);
	fflush(stdout);

	throughput_twice(n, 100, true);
	throughput_twice(n, MSG_BIG, false);
	pingpong_twice(n_ping, true);
	pingpong_twice(n_ping_sleep, false);
	idle(idle_s, netns);
	printf("tox.connection_losses.a %d count\n", kids[0].losses);
	printf("tox.connection_losses.b %d count\n", kids[1].losses);
	printf("tox.peak_rss.a %.1f MiB\n",
	       bu_proc_status(kids[0].pid, "VmHWM") / 1024.0);
	printf("tox.peak_rss.b %.1f MiB\n",
	       bu_proc_status(kids[1].pid, "VmHWM") / 1024.0);
	both("quit");
	for (int i = 0; i < 2; i++)
		waitpid(kids[i].pid, NULL, 0);
	return 0;
}
