/* Config file parser and the one table of settings shared with the
 * command line.  Each setting has a name (the long option), a kind and a
 * place in struct node_config; config_set() is the only writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cx.h"
#include "node/config.h"

static int set_relay_key(struct node_config *c, const char *key,
			 const char *value, char *err, size_t err_max);

enum cfg_kind {
	CFG_KIND_STRING,
	CFG_KIND_BOOL,
	CFG_KIND_LEVEL,
	CFG_KIND_U64,
	CFG_KIND_BOOTSTRAP,
	CFG_KIND_RELAY_KEY,
};

struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	size_t offset;
};

#define CFG_AT(field) offsetof(struct node_config, field)

static const struct cfg_key cfg_keys[] = {
	{"data-dir", CFG_KIND_STRING, CFG_AT(data_dir)},
	{"socket", CFG_KIND_STRING, CFG_AT(socket_path)},
	{"listen", CFG_KIND_STRING, CFG_AT(listen)},
	{"log-file", CFG_KIND_STRING, CFG_AT(log_file)},
	{"passphrase-file", CFG_KIND_STRING, CFG_AT(passphrase_file)},
	{"log-level", CFG_KIND_LEVEL, CFG_AT(log_level)},
	{"foreground", CFG_KIND_BOOL, CFG_AT(foreground)},
	{"relay", CFG_KIND_BOOL, CFG_AT(relay)},
	{"lan", CFG_KIND_BOOL, CFG_AT(lan)},
	{"event-log-max", CFG_KIND_U64, CFG_AT(event_log_max)},
	{"bootstrap", CFG_KIND_BOOTSTRAP, 0},
	{"home-relay", CFG_KIND_RELAY_KEY, 0},
};

void config_init(struct node_config *c)
{
	memset(c, 0, sizeof *c);
	c->log_level = LOG_LEVEL_INFO;
	c->event_log_max = 100000;
	c->listen = NULL;
}

void config_free(struct node_config *c)
{
	free(c->data_dir);
	free(c->socket_path);
	free(c->listen);
	free(c->log_file);
	free(c->passphrase_file);
	for (size_t i = 0; i < c->num_bootstrap; i++)
		free(c->bootstrap[i]);
	config_init(c);
}

static int parse_bool(const char *v, bool *out)
{
	if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "0") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end = NULL;
	unsigned long long x;

	if (v == NULL || *v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = x;
	return 0;
}

int config_set(struct node_config *c, const char *key, const char *value,
	       char *err, size_t err_max)
{
	const struct cfg_key *k = NULL;
	char *copy;

	for (size_t i = 0; i < sizeof cfg_keys / sizeof cfg_keys[0]; i++) {
		if (strcmp(cfg_keys[i].name, key) == 0) {
			k = &cfg_keys[i];
			break;
		}
	}
	if (k == NULL) {
		snprintf(err, err_max, "unknown setting '%s'", key);
		return -ENOENT;
	}
	switch (k->kind) {
	case CFG_KIND_STRING:
		if (value == NULL || *value == '\0') {
			snprintf(err, err_max, "'%s' needs a value", key);
			return -EINVAL;
		}
		copy = strdup(value);
		if (copy == NULL)
			return -ENOMEM;
		free(*(char **)((char *)c + k->offset));
		*(char **)((char *)c + k->offset) = copy;
		return 0;
	case CFG_KIND_BOOL:
		if (parse_bool(value, (bool *)((char *)c + k->offset)) < 0) {
			snprintf(err, err_max,
				 "'%s' takes true or false, not '%s'", key,
				 value);
			return -EINVAL;
		}
		return 0;
	case CFG_KIND_LEVEL:
		if (value == NULL ||
		    log_level_parse(value, &c->log_level) < 0) {
			snprintf(err, err_max,
				 "'%s' takes error, warn, info or debug", key);
			return -EINVAL;
		}
		return 0;
	case CFG_KIND_U64:
		if (parse_u64(value, (uint64_t *)((char *)c + k->offset)) <
		    0) {
			snprintf(err, err_max,
				 "'%s' takes a whole number, not '%s'", key,
				 value != NULL ? value : "");
			return -EINVAL;
		}
		return 0;
	case CFG_KIND_BOOTSTRAP:
		if (value == NULL || *value == '\0') {
			snprintf(err, err_max, "'%s' needs host:port", key);
			return -EINVAL;
		}
		if (c->num_bootstrap == CONFIG_BOOTSTRAP_MAX) {
			snprintf(err, err_max, "at most %d bootstrap entries",
				 CONFIG_BOOTSTRAP_MAX);
			return -E2BIG;
		}
		copy = strdup(value);
		if (copy == NULL)
			return -ENOMEM;
		c->bootstrap[c->num_bootstrap++] = copy;
		return 0;
	case CFG_KIND_RELAY_KEY:
		return set_relay_key(c, key, value, err, err_max);
	}
	return -EINVAL;
}

static int set_relay_key(struct node_config *c, const char *key,
			 const char *value, char *err, size_t err_max)
{
	uint8_t pk[32];

	if (value != NULL && strcmp(value, "auto") == 0) {
		c->home_relays_auto = true;
		return 0;
	}
	if (value == NULL || strlen(value) != 64 ||
	    cx_hex_decode(pk, sizeof pk, value) < 0 ||
	    cx_is_zero(pk, sizeof pk)) {
		snprintf(err, err_max,
			 "'%s' takes a relay's node key (64 hex digits) "
			 "or auto",
			 key);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->num_home_relays; i++)
		if (memcmp(c->home_relays[i], pk, sizeof pk) == 0)
			return 0; /* named twice: once is enough */
	if (c->num_home_relays == CONFIG_HOME_RELAYS_MAX) {
		snprintf(err, err_max, "at most %d home relays",
			 CONFIG_HOME_RELAYS_MAX);
		return -E2BIG;
	}
	memcpy(c->home_relays[c->num_home_relays++], pk, sizeof pk);
	return 0;
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

int config_parse(struct node_config *c, const char *text, size_t len,
		 char *err, size_t err_max)
{
	char line[CONFIG_LINE_MAX + 1];
	char why[256];
	size_t pos = 0;
	int lineno = 0;
	int r;

	if (len > CONFIG_FILE_MAX) {
		snprintf(err, err_max, "config file over %d bytes",
			 CONFIG_FILE_MAX);
		return -E2BIG;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl != NULL ? (size_t)(nl - text) : len) - pos;
		char *eq, *key, *val;

		lineno++;
		if (n > CONFIG_LINE_MAX) {
			snprintf(err, err_max, "line %d: longer than %d bytes",
				 lineno, CONFIG_LINE_MAX);
			return -E2BIG;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, err_max, "line %d: NUL byte", lineno);
			return -EINVAL;
		}
		key = trim(line, line + n);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			snprintf(err, err_max, "line %d: expected key = value",
				 lineno);
			return -EINVAL;
		}
		val = trim(eq + 1, key + strlen(key));
		key = trim(key, eq);
		why[0] = '\0';
		if ((r = config_set(c, key, val, why, sizeof why)) < 0) {
			snprintf(err, err_max, "line %d: %s", lineno, why);
			return r;
		}
	}
	return 0;
}
