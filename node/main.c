/* parleyd: the parley daemon.
 *
 * Start-up, in order: settings (defaults < config file < command line),
 * data directory and its lock, detaching unless --foreground (the parent
 * waits until the child is serving, so `parleyd && parley status` works),
 * identity from the key file (created on first start, never replaced),
 * the LMDB store, the event log, the API socket, signals, readiness.
 * Shutdown undoes the same steps in reverse.  main() owns every part; the
 * struct node only points at them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "crypto/cx.h"
#include "crypto/keyfile.h"
#include "crypto/keys.h"
#include "crypto/drbg.h"
#include "crypto/rng.h"
#include "node/api.h"
#include "node/config.h"
#include "node/log.h"
#include "node/node.h"
#include "node/sys_api.h"
#include "node/sys_os.h"
#include "node/sys_udp.h"
#include "node/sys_lan.h"
#include "node/link.h"
#include "node/chat.h"
#include "node/relay.h"
#include "node/relay_wire.h"
#include "node/msgstore.h"
#include "dht/dht.h"
#include "node/addr.h"
#include "store/store.h"

#define PASSPHRASE_MAX 1024
/* A little after commits, the store's map is trimmed (store_trim): at most
 * this often while busy. */
#define TRIM_AFTER_MS 250

struct daemon {
	struct node_config cfg;
	char *config_path;
	bool config_given;
	bool level_given;   /* --log-level on the command line wins */
	const char *log_path; /* where logs go: --log-file or the default */
	char *data_dir;
	char *socket_path;
	bool socket_private; /* default location: its directory is ours */
	int lock_fd;
	int ready_fd; /* pipe to the waiting parent, -1 in the foreground */
	uv_loop_t loop;
	uv_signal_t sig_term, sig_int, sig_hup;
	struct clock clock;
	struct node_env env;
	struct cx_drbg *drbg; /* env.rng: one getrandom(2) per MiB, not per call */
	struct node node;
	struct api *api;
	struct sys_api *sys_api;
	struct sys_udp *sys_udp;
	struct sys_lan *sys_lan;
	uv_timer_t save_timer; /* saves the routing table now and then */
	uv_timer_t boot_timer; /* re-bootstraps while the table is empty */
	uv_check_t chat_check; /* commits messaging work once per loop turn */
	uv_timer_t trim_timer; /* store_trim a little after commits */
	uint64_t trim_commits; /* store_commits at the last trim */
	uint64_t boot_backoff_ms;
	bool stopping;
	bool started; /* reached the loop: "stopped" is worth saying */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: parleyd [OPTIONS]\n"
		"\n"
		"The parley messenger daemon.  Apps, the parley command among "
		"them,\ntalk to it over a Unix socket.\n"
		"\n"
		"  -d, --data-dir DIR        keys and database "
		"(default $XDG_DATA_HOME/parley)\n"
		"  -s, --socket PATH         API socket "
		"(default $XDG_RUNTIME_DIR/parley/parley.sock)\n"
		"  -c, --config FILE         config file "
		"(default $XDG_CONFIG_HOME/parley/parleyd.conf)\n"
		"  -l, --listen HOST:PORT    UDP address for peers\n"
		"      --bootstrap HOST:PORT a node to join the network "
		"through (repeatable)\n"
		"      --relay               volunteer as a store-and-forward "
		"relay\n"
		"      --home-relay NODEKEY  a relay that keeps texts for you "
		"while\n"
		"                            you are offline (repeatable, up "
		"to 7;\n"
		"                            auto: chosen from the DHT's "
		"adverts)\n"
		"      --lan                 find nodes on the local network "
		"(multicast)\n"
		"      --passphrase-file F   seal the key file with the "
		"passphrase in F\n"
		"      --log-level LEVEL     error, warn, info (default) or "
		"debug\n"
		"      --log-file FILE       log there instead of stderr\n"
		"      --event-log-max N     events kept for replay "
		"(default 100000)\n"
		"  -f, --foreground          do not detach\n"
		"  -V, --version             print the version and exit\n"
		"  -h, --help                print this help and exit\n"
		"\n"
		"Signals: SIGTERM or SIGINT stop cleanly; SIGHUP rereads the "
		"config file\nand reopens the log file.\n");
}

