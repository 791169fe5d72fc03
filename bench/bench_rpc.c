/* bench/rpc: the local API's speed and the idle daemon's footprint.
 *
 * Starts a real parleyd (PARLEYD env or ./node/parleyd) in a temporary
 * directory and measures, through its socket:
 *   - node.status requests per second pipelined on one connection;
 *   - p50/p99/max latency of unpipelined requests (one at a time);
 *   - the idle daemon's RSS and wake-ups per second (context switches
 *     counted by the kernel in /proc/PID/status over IDLE_S seconds).
 * Targets (issue 2): >= 50,000 req/s pipelined, p99 < 1 ms unpipelined,
 * idle RSS <= 8 MiB and <= 1 wake-up per second.
 *
 * Usage: bench_rpc [PIPELINED_N [UNPIPELINED_N [IDLE_S]]] */
#include <poll.h>
#include <signal.h>

#include "bench/bench_util.h"

static void write_all(int fd, const char *p, size_t n)
{
	if (bu_write_all(fd, p, n) < 0) {
		perror("write");
		exit(1);
	}
}

/* Reads until n newlines have arrived; returns the bytes read. */
static size_t read_lines(int fd, long n)
{
	static char buf[1 << 16];
	size_t total = 0;

	while (n > 0) {
		ssize_t r = read(fd, buf, sizeof buf);

		if (r <= 0) {
			fprintf(stderr, "bench_rpc: daemon closed (%ld left)\n",
				n);
			exit(1);
		}
		for (ssize_t i = 0; i < r; i++)
			n -= buf[i] == '\n';
		total += (size_t)r;
	}
	return total;
}

int main(int argc, char **argv)
{
	const char *parleyd = getenv("PARLEYD");
	long n_pipe = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	long n_lat = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
	long idle_s = argc > 3 ? strtol(argv[3], NULL, 10) : 10;
	static const char req[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"node.status\"}\n";
	char dir[] = "/tmp/parley-bench.XXXXXX";
	char data[128], sock[128], cmd[512];
	double t0, t1, *lat;
	long cs0, cs1, rss, hwm;
	int fd, pid;

	if (parleyd == NULL)
		parleyd = "./node/parleyd";
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(data, sizeof data, "%s/d", dir);
	snprintf(sock, sizeof sock, "%s/s", dir);
	{
		char *args[] = {(char *)parleyd, "--data-dir", data,
				"--socket", sock, "--log-level", "warn", NULL};

		/* parleyd detaches once it serves. */
		if (bu_start_daemon(args) < 0) {
			fprintf(stderr, "bench_rpc: %s did not start\n",
				parleyd);
			return 1;
		}
	}
	fd = bu_dial(sock);
	if (fd < 0)
		return 1;
	write_all(fd, req, sizeof req - 1);
	{
		char buf[4096];
		ssize_t r = read(fd, buf, sizeof buf - 1);
		char *p;

		buf[r > 0 ? r : 0] = '\0';
		p = strstr(buf, "\"pid\":");
		pid = p != NULL ? (int)strtol(p + 6, NULL, 10) : -1;
	}
	if (pid <= 0)
		return 1;

	/* Pipelined: a writer process floods, we count answers. */
	{
		size_t len = (size_t)n_pipe * (sizeof req - 1);
		char *all = malloc(len);
		pid_t w;

		for (long i = 0; i < n_pipe; i++)
			memcpy(all + (size_t)i * (sizeof req - 1), req,
			       sizeof req - 1);
		t0 = bu_now();
		w = fork();
		if (w == 0) {
			write_all(fd, all, len);
			_exit(0);
		}
		read_lines(fd, n_pipe);
		t1 = bu_now();
		waitpid(w, NULL, 0);
		free(all);
		printf("pipelined node.status: %ld requests in %.3f s = "
		       "%.0f req/s\n",
		       n_pipe, t1 - t0, (double)n_pipe / (t1 - t0));
	}

	/* Unpipelined: one request in flight at a time. */
	lat = malloc((size_t)n_lat * sizeof *lat);
	for (long i = 0; i < n_lat; i++) {
		t0 = bu_now();
		write_all(fd, req, sizeof req - 1);
		read_lines(fd, 1);
		lat[i] = (bu_now() - t0) * 1e3;
	}
	qsort(lat, (size_t)n_lat, sizeof *lat, bu_cmp_double);
	printf("unpipelined node.status: n=%ld p50 %.3f ms, p99 %.3f ms, "
	       "max %.3f ms\n",
	       n_lat, lat[n_lat / 2], lat[n_lat * 99 / 100], lat[n_lat - 1]);
	free(lat);
	close(fd);

	/* Idle: no client connected. */
	sleep(1);
	cs0 = bu_proc_status(pid, "voluntary_ctxt_switches") +
	      bu_proc_status(pid, "nonvoluntary_ctxt_switches");
	sleep((unsigned)idle_s);
	cs1 = bu_proc_status(pid, "voluntary_ctxt_switches") +
	      bu_proc_status(pid, "nonvoluntary_ctxt_switches");
	rss = bu_proc_status(pid, "VmRSS");
	hwm = bu_proc_status(pid, "VmHWM");
	printf("idle daemon: RSS %ld KiB (%.1f MiB), peak RSS %ld KiB, "
	       "%.2f wake-ups/s over %ld s\n",
	       rss, rss / 1024.0, hwm, (double)(cs1 - cs0) / (double)idle_s,
	       idle_s);

	kill(pid, SIGTERM);
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		usleep(10000);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_rpc: could not remove %s\n", dir);
	return 0;
}
