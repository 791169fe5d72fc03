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
	int out_fd = STDOUT_FILENO;
	int r;

	/* A daemon or a reader that goes away must not kill us silently:
	 * writes report EPIPE instead, and each is handled where it occurs. */
	signal(SIGPIPE, SIG_IGN);
	if (fcntl(out_fd, F_GETFD) < 0)
		out_fd = -1;
	r = cli_main(argc, argv, stdout, stderr, out_fd,
		     out_fd >= 0 && isatty(out_fd));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "parley: cannot write the output: %s\n",
				strerror(errno));
		if (r == 0 && errno != EPIPE)
			r = EX_IOERR;
	}
	return r;
}
