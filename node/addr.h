/* Text forms of UDP endpoints: "1.2.3.4:5", "[::1]:5", and with a node
 * key, "HEX64@1.2.3.4:5" (--bootstrap nodekey@host:port).  Numeric
 * addresses only: names are resolved by the caller, if at all. */
#ifndef PARLEY_NODE_ADDR_H
#define PARLEY_NODE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "dht/dht.h"

#define ADDR_STR_MAX 64 /* "[" v6 "]:" port NUL fits */

/* Parses s into *a; when key is not NULL and s has a "HEX@" prefix, the
 * 32-byte key goes to key and *has_key is set.  Port 0 is allowed only
 * when allow_port0 (a listen address).  0 or -EINVAL. */
int addr_parse(const char *s, struct dht_addr *a, uint8_t key[CX_X_PK_LEN],
	       bool *has_key, bool allow_port0);

/* Formats a into out (ADDR_STR_MAX bytes). */
void addr_format(const struct dht_addr *a, char out[ADDR_STR_MAX]);

#endif
