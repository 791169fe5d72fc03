/* parleyd: skeleton entry point; the daemon lands in the next commits. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("parleyd %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "parleyd: not yet\n");
	return 1;
}