static const struct option long_opts[] = {
	{"data-dir", required_argument, NULL, 'd'},
	{"socket", required_argument, NULL, 's'},
	{"config", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"bootstrap", required_argument, NULL, 'B'},
	{"home-relay", required_argument, NULL, 'H'},
	{"relay", no_argument, NULL, 'R'},
	{"lan", no_argument, NULL, 'N'},
	{"passphrase-file", required_argument, NULL, 'P'},
	{"log-level", required_argument, NULL, 'L'},
	{"log-file", required_argument, NULL, 'O'},
	{"event-log-max", required_argument, NULL, 'E'},
	{"foreground", no_argument, NULL, 'f'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Reads the config file into d->cfg.  A missing default file is fine; a
 * missing file named with --config is not. */
static int load_config_file(struct daemon *d, struct node_config *cfg)
{
	char err[300];
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = sys_read_file(d->config_path, CONFIG_FILE_MAX, &buf, &len);
	if (r == -ENOENT && !d->config_given)
		return 0;
	if (r < 0) {
		log_error("config %s: %s", d->config_path,
			  r == -E2BIG ? "file too large" : strerror(-r));
		return r;
	}
	r = config_parse(cfg, (const char *)buf, len, err, sizeof err);
	free(buf);
	if (r < 0)
		log_error("config %s: %s", d->config_path, err);
	return r;
}

/* Settings: defaults, then the file, then the command line.  Returns 0,
 * 1 when the program should exit 0 (--help, --version), or -1. */
static int parse_settings(struct daemon *d, int argc, char **argv)
{
	char err[300];
	const char *key;
	int c, r;

	/* First pass: --config, --help, --version. */
	opterr = 1;
	while ((c = getopt_long(argc, argv, "d:s:c:l:fVh", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			free(d->config_path);
			d->config_path = strdup(optarg);
			d->config_given = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("parleyd %s\n", PACKAGE_VERSION);
			return 1;
		case '?':
			usage(stderr);
			return -1;
		default:
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "parleyd: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (d->config_path == NULL)
		d->config_path = sys_default_config();
	if (d->config_path == NULL || load_config_file(d, &d->cfg) < 0)
		return -1;
	/* Second pass: the command line wins over the file. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:s:c:l:fVh", long_opts,
				NULL)) != -1) {
		key = NULL;
		for (const struct option *o = long_opts; o->name != NULL; o++)
			if (o->val == c)
				key = o->name;
		if (c == 'c' || key == NULL)
			continue;
		if (c == 'L')
			d->level_given = true;
		r = config_set(&d->cfg, key, optarg, err, sizeof err);
		if (r < 0) {
			fprintf(stderr, "parleyd: --%s: %s\n", key, err);
			return -1;
		}
	}
	return 0;
}

static int read_passphrase(const char *path, char *out, size_t max,
			   size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int r;

	r = sys_read_file(path, max, &buf, &n);
	if (r < 0)
		return r;
	/* The first line is the passphrase. */
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			n = i;
			break;
		}
	}
	memcpy(out, buf, n);
	*len = n;
	cx_wipe(buf, max + 1);
	free(buf);
	return n == 0 ? -EINVAL : 0;
}

/* Loads the identity from data_dir/identity.key, or creates it there on
 * first start.  Any failure to read an existing file stops the daemon:
 * it never makes a new identity over an old one. */
static int load_identity(struct daemon *d)
{
	char path[PATH_MAX];
	char *pass = NULL;
	size_t pass_len = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof path, "%s/identity.key", d->data_dir);
	if (d->cfg.passphrase_file != NULL) {
		pass = cx_secret_alloc(PASSPHRASE_MAX + 1);
		if (pass == NULL)
			return -ENOMEM;
		r = read_passphrase(d->cfg.passphrase_file, pass,
				    PASSPHRASE_MAX, &pass_len);
		if (r < 0) {
			log_error("passphrase file %s: %s",
				  d->cfg.passphrase_file,
				  r == -EINVAL ? "empty first line"
					       : strerror(-r));
			goto out;
		}
	}
	r = sys_read_file(path, CX_KEYFILE_MAX, &buf, &len);
	if (r == 0) {
		struct stat st;

		if (stat(path, &st) == 0 && (st.st_mode & 077))
			log_warn("%s is readable by others (mode %o)", path,
				 (unsigned)(st.st_mode & 0777));
		r = cx_keyfile_decode(&d->node.identity, buf, len, pass,
				      pass_len);
		d->node.identity_sealed = cx_keyfile_is_sealed(buf, len);
		cx_wipe(buf, len);
		switch (-r) {
		case 0:
			if (pass != NULL && !d->node.identity_sealed)
				log_warn("key file is not sealed; the "
					 "passphrase was not used");
			break;
		case ENOKEY:
			log_error("%s is sealed with a passphrase: give "
				  "--passphrase-file",
				  path);
			break;
		case EKEYREJECTED:
			log_error("%s: wrong passphrase", path);
			break;
		case EBADMSG:
			log_error("%s is corrupt or truncated; refusing to "
				  "start (restore it from a backup; moving it "
				  "away makes a NEW identity)",
				  path);
			break;
		default:
			log_error("%s: %s", path, strerror(-r));
			break;
		}
		goto out;
	}
	if (r != -ENOENT) {
		log_error("%s: %s", path,
			  r == -E2BIG ? "too large to be a key file"
				      : strerror(-r));
		goto out;
	}
	/* First start. */
	r = cx_identity_generate(&d->node.identity, rng_system(),
				 d->clock.wall_ms(NULL) / 1000);
	if (r < 0) {
		log_error("cannot generate keys: %s", strerror(-r));
		goto out;
	}
	r = cx_keyfile_encode(&buf, &len, &d->node.identity, pass, pass_len,
			      rng_system());
	if (r < 0) {
		log_error("cannot encode the key file: %s", strerror(-r));
		goto out;
	}
	r = sys_write_file_atomic(path, buf, len, 0600);
	cx_keyfile_free(buf, len);
	buf = NULL;
	if (r < 0) {
		log_error("cannot write %s: %s", path, strerror(-r));
		goto out;
	}
	d->node.identity_sealed = pass != NULL;
	log_info("created a new identity in %s%s", path,
		 pass != NULL ? " (sealed)" : "");
out:
	free(buf);
	cx_secret_free(pass);
	if (r < 0)
		cx_identity_close(&d->node.identity);
	return r;
}

static void on_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

#define DHT_SAVE_MAX 500 /* contacts kept across restarts */
#define DHT_SAVE_EVERY_MS (10 * 60 * 1000)
#define DHT_KEY_CACHE 1024 /* shared keys kept (dht_limits.key_cache) */
static const char dht_table_key[] = "table";

struct blob {
	uint8_t *buf;
	size_t len;
};

static int save_table_txn(struct store_txn *t, void *ctx)
{
	struct blob *b = ctx;

	return store_put(t, STORE_TABLE_DHT, dht_table_key,
			 sizeof dht_table_key - 1, b->buf, b->len);
}

/* Keeps the routing table in the store, so the next start rejoins
 * without a bootstrap node. */
static void save_table(struct daemon *d)
{
	size_t max = DHT_TABLE_HDR_LEN + DHT_SAVE_MAX * DHT_TABLE_ENTRY_LEN;
	struct blob b = {malloc(max), 0};
	int r;

	if (d->node.dht == NULL || b.buf == NULL) {
		free(b.buf);
		return;
	}
	r = dht_table_save(d->node.dht, b.buf, max, &b.len);
	if (r == 0)
		r = store_write(d->node.store, save_table_txn, &b);
	if (r < 0)
		log_warn("cannot save the routing table: %s", strerror(-r));
	free(b.buf);
}

static int load_table_txn(struct store_txn *t, void *ctx)
{
	struct blob *b = ctx;

	return store_get_alloc(t, STORE_TABLE_DHT, dht_table_key,
			       sizeof dht_table_key - 1, &b->buf, &b->len);
}

static void save_timer_cb(uv_timer_t *t)
{
	save_table(t->data);
}

#define BOOT_RETRY_MIN_MS 1000
#define BOOT_RETRY_MAX_MS (5 * 60 * 1000)
#define BOOT_CHECK_MS (60 * 1000)

/* Starts a join through every --bootstrap entry (already validated). */
static void bootstrap_all(struct daemon *d, uint64_t now)
{
	for (size_t i = 0; i < d->cfg.num_bootstrap; i++) {
		uint8_t key[CX_X_PK_LEN];
		struct dht_addr a;
		bool has_key;
		int r;

		if (addr_parse(d->cfg.bootstrap[i], &a, key, &has_key,
			       false) < 0)
			continue;
		if ((r = dht_bootstrap(d->node.dht, now, &a,
				       has_key ? key : NULL)) < 0)
			log_warn("bootstrap %s: %s", d->cfg.bootstrap[i],
				 strerror(-r));
	}
	sys_udp_kick(d->sys_udp);
}

/* A join can fail (the bootstrap node was down, its answer was lost):
 * while the routing table is empty, try again with a doubling delay;
 * once it has contacts, look again every BOOT_CHECK_MS in case they all
 * vanished. */
static void boot_timer_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	struct dht_status st;

	dht_status(d->node.dht, &st);
	if (st.contacts > 0) {
		d->boot_backoff_ms = BOOT_RETRY_MIN_MS;
		uv_timer_start(t, boot_timer_cb, BOOT_CHECK_MS, 0);
		return;
	}
	log_info("routing table empty: bootstrapping again");
	bootstrap_all(d, d->clock.wall_ms(d->clock.self));
	uv_timer_start(t, boot_timer_cb, d->boot_backoff_ms, 0);
	d->boot_backoff_ms *= 2;
	if (d->boot_backoff_ms > BOOT_RETRY_MAX_MS)
		d->boot_backoff_ms = BOOT_RETRY_MAX_MS;
}

/* Link events for apps and tools; messaging will take the payloads. */
static void link_established_cb(void *arg, const uint8_t pk[LINK_PK_LEN],
				const struct dht_addr *addr)
{
	char key[LINK_PK_LEN * 2 + 1], a[ADDR_STR_MAX], ev[256];

	cx_hex_encode(key, sizeof key, pk, LINK_PK_LEN);
	addr_format(addr, a);
	snprintf(ev, sizeof ev, "{\"key\":\"%s\",\"addr\":\"%s\"}", key, a);
	node_emit(arg, "link.established", ev);
	if (((struct node *)arg)->chat != NULL)
		chat_link_up(((struct node *)arg)->chat, pk);
}

static void link_message_cb(void *arg, const uint8_t pk[LINK_PK_LEN],
			    const uint8_t *data, size_t len)
{
	struct node *n = arg;

	if (len > 0 && relay_frame_is_request(data[0])) {
		if (n->relay != NULL)
			relay_frame(n->relay, pk, data, len);
		return;
	}
	if (n->chat != NULL)
		chat_link_data(n->chat, pk, data, len);
}

static void link_closed_cb(void *arg, const uint8_t pk[LINK_PK_LEN],
			   int reason)
{
	char key[LINK_PK_LEN * 2 + 1], ev[160];

	cx_hex_encode(key, sizeof key, pk, LINK_PK_LEN);
	snprintf(ev, sizeof ev, "{\"key\":\"%s\",\"reason\":%d}", key,
		 reason);
	node_emit(arg, "link.closed", ev);
	if (((struct node *)arg)->chat != NULL)
		chat_link_down(((struct node *)arg)->chat, pk);
}

static void chat_notify(void *self)
{
	struct node *n = self;

	if (n->api != NULL)
		api_events_notify(n->api);
}

static void chat_kick(void *self)
{
	struct node *n = self;

	if (n->dht_kick != NULL)
		n->dht_kick(n->dht_kick_self);
}

static void trim_timer_cb(uv_timer_t *h)
{
	struct daemon *d = h->data;

	d->trim_commits = store_commits(d->node.store);
	(void)store_trim(d->node.store); /* only memory */
}

static void chat_check_cb(uv_check_t *h)
{
	struct daemon *d = h->data;

	if (d->node.chat != NULL)
		chat_flush(d->node.chat);
	if (d->node.relay != NULL)
		relay_flush(d->node.relay);
	/* After commits, trim the store's map once TRIM_AFTER_MS later: at
	 * most that often while busy, never while idle (no commits, no
	 * timer, no wake-up). */
	if (store_commits(d->node.store) != d->trim_commits &&
	    !uv_is_active((uv_handle_t *)&d->trim_timer))
		uv_timer_start(&d->trim_timer, trim_timer_cb, TRIM_AFTER_MS, 0);
}

/* Messaging over the links and the DHT.  0 or -1 (logged). */
static int start_chat(struct daemon *d)
{
	struct chat_config cc;
	int r;

	memset(&cc, 0, sizeof cc);
	cc.clock = &d->clock;
	cc.rng = d->env.rng;
	cc.id = &d->node.identity;
	cc.store = d->node.store;
	cc.msgs = d->node.msgs;
	cc.events = &d->node.events;
	cc.links = d->node.links;
	cc.dht = d->node.dht;
	cc.home_relays = (const uint8_t(*)[32])d->cfg.home_relays;
	cc.num_home_relays = (unsigned)d->cfg.num_home_relays;
	cc.home_relays_auto = d->cfg.home_relays_auto;
	cc.notify = chat_notify;
	cc.kick = chat_kick;
	cc.self = &d->node;
	if ((r = chat_new(&d->node.chat, &cc)) < 0) {
		log_error("cannot start messaging: %s", strerror(-r));
		return -1;
	}
	uv_timer_init(&d->loop, &d->trim_timer);
	d->trim_timer.data = d;
	uv_check_init(&d->loop, &d->chat_check);
	d->chat_check.data = d;
	uv_check_start(&d->chat_check, chat_check_cb);
	chat_start(d->node.chat);
	return 0;
}

/* Opens the UDP socket, creates the DHT, loads the saved routing table
 * and starts the bootstrap lookups.  0 or -1 (logged). */
static int start_dht(struct daemon *d)
{
	const char *listen = d->cfg.listen != NULL ? d->cfg.listen
						   : "0.0.0.0:0";
	struct dht_config dc;
	struct blob b = {NULL, 0};
	char err[300];
	uint64_t now;
	int r;

	memset(&dc, 0, sizeof dc);
	r = sys_udp_open(&d->sys_udp, &d->loop, &d->node, listen, &dc.io,
			 err, sizeof err);
	if (r < 0) {
		log_error("%s", err);
		return -1;
	}
	addr_format(sys_udp_local(d->sys_udp), d->node.listen_str);
	dc.node_pk = d->node.identity.node_pk;
	dc.node_sk = d->node.identity.node_sk;
	dc.rng = d->env.rng;
	/* A daemon talks to hundreds of nodes; without a cached shared key
	 * every packet to or from one costs an X25519 (about 50 us here, more
	 * than the rest of a loopback round trip).  68 bytes an entry. */
	dc.limits.key_cache = DHT_KEY_CACHE;
	if ((r = dht_new(&d->node.dht, &dc)) < 0) {
		log_error("cannot create the DHT: %s", strerror(-r));
		return -1;
	}
	{
		struct link_config lc;

		memset(&lc, 0, sizeof lc);
		lc.node_sk = d->node.identity.node_sk;
		lc.rng = d->env.rng;
		lc.io = dc.io; /* the same socket */
		lc.cb = (struct link_callbacks){link_established_cb,
						link_message_cb,
						link_closed_cb, &d->node};
		if ((r = link_mgr_new(&d->node.links, &lc)) < 0) {
			log_error("cannot create the link manager: %s",
				  strerror(-r));
			return -1;
		}
	}
	{
		struct relay_config rc;

		memset(&rc, 0, sizeof rc);
		rc.clock = &d->clock;
		rc.store = d->node.store;
		rc.links = d->node.links;
		rc.node_pk = d->node.identity.node_pk;
		rc.id = &d->node.identity;
		rc.dht = d->node.dht;
		rc.enabled = d->cfg.relay;
		if ((r = relay_new(&d->node.relay, &rc)) < 0) {
			log_error("cannot start the relay service: %s",
				  strerror(-r));
			return -1;
		}
		if (d->cfg.relay)
			log_info("relaying for others (store-and-forward)");
	}
	now = d->clock.wall_ms(d->clock.self);
	r = store_read(d->node.store, load_table_txn, &b);
	if (r == 0) {
		r = dht_table_load(d->node.dht, now, b.buf, b.len);
		if (r < 0)
			log_warn("saved routing table unreadable; ignored");
		else
			log_info("loaded %d contacts from the last run", r);
		free(b.buf);
	}
	for (size_t i = 0; i < d->cfg.num_bootstrap; i++) {
		uint8_t key[CX_X_PK_LEN];
		struct dht_addr a;
		bool has_key;

		if (addr_parse(d->cfg.bootstrap[i], &a, key, &has_key,
			       false) < 0) {
			log_error("--bootstrap '%s': expected host:port or "
				  "NODEKEY@host:port with a numeric host",
				  d->cfg.bootstrap[i]);
			return -1;
		}
	}
	d->node.dht_kick = sys_udp_kick;
	d->node.dht_kick_self = d->sys_udp;
	if ((r = sys_udp_attach(d->sys_udp)) < 0) {
		log_error("UDP receive: %s", uv_strerror(r));
		return -1;
	}
	bootstrap_all(d, now);
	if (d->cfg.lan &&
	    (r = sys_lan_start(&d->sys_lan, &d->loop, &d->node,
			       sys_udp_local(d->sys_udp)->port)) < 0)
		log_warn("LAN discovery off: %s", uv_strerror(r));
	uv_timer_init(&d->loop, &d->save_timer);
	d->save_timer.data = d;
	uv_timer_start(&d->save_timer, save_timer_cb, DHT_SAVE_EVERY_MS,
		       DHT_SAVE_EVERY_MS);
	if (d->cfg.num_bootstrap > 0) {
		uv_timer_init(&d->loop, &d->boot_timer);
		d->boot_timer.data = d;
		d->boot_backoff_ms = BOOT_RETRY_MIN_MS;
		/* First look once a join had time to finish. */
		uv_timer_start(&d->boot_timer, boot_timer_cb,
			       3 * BOOT_RETRY_MIN_MS, 0);
	}
	log_info("DHT on udp %s", d->node.listen_str);
	return 0;
}

static void daemon_stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	log_info("stopping");
	sys_notify("STOPPING=1");
	node_emit(&d->node, "node.stopping", "{}");
	save_table(d);
	if (d->node.chat != NULL) {
		chat_flush(d->node.chat);
		chat_goodbye(d->node.chat);
	}
	if (d->chat_check.data != NULL) {
		uv_close((uv_handle_t *)&d->chat_check, NULL);
		uv_close((uv_handle_t *)&d->trim_timer, NULL);
	}
	d->node.dht_kick = NULL;
	sys_lan_stop(d->sys_lan);
	d->sys_lan = NULL;
	sys_udp_close(d->sys_udp);
	d->sys_udp = NULL;
	if (d->save_timer.data != NULL)
		uv_close((uv_handle_t *)&d->save_timer, NULL);
	if (d->boot_timer.data != NULL)
		uv_close((uv_handle_t *)&d->boot_timer, NULL);
	/* Graceful: clients get what is queued for them; the loop ends
	 * when the last handle is closed. */
	sys_api_stop(d->sys_api);
	d->sys_api = NULL;
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
}

