/* Fuzz target: the config file parser (node/config.c).  Invariants: it
 * never reads out of bounds (ASan), and whatever it accepted is a
 * well-formed config: strings NUL-terminated and non-empty, bootstrap
 * count within its limit, the level a valid enum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_config c;
	char err[300];
	int r;

	config_init(&c);
	err[0] = '\0';
	r = config_parse(&c, (const char *)data, size, err, sizeof err);
	if (r < 0 && err[0] == '\0')
		abort(); /* every refusal says why */
	if (c.num_bootstrap > CONFIG_BOOTSTRAP_MAX)
		abort();
	if (c.log_level > LOG_LEVEL_DEBUG)
		abort();
	if (c.data_dir != NULL && strlen(c.data_dir) == 0)
		abort();
	for (size_t i = 0; i < c.num_bootstrap; i++)
		if (strlen(c.bootstrap[i]) == 0)
			abort();
	config_free(&c);
	return 0;
}
