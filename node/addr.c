/* Endpoint text forms (see addr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/addr.h"

int addr_parse(const char *s, struct dht_addr *a, uint8_t key[CX_X_PK_LEN],
	       bool *has_key, bool allow_port0)
{
	char host[64];
	const char *at = strchr(s, '@');
	const char *colon, *port_s;
	char *end = NULL;
	unsigned long port;
	size_t host_len;

	memset(a, 0, sizeof *a);
	if (has_key != NULL)
		*has_key = false;
	if (at != NULL) {
		char hex[CX_X_PK_LEN * 2 + 1];

		if (key == NULL || (size_t)(at - s) != CX_X_PK_LEN * 2)
			return -EINVAL;
		memcpy(hex, s, CX_X_PK_LEN * 2);
		hex[CX_X_PK_LEN * 2] = '\0';
		if (cx_hex_decode(key, CX_X_PK_LEN, hex) < 0)
			return -EINVAL;
		*has_key = true;
		s = at + 1;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		host_len = (size_t)(rb - s - 1);
		if (host_len == 0 || host_len >= sizeof host)
			return -EINVAL;
		memcpy(host, s + 1, host_len);
		host[host_len] = '\0';
		port_s = rb + 2;
		if (inet_pton(AF_INET6, host, a->ip) != 1)
			return -EINVAL;
		a->family = DHT_FAMILY_IPV6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		host_len = (size_t)(colon - s);
		if (host_len == 0 || host_len >= sizeof host)
			return -EINVAL;
		memcpy(host, s, host_len);
		host[host_len] = '\0';
		port_s = colon + 1;
		if (inet_pton(AF_INET, host, a->ip) != 1)
			return -EINVAL;
		a->family = DHT_FAMILY_IPV4;
	}
	if (*port_s < '0' || *port_s > '9')
		return -EINVAL;
	port = strtoul(port_s, &end, 10);
	if (*end != '\0' || port > 65535 || (port == 0 && !allow_port0))
		return -EINVAL;
	a->port = (uint16_t)port;
	return 0;
}

void addr_format(const struct dht_addr *a, char out[ADDR_STR_MAX])
{
	char ip[48];

	if (a->family == DHT_FAMILY_IPV6) {
		inet_ntop(AF_INET6, a->ip, ip, sizeof ip);
		snprintf(out, ADDR_STR_MAX, "[%s]:%u", ip, a->port);
	} else {
		inet_ntop(AF_INET, a->ip, ip, sizeof ip);
		snprintf(out, ADDR_STR_MAX, "%s:%u", ip, a->port);
	}
}
