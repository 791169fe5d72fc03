/* cli/main.c: process setup for the parley command; the program itself
 * is cli_main() (cmds.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	struct cli_env env = {
		.out = stdout,
		.err = stderr,
		.out_fd = STDOUT_FILENO,
		.daemon_fd = -1,
	};
	int r;

	/* A daemon or a reader that goes away must not kill us silently:
	 * writes report EPIPE instead, and each is handled where it occurs. */
	signal(SIGPIPE, SIG_IGN);
	if (fcntl(env.out_fd, F_GETFD) < 0)
		env.out_fd = -1;
	env.out_tty = env.out_fd >= 0 && isatty(env.out_fd);
	r = cli_main(argc, argv, &env);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "parley: cannot write the output: %s\n",
				strerror(errno));
		if (r == 0 && errno != EPIPE)
			r = EX_IOERR;
	}
	return r;
}
