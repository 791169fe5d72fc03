/* parleyd's settings: defaults, then the config file, then the command
 * line.  The file holds `key = value` lines whose keys are the long option
 * names ("data-dir = /srv/parley"); '#' starts a comment line.  Pure: the
 * caller reads the file and hands the bytes in, so the parser is fuzzed
 * without touching the disk. */
#ifndef PARLEY_NODE_CONFIG_H
#define PARLEY_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/log.h"

#define CONFIG_FILE_MAX (64 * 1024) /* bytes; larger files are refused */
#define CONFIG_LINE_MAX 4096	    /* bytes per line */
#define CONFIG_BOOTSTRAP_MAX 16	    /* --bootstrap entries */
#define CONFIG_HOME_RELAYS_MAX 7    /* --home-relay entries (a card's) */

struct node_config {
	char *data_dir;	       /* NULL: $XDG_DATA_HOME/parley */
	char *socket_path;     /* NULL: $XDG_RUNTIME_DIR/parley/parley.sock */
	char *listen;	       /* UDP listen address, "host:port" */
	char *log_file;	       /* NULL: stderr */
	char *passphrase_file; /* NULL: key file not sealed */
	enum log_level log_level;
	bool foreground;
	bool relay;
	bool lan; /* announce and listen for nodes on the local segment */
	uint64_t event_log_max; /* events kept in the log */
	char *bootstrap[CONFIG_BOOTSTRAP_MAX];
	size_t num_bootstrap;
	/* relays that keep texts for us while we are offline: node keys,
	 * distinct, not all zero */
	uint8_t home_relays[CONFIG_HOME_RELAYS_MAX][32];
	size_t num_home_relays;
	bool home_relays_auto; /* "auto": chosen from the DHT's adverts */
};

/* Sets the defaults.  Strings start NULL. */
void config_init(struct node_config *c);

/* Frees every string; c may be initialised again. */
void config_free(struct node_config *c);

/* Applies one setting by its long option name.  value may be NULL for
 * boolean keys given without a value (from the command line).  Returns 0,
 * -ENOENT for an unknown key, -EINVAL for a bad value (err says which),
 * -ENOMEM. */
int config_set(struct node_config *c, const char *key, const char *value,
	       char *err, size_t err_max);

/* Parses a whole config file.  On error returns negative errno and writes
 * "line N: reason" into err; c may hold the settings of earlier lines. */
int config_parse(struct node_config *c, const char *text, size_t len,
		 char *err, size_t err_max);

#endif
