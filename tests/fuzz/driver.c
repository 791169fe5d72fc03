/* Stand-alone driver for the fuzz targets, so that `make check` runs every
 * target even without libFuzzer: it feeds each file named on the command
 * line (a seed corpus), then a fixed number of pseudo-random and mutated
 * inputs from a fixed seed, so the run is the same every time.
 *
 * Under --enable-fuzzing PARLEY_LIBFUZZER is defined and libFuzzer supplies
 * main() instead.  Output is TAP. */
#ifndef PARLEY_LIBFUZZER
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT (1u << 20)

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int run_file(const char *path, uint8_t *buf, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	*len = fread(buf, 1, DRIVER_MAX_INPUT, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, *len);
	return 0;
}

/* Runs every file of $top_srcdir/tests/fuzz/corpus/NAME/, where NAME is
 * the program's base name.  Returns the number run, or -1 on a bad file. */
static int run_corpus(const char *argv0, uint8_t *buf, uint8_t *last,
		      size_t *last_len, int *t)
{
	const char *top = getenv("top_srcdir");
	const char *name = strrchr(argv0, '/');
	char dir[4096], path[8192];
	struct dirent *de;
	DIR *d;
	int n = 0;

	name = name != NULL ? name + 1 : argv0;
	if (strncmp(name, "lt-", 3) == 0)
		name += 3;
	snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s",
		 top != NULL ? top : ".", name);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		(*t)++;
		if (run_file(path, buf, last_len) < 0) {
			printf("not ok %d - seed %s unreadable\n", *t, path);
			closedir(d);
			return -1;
		}
		memcpy(last, buf, *last_len);
		printf("ok %d - seed %s\n", *t, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	uint8_t *buf = malloc(DRIVER_MAX_INPUT);
	uint8_t *last = malloc(DRIVER_MAX_INPUT);
	size_t last_len = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned long rounds = 20000;
	const char *env = getenv("FUZZ_DRIVER_ROUNDS");
	int i, t = 0;

	if (buf == NULL || last == NULL)
		return 99;
	if (env != NULL)
		rounds = strtoul(env, NULL, 10);
	for (i = 1; i < argc; i++) {
		t++;
		if (run_file(argv[i], buf, &last_len) < 0) {
			printf("not ok %d - seed %s unreadable\n", t, argv[i]);
			free(buf);
			free(last);
			return 1;
		}
		memcpy(last, buf, last_len);
		printf("ok %d - seed %s\n", t, argv[i]);
	}
	if (argc == 1 && run_corpus(argv[0], buf, last, &last_len, &t) < 0) {
		free(buf);
		free(last);
		return 1;
	}
	/* Random inputs, and byte-flipped variants of the last seed. */
	for (unsigned long r = 0; r < rounds; r++) {
		size_t len = (size_t)(xorshift(&seed) % 2048);

		if (last_len > 0 && (r & 1)) {
			/* Mutate the last seed: flip a few bytes, maybe cut. */
			len = last_len;
			memcpy(buf, last, len);
			for (int k = 0; k < 4; k++)
				buf[xorshift(&seed) % len] ^=
					(uint8_t)(1u << (xorshift(&seed) % 8));
			if (r & 2)
				len = (size_t)(xorshift(&seed) % (len + 1));
		} else {
			for (size_t j = 0; j < len; j++)
				buf[j] = (uint8_t)xorshift(&seed);
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("ok %d - %lu random inputs\n", ++t, rounds);
	printf("1..%d\n", t);
	free(buf);
	free(last);
	return 0;
}
#endif