static void request_stop(void *self)
{
	daemon_stop(self);
}

static void reload(struct daemon *d)
{
	struct node_config fresh;

	config_init(&fresh);
	if (load_config_file(d, &fresh) < 0) {
		log_warn("SIGHUP: config not reloaded");
		config_free(&fresh);
		return;
	}
	/* Only what can change at run time; the rest needs a restart.  The
	 * command line still wins over the file. */
	if (!d->level_given) {
		log_set_level(fresh.log_level);
		d->cfg.log_level = fresh.log_level;
	}
	if (d->log_path != NULL) {
		if (log_open(d->log_path) < 0)
			log_warn("SIGHUP: cannot reopen %s", d->log_path);
		else if (d->ready_fd < 0 && !d->cfg.foreground)
			dup2(log_fd(), STDERR_FILENO);
	}
	config_free(&fresh);
	log_info("SIGHUP: config reloaded, log reopened");
	node_emit(&d->node, "node.reloaded", "{}");
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (signum == SIGHUP)
		reload(d);
	else
		daemon_stop(d);
}

/* Detaches: the parent waits on a pipe for "ok" (or an error text) from
 * the child and exits with 0 or 1 accordingly.  Returns in the child. */
static int detach(struct daemon *d)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char buf[512];
		ssize_t n;

		close(fds[1]);
		do {
			n = read(fds[0], buf, sizeof buf - 1);
		} while (n < 0 && errno == EINTR);
		if (n == 2 && memcmp(buf, "ok", 2) == 0)
			_exit(0);
		/* The child failed: say why here, not only in its log. */
		if (n > 0) {
			buf[n] = '\0';
			fprintf(stderr, "parleyd: %s\n", buf);
		} else {
			fprintf(stderr, "parleyd: failed to start\n");
		}
		_exit(1);
	}
	close(fds[0]);
	d->ready_fd = fds[1];
	setsid();
	/* Until the log file is open, errors reach the terminal through
	 * the parent (tell_parent), once. */
	{
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	return 0;
}

