/* bench/dht-daemons: put and get latency through real parleyd processes.
 *
 * Starts N daemons (default 100) on loopback in a temporary directory,
 * each bootstrapping off the first, waits until every routing table has
 * contacts, then from random daemons: P dht.put (each a new key), then G
 * dht.get of those keys from other random daemons.  Latency is measured
 * at the client, request written to answer read, one call at a time.
 * Target (issue 3): put p50 <= 2 ms, p95 <= 5 ms; get p50 <= 1 ms,
 * p95 <= 2 ms; no failed get.
 *
 * Usage: bench_dht_daemons [N [P [G]]]   (PARLEYD env: the binary;
 * TMPDIR: where the data directories go, /tmp by default.  A put waits
 * for an fsync of its sequence number, so a tmpfs there shows what the
 * network part costs.  BENCH_PUT_GAP_MS: a pause after each put, so the
 * previous put's background stores are over; 0 by default: back to
 * back.) */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/bench_util.h"

#define N_MAX 500

struct daemon_ref {
	char sock[96];
	struct bu_reader rd;
	long pid;
};

static struct daemon_ref ds[N_MAX];
static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static unsigned pick(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static int call(struct daemon_ref *d, const char *req, char *ans,
		size_t max, double *ms)
{
	double t0 = bu_now();

	if (bu_write_all(d->rd.fd, req, strlen(req)) < 0 ||
	    bu_read_line(&d->rd, ans, max) < 0)
		return -1;
	if (ms != NULL)
		*ms = (bu_now() - t0) * 1e3;
	return 0;
}

static char keys[2000][65];

/* Counters summed over every daemon's dht.status. */
struct totals {
	long pkts_out, key_misses, drop_rate, timeouts, lookups;
	double cpu_ms; /* user + system time of the daemons */
};

/* CPU time of process pid in ms (/proc/PID/stat fields 14 and 15), or
 * 0. */
static double proc_cpu_ms(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	/* after "(comm)": state is field 3, utime 14, stime 15 */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void totals(unsigned n, struct totals *t)
{
	char ans[8192];

	memset(t, 0, sizeof *t);
	for (unsigned i = 0; i < n; i++) {
		if (call(&ds[i],
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			 "\"dht.status\"}\n",
			 ans, sizeof ans, NULL) < 0)
			continue;
		t->pkts_out += bu_field_long(ans, "pkts_out");
		t->key_misses += bu_field_long(ans, "misses");
		t->drop_rate += bu_field_long(ans, "rate");
		t->timeouts += bu_field_long(ans, "timeouts");
		t->lookups += bu_field_long(ans, "lookups");
		t->cpu_ms += proc_cpu_ms(ds[i].pid);
	}
}

/* What a phase of ops operations cost, over all daemons. */
static void print_cost(const char *what, unsigned ops, const struct totals *a,
		       const struct totals *b)
{
	if (ops == 0)
		return;
	printf("  %s: %.1f packets, %.2f shared-key computations and %.2f ms "
	       "of daemon CPU per operation; %ld timeouts, %ld rate-limited\n",
	       what, (double)(b->pkts_out - a->pkts_out) / ops,
	       (double)(b->key_misses - a->key_misses) / ops,
	       (b->cpu_ms - a->cpu_ms) / ops, b->timeouts - a->timeouts,
	       b->drop_rate - a->drop_rate);
}

/* gets dht.get calls of random stored keys from random daemons; fills
 * ms[] with the latencies of the successful ones and returns their
 * number. */
static unsigned run_gets(unsigned n, unsigned puts, unsigned gets,
			 bool first, double *ms)
{
	char req[512], ans[8192];
	unsigned ok = 0;

	for (unsigned i = 0; i < gets; i++) {
		unsigned ki = pick(puts);
		struct daemon_ref *d = &ds[pick(n)];

		if (keys[ki][0] == '\0')
			continue;
		snprintf(req, sizeof req,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"dht.get\","
			 "\"params\":{\"key\":\"%s\",\"first\":%s}}\n",
			 keys[ki], first ? "true" : "false");
		if (call(d, req, ans, sizeof ans, &ms[ok]) < 0)
			continue;
		if (strstr(ans, "\"result\"") != NULL)
			ok++;
	}
	return ok;
}

int main(int argc, char **argv)
{
	const char *parleyd = getenv("PARLEYD");
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 100;
	unsigned puts = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200;
	unsigned gets = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1000;
	const char *tmp = getenv("TMPDIR"), *gap = getenv("BENCH_PUT_GAP_MS");
	unsigned put_gap_ms = gap != NULL ? (unsigned)strtoul(gap, NULL, 10) : 0;
	char dir[64];
	char req[1024], ans[8192], data[128], listen[64], boot[64];
	double *put_ms, *get_ms, *first_ms, t0;
	struct totals t_start, t_put, t_get, t_first;
	unsigned put_ok = 0, get_ok = 0, first_ok = 0, min_contacts = ~0u;
	int base = 30000 + (int)(getpid() % 20000);

	if (parleyd == NULL)
		parleyd = "./node/parleyd";
	snprintf(dir, sizeof dir, "%s/parley-dhtb.XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (n < 2 || n > N_MAX || puts > 2000 || put_gap_ms > 1000 ||
	    mkdtemp(dir) == NULL)
		return 2;
	snprintf(boot, sizeof boot, "127.0.0.1:%d", base);
	t0 = bu_now();
	for (unsigned i = 0; i < n; i++) {
		snprintf(data, sizeof data, "%s/d%u", dir, i);
		snprintf(ds[i].sock, sizeof ds[i].sock, "%s/s%u", dir, i);
		/* One /24 per daemon: all of 127/8 is loopback, and the
		 * DHT limits contacts and requests per /24. */
		snprintf(listen, sizeof listen, "127.%u.%u.1:%d", i / 256,
			 i % 256, base);
		if (bu_start_parleyd(parleyd, data, ds[i].sock, listen,
				     i > 0 ? boot : NULL) < 0) {
			fprintf(stderr, "daemon %u did not start\n", i);
			n = i;
			goto out;
		}
		ds[i].rd.fd = bu_dial(ds[i].sock);
		call(&ds[i], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			     "\"node.status\"}\n",
		     ans, sizeof ans, NULL);
		ds[i].pid = bu_field_long(ans, "pid");
	}
	printf("started %u daemons in %.1f s\n", n, bu_now() - t0);
	/* Let the joins finish: every table has contacts and no lookup runs
	 * (the join's bucket refreshes), bounded. */
	for (int tries = 0; tries < 100; tries++) {
		long lookups = 0;

		min_contacts = ~0u;
		for (unsigned i = 0; i < n; i++) {
			long c;

			call(&ds[i], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
				     "\"dht.status\"}\n",
			     ans, sizeof ans, NULL);
			c = bu_field_long(ans, "contacts");
			if (c >= 0 && (unsigned)c < min_contacts)
				min_contacts = (unsigned)c;
			lookups += bu_field_long(ans, "lookups");
		}
		if (min_contacts >= 8 && lookups == 0)
			break;
		usleep(100000);
	}
	printf("smallest routing table: %u contacts\n", min_contacts);
	if (put_gap_ms > 0)
		printf("a pause of %u ms after each put\n", put_gap_ms);

	put_ms = calloc(puts, sizeof *put_ms);
	get_ms = calloc(gets, sizeof *get_ms);
	totals(n, &t_start);
	for (unsigned i = 0; i < puts; i++) {
		struct daemon_ref *d = &ds[pick(n)];
		const char *k;

		snprintf(req, sizeof req,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"dht.put\","
			 "\"params\":{\"value\":\"bench value %u\","
			 "\"salt\":\"k%u\"}}\n",
			 i, i);
		keys[i][0] = '\0';
		if (call(d, req, ans, sizeof ans, &put_ms[put_ok]) < 0)
			continue;
		k = strstr(ans, "\"key\":\"");
		if (k == NULL)
			continue;
		memcpy(keys[i], k + 7, 64);
		keys[i][64] = '\0';
		put_ok++;
		if (put_gap_ms > 0)
			usleep(put_gap_ms * 1000);
	}
	/* Puts answer before their last stores are acknowledged: let those
	 * end, so the gets measure gets. */
	for (int tries = 0; tries < 100; tries++) {
		totals(n, &t_put);
		if (t_put.lookups == 0)
			break;
		usleep(10000);
	}
	get_ok = run_gets(n, puts, gets, false, get_ms);
	totals(n, &t_get);
	/* The same workload answered at the first record found. */
	first_ms = calloc(gets, sizeof *first_ms);
	first_ok = run_gets(n, puts, gets, true, first_ms);
	totals(n, &t_first);
	qsort(first_ms, first_ok, sizeof *first_ms, bu_cmp_double);
	printf("%u daemons: get {first:true} n=%u/%u p50 %.2f ms p95 %.2f ms\n",
	       n, first_ok, gets, bu_pct(first_ms, first_ok, 50),
	       bu_pct(first_ms, first_ok, 95));
	free(first_ms);
	qsort(put_ms, put_ok, sizeof *put_ms, bu_cmp_double);
	qsort(get_ms, get_ok, sizeof *get_ms, bu_cmp_double);
	printf("%u daemons: put n=%u/%u p50 %.2f ms p95 %.2f ms; "
	       "get n=%u/%u p50 %.2f ms p95 %.2f ms; failed gets %u\n",
	       n, put_ok, puts, bu_pct(put_ms, put_ok, 50),
	       bu_pct(put_ms, put_ok, 95), get_ok, gets,
	       bu_pct(get_ms, get_ok, 50), bu_pct(get_ms, get_ok, 95),
	       gets - get_ok);
	print_cost("put", puts, &t_start, &t_put);
	print_cost("get", gets, &t_put, &t_get);
	print_cost("get {first:true}", gets, &t_get, &t_first);
	free(put_ms);
	free(get_ms);
out:
	for (unsigned i = 0; i < n; i++)
		if (ds[i].pid > 0)
			kill((pid_t)ds[i].pid, SIGTERM);
	sleep(1);
	snprintf(req, sizeof req, "rm -rf '%s'", dir);
	if (system(req) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}
