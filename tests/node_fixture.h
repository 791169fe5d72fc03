/* A struct node for tests and fuzz targets, without a daemon: a real
 * store in a temporary directory, an identity from a seeded generator, a
 * clock the test moves, and a fake API client that collects what the node
 * would have written to the socket.  Header-only (static functions) so
 * each test program includes it once. */
#ifndef PARLEY_TESTS_NODE_FIXTURE_H
#define PARLEY_TESTS_NODE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/cx.h"
#include "crypto/keys.h"
#include "node/api.h"
#include "node/msgstore.h"
#include "node/node.h"
#include "store/store.h"

struct fx_rng {
	uint64_t s;
};

static inline void fx_rng_fill(void *self, uint8_t *buf, size_t len)
{
	struct fx_rng *r = self;

	for (size_t i = 0; i < len; i++) {
		r->s ^= r->s << 13;
		r->s ^= r->s >> 7;
		r->s ^= r->s << 17;
		buf[i] = (uint8_t)r->s;
	}
}

struct fx_clock {
	uint64_t mono, wall;
};

static inline uint64_t fx_mono(void *self)
{
	return ((struct fx_clock *)self)->mono;
}

static inline uint64_t fx_wall(void *self)
{
	return ((struct fx_clock *)self)->wall;
}

/* A client that keeps everything written to it. */
struct fx_client {
	char *out;
	size_t len, cap;
	size_t fake_queued; /* what queued() reports on top of len */
	bool count_len;	    /* report len as queued (back-pressure tests) */
	struct api_client *c;
};

static inline int fx_write(void *self, const char *buf, size_t len)
{
	struct fx_client *f = self;

	if (f->len + len + 1 > f->cap) {
		size_t cap = (f->len + len + 1) * 2;
		char *p = realloc(f->out, cap);

		if (p == NULL)
			return -12;
		f->out = p;
		f->cap = cap;
	}
	memcpy(f->out + f->len, buf, len);
	f->len += len;
	f->out[f->len] = '\0';
	return 0;
}

static inline size_t fx_queued(void *self)
{
	struct fx_client *f = self;

	return f->fake_queued + (f->count_len ? f->len : 0);
}

static inline void fx_client_reset(struct fx_client *f)
{
	f->len = 0;
	if (f->out != NULL)
		f->out[0] = '\0';
}

struct fx_node {
	char dir[64];
	struct fx_rng rng_state;
	struct rng rng;
	struct fx_clock clk_state;
	struct clock clk;
	struct node_env env;
	struct node_config cfg;
	struct node node;
	struct api *api;
};

/* Sets up everything; returns 0 or a negative errno. */
static inline int fx_node_init(struct fx_node *fx, uint64_t seed, uint64_t max_keep)
{
	int r;

	memset(fx, 0, sizeof *fx);
	snprintf(fx->dir, sizeof fx->dir, "/tmp/parley-fx.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	if ((r = cx_init()) < 0)
		return r;
	fx->rng_state.s = seed | 1;
	fx->rng = (struct rng){fx_rng_fill, &fx->rng_state};
	fx->clk_state = (struct fx_clock){1000, 1700000000000ULL};
	fx->clk = (struct clock){fx_mono, fx_wall, &fx->clk_state};
	fx->env = (struct node_env){&fx->clk, &fx->rng};
	config_init(&fx->cfg);
	fx->node.env = &fx->env;
	fx->node.cfg = &fx->cfg;
	fx->node.data_dir = fx->dir;
	fx->node.socket_path = "/nonexistent/test.sock";
	fx->node.pid = 1;
	fx->node.started_mono_ms = 1000;
	if ((r = cx_identity_generate(&fx->node.identity, &fx->rng, 1)) < 0)
		return r;
	if ((r = node_derive_ids(&fx->node)) < 0)
		return r;
	if ((r = store_open(&fx->node.store, fx->dir,
			    &(struct store_opts){.no_sync = true})) < 0)
		return r;
	if ((r = msgstore_open(&fx->node.msgs, fx->node.store,
			       &fx->node.identity, &fx->rng)) < 0)
		return r;
	if ((r = events_open(&fx->node.events, fx->node.store, max_keep,
			     &fx->node.identity, &fx->rng)) < 0)
		return r;
	events_set_body_fn(&fx->node.events, msgstore_event_body,
			   fx->node.msgs);
	if ((r = api_new(&fx->api, &fx->node)) < 0)
		return r;
	fx->node.api = fx->api;
	return 0;
}

static inline int fx_client_open(struct fx_node *fx, struct fx_client *f)
{
	struct api_client_ops ops = {fx_write, fx_queued, f};

	memset(f, 0, sizeof *f);
	return api_client_new(fx->api, &ops, &f->c);
}

static inline void fx_client_close(struct fx_client *f)
{
	api_client_free(f->c);
	free(f->out);
	memset(f, 0, sizeof *f);
}

static inline void fx_node_close(struct fx_node *fx)
{
	char cmd[128];

	api_free(fx->api);
	events_close(&fx->node.events);
	msgstore_close(fx->node.msgs);
	fx->node.msgs = NULL;
	store_close(fx->node.store);
	cx_identity_close(&fx->node.identity);
	config_free(&fx->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", fx->dir);
}

/* Sends one request line. */
static inline int fx_call(struct fx_client *f, const char *line)
{
	return api_client_line(f->c, line, strlen(line));
}

#endif