static void tell_parent(struct daemon *d, const char *what)
{
	if (d->ready_fd >= 0) {
		ssize_t n = write(d->ready_fd, what, strlen(what));

		(void)n;
		close(d->ready_fd);
		d->ready_fd = -1;
	}
}

/* A detached daemon keeps no terminal: stdin and stdout go to
 * /dev/null, stderr to the log file (so crashes and sanitizer reports
 * land there too). */
static void stdio_detach(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(log_fd() >= 0 ? log_fd() : fd, STDERR_FILENO);
	close(fd);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct store_opts sopts = {0};
	char path[PATH_MAX], err[400];
	char *log_default = NULL;
	enum { S_NONE, S_LOCK, S_LOOP, S_IDENT, S_STORE, S_API } stage = S_NONE;
	int r, status = 1;

	memset(&d, 0, sizeof d);
	d.lock_fd = -1;
	d.ready_fd = -1;
	config_init(&d.cfg);
	signal(SIGPIPE, SIG_IGN);
	r = parse_settings(&d, argc, argv);
	if (r != 0) {
		status = r > 0 ? 0 : 64; /* EX_USAGE */
		goto out;
	}
	log_set_level(d.cfg.log_level);
	d.log_path = d.cfg.log_file;
	if (d.cfg.log_file != NULL && (r = log_open(d.cfg.log_file)) < 0) {
		log_error("cannot open log file %s: %s", d.cfg.log_file,
			  strerror(-r));
		goto out;
	}
	if (cx_init() < 0) {
		log_error("libsodium failed to initialise");
		goto out;
	}
	d.data_dir = d.cfg.data_dir != NULL ? strdup(d.cfg.data_dir)
					    : sys_default_data_dir();
	d.socket_private = d.cfg.socket_path == NULL;
	d.socket_path = d.cfg.socket_path != NULL ? strdup(d.cfg.socket_path)
						  : sys_default_socket();
	if (d.data_dir == NULL || d.socket_path == NULL)
		goto out;
	if ((r = sys_mkdir_p(d.data_dir, 0700)) < 0) {
		log_error("cannot create data directory %s: %s", d.data_dir,
			  strerror(-r));
		goto out;
	}
	if (!d.cfg.foreground) {
		if ((r = detach(&d)) < 0) {
			log_error("cannot detach: %s", strerror(-r));
			goto out;
		}
	}
	if ((r = sys_lock_dir(d.data_dir, &d.lock_fd)) < 0) {
		log_error("%s: %s", d.data_dir,
			  r == -EBUSY ? "another parleyd is using this data "
					"directory"
				      : strerror(-r));
		goto out;
	}
	/* Detached without --log-file: log into the data directory, which
	 * is ours now that we hold its lock. */
	if (d.ready_fd >= 0 && d.cfg.log_file == NULL) {
		snprintf(path, sizeof path, "%s/parleyd.log", d.data_dir);
		log_default = strdup(path);
		if (log_default == NULL || log_open(log_default) < 0)
			log_warn("cannot open %s", path);
		d.log_path = log_default;
	}
	stage = S_LOCK;
	if ((r = uv_loop_init(&d.loop)) < 0) {
		log_error("event loop: %s", uv_strerror(r));
		goto out;
	}
	stage = S_LOOP;
	sys_clock_init(&d.clock, &d.loop);
	d.env.clock = &d.clock;
	/* Everything on the loop (message ids, nonces, DHT and link
	 * randomness) draws from one buffered generator over the system's;
	 * key files are still made from rng_system() directly. */
	if ((r = cx_drbg_new(&d.drbg, rng_system())) < 0) {
		log_error("random generator: %s", strerror(-r));
		goto out;
	}
	d.env.rng = cx_drbg_rng(d.drbg);
	d.node.env = &d.env;
	d.node.cfg = &d.cfg;
	d.node.data_dir = d.data_dir;
	d.node.socket_path = d.socket_path;
	d.node.pid = (int)getpid();
	d.node.started_mono_ms = d.clock.mono_ms(d.clock.self);
	d.node.request_stop = request_stop;
	d.node.stop_self = &d;
	if (load_identity(&d) < 0)
		goto out;
	stage = S_IDENT;
	if (node_derive_ids(&d.node) < 0)
		goto out;
	snprintf(path, sizeof path, "%s/db", d.data_dir);
	if ((r = sys_mkdir_p(path, 0700)) < 0 ||
	    (r = store_open(&d.node.store, path, &sopts)) < 0) {
		log_error("cannot open the store in %s: %s", path,
			  strerror(-r));
		goto out;
	}
	stage = S_STORE;
	/* The store's contents are sealed under keys derived from the key
	 * file: a key file that is not the one the database was made with
	 * must stop us before anything is written. */
	r = msgstore_open(&d.node.msgs, d.node.store, &d.node.identity,
			  d.env.rng);
	if (r == -EKEYREJECTED) {
		log_error("the database in %s/db was made with another key "
			  "file; refusing to start (put back the matching "
			  "identity.key)",
			  d.data_dir);
		goto out;
	}
	if (r < 0) {
		log_error("cannot open the message store: %s", strerror(-r));
		goto out;
	}
	/* after msgstore_open's key check: the log is sealed under a key of
	 * the same key file (and older plaintext events are sealed now) */
	if ((r = events_open(&d.node.events, d.node.store,
			     d.cfg.event_log_max, &d.node.identity,
			     d.env.rng)) < 0) {
		log_error("cannot read the event log: %s", strerror(-r));
		goto out;
	}
	/* message.received events refer to the history for their bodies */
	events_set_body_fn(&d.node.events, msgstore_event_body, d.node.msgs);
	/* Reserve the first block of dht.put sequence numbers now, so that
	 * no put waits for that commit. */
	if ((r = ownseq_open(&d.node.ownseq, d.node.store)) < 0) {
		log_error("cannot reserve record sequence numbers: %s",
			  strerror(-r));
		goto out;
	}
	if (start_dht(&d) < 0 || start_chat(&d) < 0)
		goto out;
	if ((r = api_new(&d.api, &d.node)) < 0)
		goto out;
	d.node.api = d.api;
	r = sys_api_start(&d.sys_api, &d.loop, d.api, d.socket_path,
			  d.socket_private, err, sizeof err);
	if (r < 0) {
		log_error("%s", err);
		goto out;
	}
	stage = S_API;
	uv_signal_init(&d.loop, &d.sig_term);
	uv_signal_init(&d.loop, &d.sig_int);
	uv_signal_init(&d.loop, &d.sig_hup);
	d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
	uv_signal_start(&d.sig_term, signal_cb, SIGTERM);
	uv_signal_start(&d.sig_int, signal_cb, SIGINT);
	uv_signal_start(&d.sig_hup, signal_cb, SIGHUP);
	snprintf(err, sizeof err, "{\"version\":\"%s\",\"pid\":%d}",
		 PACKAGE_VERSION, d.node.pid);
	if ((r = node_emit(&d.node, "node.started", err)) < 0)
		log_warn("cannot log the start event: %s", strerror(-r));
	log_info("listening on %s (data in %s)", d.socket_path, d.data_dir);
	sys_notify("READY=1");
	if (d.ready_fd >= 0) {
		tell_parent(&d, "ok");
		stdio_detach();
	}
	d.started = true;
	uv_run(&d.loop, UV_RUN_DEFAULT);
	status = 0;
out:
	if (stage >= S_API && d.sys_api != NULL) {
		sys_api_stop(d.sys_api);
		d.sys_api = NULL;
	}
	sys_lan_stop(d.sys_lan);
	d.sys_lan = NULL;
	if (d.sys_udp != NULL) {
		sys_udp_close(d.sys_udp);
		d.sys_udp = NULL;
	}
	if (stage >= S_LOOP) {
		uv_walk(&d.loop, on_close_walk, NULL);
		uv_run(&d.loop, UV_RUN_DEFAULT); /* close callbacks */
		uv_loop_close(&d.loop);
	}
	chat_free(d.node.chat); /* answers what it still owes first */
	d.node.chat = NULL;
	relay_free(d.node.relay);
	d.node.relay = NULL;
	api_free(d.api);
	msgstore_close(d.node.msgs);
	events_close(&d.node.events);
	link_mgr_free(d.node.links);
	dht_free(d.node.dht);
	if (stage >= S_STORE)
		store_close(d.node.store);
	if (stage >= S_IDENT)
		cx_identity_close(&d.node.identity);
	cx_drbg_free(d.drbg);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	if (status != 0 && d.ready_fd >= 0)
		tell_parent(&d, log_last_error()[0] != '\0' ? log_last_error()
							   : "failed to start");
	else if (d.started)
		log_info("stopped");
	config_free(&d.cfg);
	free(d.config_path);
	free(d.data_dir);
	free(d.socket_path);
	free(log_default);
	log_close();
	return status;
}
