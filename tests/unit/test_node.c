/* Unit tests of the node core without a socket: the config parser, the
 * JSON-RPC request path, and the event log with its pump (replay,
 * filters, back-pressure, overflow after pruning), and the block
 * reservation of own record sequence numbers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "node/config.h"
#include "node/err.h"
#include "node/ownseq.h"
#include "tests/node_fixture.h"

/* --- config --- */

static void config_good(void **state)
{
	static const char text[] = "# comment\n"
				   "  data-dir = /srv/parley  \n"
				   "\n"
				   "log-level=debug\r\n"
				   "foreground = yes\n"
				   "bootstrap = 127.0.0.1:4000\n"
				   "bootstrap = [::1]:4000\n"
				   "event-log-max = 5\n";
	struct node_config c;
	char err[300] = "";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse(&c, text, sizeof text - 1, err,
				      sizeof err),
			 0);
	assert_string_equal(c.data_dir, "/srv/parley");
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_true(c.foreground);
	assert_int_equal(c.num_bootstrap, 2);
	assert_string_equal(c.bootstrap[1], "[::1]:4000");
	assert_int_equal(c.event_log_max, 5);
	config_free(&c);
}

static void config_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{"a = 1\n", "line 1: unknown setting 'a'"},
		{"\n\nforeground = maybe\n", "line 3: 'foreground' takes true"},
		{"log-level = loud\n", "line 1: 'log-level' takes error"},
		{"socket =\n", "line 1: 'socket' needs a value"},
		{"just words\n", "line 1: expected key = value"},
		{"event-log-max = -4\n", "line 1: 'event-log-max' takes a"},
		{"event-log-max = 99999999999999999999999\n", "line 1: "},
	};
	char err[300];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct node_config c;

		config_init(&c);
		err[0] = '\0';
		assert_true(config_parse(&c, cases[i].text,
					 strlen(cases[i].text), err,
					 sizeof err) < 0);
		assert_memory_equal(err, cases[i].err, strlen(cases[i].err));
		config_free(&c);
	}
}

static void config_limits(void **state)
{
	struct node_config c;
	char err[300];
	char *big;
	size_t n = CONFIG_LINE_MAX + 10;

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	config_init(&c);
	assert_int_equal(config_parse(&c, big, n, err, sizeof err), -E2BIG);
	config_free(&c);
	free(big);
	config_init(&c);
	for (int i = 0; i < CONFIG_BOOTSTRAP_MAX; i++)
		assert_int_equal(config_set(&c, "bootstrap", "h:1", err,
					    sizeof err),
				 0);
	assert_int_equal(config_set(&c, "bootstrap", "h:1", err, sizeof err),
			 -E2BIG);
	config_free(&c);
	/* home relays: 64 hex digits, not all zero; a repeat is taken once;
	 * at most CONFIG_HOME_RELAYS_MAX */
	config_init(&c);
	{
		char key[65];

		assert_int_equal(config_set(&c, "home-relay", "12", err,
					    sizeof err),
				 -EINVAL);
		assert_false(c.home_relays_auto);
		assert_int_equal(config_set(&c, "home-relay", "auto", err,
					    sizeof err),
				 0);
		assert_true(c.home_relays_auto);
		assert_int_equal(c.num_home_relays, 0);
		memset(key, '0', 64);
		key[64] = '\0';
		assert_int_equal(config_set(&c, "home-relay", key, err,
					    sizeof err),
				 -EINVAL);
		key[5] = 'g';
		assert_int_equal(config_set(&c, "home-relay", key, err,
					    sizeof err),
				 -EINVAL);
		for (int i = 0; i < CONFIG_HOME_RELAYS_MAX; i++) {
			snprintf(key, sizeof key, "%064x", i + 1);
			assert_int_equal(config_set(&c, "home-relay", key, err,
						    sizeof err),
					 0);
			assert_int_equal(config_set(&c, "home-relay", key, err,
						    sizeof err),
					 0);
		}
		assert_int_equal(c.num_home_relays, CONFIG_HOME_RELAYS_MAX);
		assert_int_equal(c.home_relays[0][31], 1);
		snprintf(key, sizeof key, "%064x", 99);
		assert_int_equal(config_set(&c, "home-relay", key, err,
					    sizeof err),
				 -E2BIG);
	}
	config_free(&c);
	config_init(&c);
	assert_int_equal(config_parse(&c, "a\0b = c\n", 8, err, sizeof err),
			 -EINVAL);
	config_free(&c);
}

/* --- API --- */

struct env {
	struct fx_node fx;
	struct fx_client cl;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);

	if (e == NULL || fx_node_init(&e->fx, 7, 1000) < 0 ||
	    fx_client_open(&e->fx, &e->cl) < 0)
		return -1;
	*state = e;
	return 0;
}

static int setup_small_log(void **state)
{
	struct env *e = calloc(1, sizeof *e);

	if (e == NULL || fx_node_init(&e->fx, 7, 5) < 0 ||
	    fx_client_open(&e->fx, &e->cl) < 0)
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fx_client_close(&e->cl);
	fx_node_close(&e->fx);
	free(e);
	return 0;
}

/* Parses the single line of output and resets the client. */
static json_t *one_answer(struct fx_client *f)
{
	json_error_t err;
	json_t *o;
	char *nl = strchr(f->out, '\n');

	assert_non_null(nl);
	assert_true(nl[1] == '\0');
	o = json_loads(f->out, 0, &err);
	assert_non_null(o);
	fx_client_reset(f);
	return o;
}

static int error_code(json_t *o)
{
	return (int)json_integer_value(
		json_object_get(json_object_get(o, "error"), "code"));
}

static const char *error_field(json_t *o)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(o, "error"), "data"),
		"field"));
}

static void api_version(void **state)
{
	struct env *e = *state;
	json_t *o;

	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":"
			"\"api.version\"}");
	o = one_answer(&e->cl);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "x");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(o, "result"), "major")),
			 API_VERSION_MAJOR);
	json_decref(o);
}

/* The request reader (node/jsonr.c): ids come back as they were meant
 * (escapes read), strings in params are unescaped, and the parse error
 * says where. */
static void api_ids_and_strings(void **state)
{
	static const struct {
		const char *req;
		const char *answer; /* a part of the answer line */
	} cases[] = {
		{"{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041b\\n\",\"method\":"
		 "\"api.version\"}",
		 "\"id\":\"Ab\\n\",\"result\""},
		{"{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,"
		 "\"method\":\"api.version\"}",
		 "\"id\":-9223372036854775808,\"result\""},
		/* node.status answers through jsonw: the same envelope. */
		{"{\"jsonrpc\":\"2.0\",\"id\":-5,\"method\":\"node.status\"}",
		 "{\"jsonrpc\":\"2.0\",\"id\":-5,\"result\":{\"version\":"},
		{"{\"jsonrpc\":\"2.0\",\"id\":\"\\\"\",\"method\":\"node.status\"}",
		 "{\"jsonrpc\":\"2.0\",\"id\":\"\\\"\",\"result\":{"},
		{"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"nope\"}",
		 "\"id\":null,\"error\":{\"code\":-32601"},
		{"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"x\"}",
		 "\"id\":null,\"error\":{\"code\":-32600"},
		{"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"x\"}",
		 "\"field\":\"id\""},
		{"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}",
		 "\"field\":\"id\""},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"api.version\"",
		 "parse error at byte 46: ',' or '}' expected"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"api.version\","
		 "\"id\":2}",
		 "parse error at byte 47: duplicate key"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"m\\u0065thod\":"
		 "\"profile.s\\u0065t\",\"params\":{\"name\":\"\\u00e9\\\"\"}}",
		 "\"result\":{\"name\":\"\xc3\xa9\\\"\"}"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"profile.set\","
		 "\"params\":{\"n\\u00e9\":1}}",
		 "\"field\":\"n\xc3\xa9\""},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"api.version\","
		 "\"\\u00e9\":1}",
		 "unknown member '\xc3\xa9'"},
	};
	struct env *e = *state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fx_call(&e->cl, cases[i].req);
		if (e->cl.len == 0 || strchr(e->cl.out, '\n') == NULL)
			fail_msg("case %zu: no answer", i);
		if (strstr(e->cl.out, cases[i].answer) == NULL)
			fail_msg("case %zu: %s", i, e->cl.out);
		fx_client_reset(&e->cl);
	}
}

static void api_errors(void **state)
{
	static const struct {
		const char *req;
		int code;
		const char *field;
	} cases[] = {
		{"{", -32700, NULL},
		{"[]", -32600, NULL},
		{"17", -32600, NULL},
		{"{\"jsonrpc\":\"2.0\",\"id\":1}", -32600, "method"},
		{"{\"jsonrpc\":\"2\",\"id\":1,\"method\":\"api.version\"}",
		 -32600, "jsonrpc"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"api.version\"}",
		 -32600, "id"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", -32601,
		 NULL},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"api.version\","
		 "\"params\":[]}",
		 -32602, "params"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"api.version\","
		 "\"params\":{\"x\":1}}",
		 -32602, "x"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"profile.set\","
		 "\"params\":{}}",
		 -32602, "name"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"profile.set\","
		 "\"params\":{\"name\":\"a\\u0000b\"}}",
		 -32700, NULL}, /* NUL in a string is refused by the parser */
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\","
		 "\"params\":{\"since\":-1}}",
		 -32602, "since"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\","
		 "\"params\":{\"types\":[1]}}",
		 -32602, "types"},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}",
		 -32700, NULL},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"extra\":1}",
		 -32600, "extra"},
	};
	struct env *e = *state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *o;

		fx_call(&e->cl, cases[i].req);
		o = one_answer(&e->cl);
		assert_int_equal(error_code(o), cases[i].code);
		if (cases[i].field != NULL)
			assert_string_equal(error_field(o), cases[i].field);
		json_decref(o);
	}
	/* A name over the limit. */
	{
		char req[256];
		json_t *o;

		snprintf(req, sizeof req,
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			 "\"profile.set\",\"params\":{\"name\":\"%0*d\"}}",
			 NODE_PROFILE_NAME_MAX + 1, 0);
		fx_call(&e->cl, req);
		o = one_answer(&e->cl);
		assert_int_equal(error_code(o), -32602);
		json_decref(o);
	}
	/* Notifications get no answer, even wrong ones. */
	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}");
	assert_int_equal(e->cl.len, 0);
	api_client_line_too_big(e->cl.c);
	{
		json_t *o = one_answer(&e->cl);

		assert_int_equal(error_code(o), -32001);
		json_decref(o);
	}
}

static void set_name(struct env *e, int i)
{
	char req[200];
	json_t *o;

	snprintf(req, sizeof req,
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"profile.set\","
		 "\"params\":{\"name\":\"n%d\"}}",
		 i, i);
	fx_call(&e->cl, req);
	o = one_answer(&e->cl);
	assert_non_null(json_object_get(o, "result"));
	json_decref(o);
}

/* Counts "event" lines and checks their seqs are from+1, from+2, ... */
static size_t count_events(const char *out, uint64_t from)
{
	size_t n = 0;
	const char *p = out;

	while ((p = strstr(p, "\"method\":\"event\"")) != NULL) {
		const char *s = strstr(p, "\"seq\":");

		assert_non_null(s);
		assert_int_equal(strtoull(s + 6, NULL, 10), from + n + 1);
		n++;
		p = s;
	}
	return n;
}

static void events_replay_and_live(void **state)
{
	struct env *e = *state;
	struct fx_client other;
	char req[200];
	uint64_t base = e->fx.node.events.last_seq;

	for (int i = 0; i < 10; i++)
		set_name(e, i);
	assert_int_equal(e->fx.node.events.last_seq, base + 10);
	/* Replay from the middle, then live events follow. */
	snprintf(req, sizeof req,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"events.subscribe\","
		 "\"params\":{\"since\":%llu}}",
		 (unsigned long long)(base + 4));
	fx_call(&e->cl, req);
	assert_non_null(strstr(e->cl.out, "\"result\""));
	assert_int_equal(count_events(e->cl.out, base + 4), 6);
	fx_client_reset(&e->cl);
	/* Another client's request makes an event this one receives. */
	assert_int_equal(fx_client_open(&e->fx, &other), 0);
	fx_call(&other, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"profile.set\",\"params\":{\"name\":\"z\"}}");
	assert_int_equal(count_events(e->cl.out, base + 10), 1);
	assert_non_null(strstr(e->cl.out, "\"name\":\"z\""));
	assert_null(strstr(other.out, "\"method\":\"event\""));
	fx_client_close(&other);
}

static void events_filter(void **state)
{
	struct env *e = *state;

	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"events.subscribe\",\"params\":{\"since\":0,"
			"\"types\":[\"no.such\"]}}");
	fx_client_reset(&e->cl);
	set_name(e, 1);
	assert_null(strstr(e->cl.out, "\"method\":\"event\""));
}

static void events_backpressure(void **state)
{
	struct env *e = *state;
	uint64_t base = e->fx.node.events.last_seq;

	for (int i = 0; i < 300; i++)
		set_name(e, i);
	/* Every event line counts against the queue; the pump must stop
	 * at the high water mark and go on when drained. */
	e->cl.fake_queued = API_CLIENT_HIGH_WATER;
	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"events.subscribe\",\"params\":{\"since\":0}}");
	assert_null(strstr(e->cl.out, "\"method\":\"event\""));
	fx_client_reset(&e->cl);
	e->cl.fake_queued = 0;
	api_client_drained(e->cl.c);
	assert_int_equal(count_events(e->cl.out, 0), base + 300);
}

static void events_overflow(void **state)
{
	struct env *e = *state;
	json_t *o;

	/* The log keeps 5: a client asking from 0 after 12 is told. */
	for (int i = 0; i < 12; i++)
		set_name(e, i);
	assert_int_equal(e->fx.node.events.first_seq, 8);
	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"events.subscribe\",\"params\":{\"since\":0}}");
	assert_non_null(strstr(e->cl.out, "\"method\":\"events.overflow\""));
	assert_non_null(strstr(e->cl.out, "\"resume_since\":7"));
	fx_client_reset(&e->cl);
	/* Resuming from there gets exactly the kept events. */
	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"events.subscribe\",\"params\":{\"since\":7}}");
	assert_int_equal(count_events(e->cl.out, 7), 5);
	fx_client_reset(&e->cl);
	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"events.unsubscribe\"}");
	o = one_answer(&e->cl);
	assert_true(json_is_true(json_object_get(json_object_get(o, "result"),
						 "was_subscribed")));
	json_decref(o);
}

static void events_survive_reopen(void **state)
{
	struct env *e = *state;
	uint64_t last;

	for (int i = 0; i < 3; i++)
		set_name(e, i);
	last = e->fx.node.events.last_seq;
	events_close(&e->fx.node.events);
	assert_int_equal(events_open(&e->fx.node.events, e->fx.node.store,
				     1000, &e->fx.node.identity, &e->fx.rng),
			 0);
	assert_int_equal(e->fx.node.events.last_seq, last);
	set_name(e, 9);
	assert_int_equal(e->fx.node.events.last_seq, last + 1);
}

/* Events appended in a caller's transaction (as chat does) keep their
 * numbers across a reopen although META's events.last is not written for
 * them, even when they pruned the whole log before them; each is stored as
 * {"seq","type","at","data"}. */
struct batch_ctx {
	struct events *ev;
	struct events_batch b;
	int n;
};

static int batch_fn(struct store_txn *t, void *arg)
{
	struct batch_ctx *bc = arg;
	int r = 0;

	events_batch_begin(bc->ev, &bc->b);
	for (int i = 0; i < bc->n && r == 0; i++)
		r = events_append_txn(bc->ev, t, &bc->b, 1234567890123ull,
				      "test.batch", "{\"i\":1}");
	return r;
}

static int first_event(void *ctx, uint64_t seq, const char *type,
		       const char *json, size_t json_len)
{
	char *out = ctx;

	snprintf(out, 256, "%llu %s %.*s", (unsigned long long)seq, type,
		 (int)json_len, json);
	return 1;
}

static void events_batch_reopen(void **state)
{
	struct env *e = *state;
	struct events *ev = &e->fx.node.events;
	struct batch_ctx bc = {.ev = ev, .n = 7}; /* more than the 5 kept */
	char got[256], want[256];
	uint64_t last;

	set_name(e, 1);
	assert_int_equal(store_write(e->fx.node.store, batch_fn, &bc), 0);
	events_batch_commit(ev, &bc.b);
	last = ev->last_seq;
	events_close(ev);
	assert_int_equal(events_open(ev, e->fx.node.store, 5,
				     &e->fx.node.identity, &e->fx.rng),
			 0);
	assert_int_equal(ev->last_seq, last);
	assert_int_equal(ev->first_seq, last - 4);
	assert_int_equal(events_read(ev, last - 1, 1, first_event, got), 1);
	snprintf(want, sizeof want,
		 "%llu test.batch {\"seq\":%llu,\"type\":\"test.batch\","
		 "\"at\":1234567890123,\"data\":{\"i\":1}}",
		 (unsigned long long)last, (unsigned long long)last);
	assert_string_equal(got, want);
	set_name(e, 9);
	assert_int_equal(ev->last_seq, last + 1);
}

/* Events are sealed at rest (DESIGN.md 3: a copied database reveals no
 * content): the stored value holds none of the event's text, a changed
 * byte or a value moved to another seq is passed on as events.unreadable
 * (and the reader goes past it), and a value stored in plaintext by an
 * earlier version is sealed when the log is opened and reads as before. */
struct raw_ev {
	uint64_t seq;
	uint8_t *val;
	size_t len;
};

static int raw_get(struct store_txn *t, void *ctx)
{
	struct raw_ev *re = ctx;
	uint8_t k[8];

	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(re->seq >> (56 - 8 * i));
	free(re->val);
	re->val = NULL;
	return store_get_alloc(t, STORE_TABLE_EVENTS, k, 8, &re->val,
			       &re->len);
}

static int raw_put(struct store_txn *t, void *ctx)
{
	struct raw_ev *re = ctx;
	uint8_t k[8];

	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(re->seq >> (56 - 8 * i));
	return store_put(t, STORE_TABLE_EVENTS, k, 8, re->val, re->len);
}

static int unmark_sealed(struct store_txn *t, void *ctx)
{
	(void)ctx;
	return store_del(t, STORE_TABLE_META, "events.sealed", 13);
}

struct seen {
	int n;
	uint64_t seq[8];
	char text[8][200];
};

static int collect(void *ctx, uint64_t seq, const char *type,
		   const char *json, size_t json_len)
{
	struct seen *sn = ctx;

	if (sn->n < 8) {
		sn->seq[sn->n] = seq;
		snprintf(sn->text[sn->n], sizeof sn->text[0], "%s %.*s", type,
			 (int)json_len, json);
		sn->n++;
	}
	return 0;
}

static bool has_bytes(const uint8_t *h, size_t hl, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, needle, nl) == 0)
			return true;
	return false;
}

/* A message.received event keeps its body in the history only: the
 * stored value (version 0x02) holds neither the body nor the rest of
 * the text, readers get the event exactly as it was appended, from memory
 * and, after a reopen, from the store; a log without the history's help,
 * or whose message is not there, says body_omitted; a reference that
 * does not point at the body's string is refused. */
struct ref_ctx {
	struct events *ev;
	struct events_batch b;
	const char *json;
	struct events_ref ref;
	uint64_t seq;
};

static int ref_fn(struct store_txn *t, void *arg)
{
	struct ref_ctx *rc = arg;
	int r;

	events_batch_begin(rc->ev, &rc->b);
	r = events_append_ref_txn(rc->ev, t, &rc->b, 77, "message.received",
				  rc->json, &rc->ref);
	rc->seq = rc->b.last_seq;
	return r;
}

static void events_body_by_reference(void **state)
{
	struct env *e = *state;
	struct events *ev = &e->fx.node.events;
	struct store *st = e->fx.node.store;
	static const char body[] = "the key is under the \"third\" stone";
	uint8_t peer[32], id[16], other[16];
	struct msgstore_incoming in = {0};
	struct ref_ctx rc = {.ev = ev};
	struct raw_ev re = {0};
	struct seen mem = {0}, disk = {0}, lost = {0};
	char json[256];
	const char *at;
	uint64_t mseq = 0;
	bool dup = false;

	memset(peer, 0x42, sizeof peer);
	memset(id, 0x17, sizeof id);
	memset(other, 0x18, sizeof other);
	in.peer = peer;
	in.from = peer;
	in.id = id;
	in.sent_ms = 5;
	in.body = (const uint8_t *)body;
	in.body_len = strlen(body);
	assert_int_equal(msgstore_receive(e->fx.node.msgs, &in, 6, &mseq, &dup),
			 0);
	snprintf(json, sizeof json,
		 "{\"id\":\"1717\",\"from\":\"x\",\"body\":"
		 "\"the key is under the \\\"third\\\" stone\","
		 "\"sent_at\":5}");
	at = strstr(json, "\"body\":") + 7;
	rc.json = json;
	rc.ref = (struct events_ref){.peer = peer, .seq = mseq, .id = id,
				     .body_at = (size_t)(at - json),
				     .body_len = strlen(at) - strlen(",\"sent_at\":5}")};
	assert_int_equal(store_write(st, ref_fn, &rc), 0);
	events_batch_commit(ev, &rc.b);
	re.seq = rc.seq;
	assert_int_equal(store_read(st, raw_get, &re), 0);
	assert_int_equal(re.val[0], 0x02);
	assert_false(has_bytes(re.val, re.len, "stone"));
	assert_false(has_bytes(re.val, re.len, "sent_at"));
	assert_int_equal(events_read(ev, rc.seq - 1, 1, collect, &mem), 1);
	assert_non_null(strstr(mem.text[0], json));
	/* version, nonce, tag, header, and the event (type NUL json, which
	 * collect wrote as type SP json) but for the body's string */
	assert_int_equal(re.len, 1 + 24 + 16 + 60 + strlen(mem.text[0]) -
					 rc.ref.body_len);
	events_close(ev);
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	assert_int_equal(ev->mem_n, 0);
	/* no body function: the event says so */
	assert_int_equal(events_read(ev, rc.seq - 1, 1, collect, &lost), 1);
	assert_non_null(strstr(lost.text[0], "\"body_omitted\":true,"
					     "\"sent_at\":5}"));
	assert_null(strstr(lost.text[0], "\"body\""));
	events_set_body_fn(ev, msgstore_event_body, e->fx.node.msgs);
	assert_int_equal(events_read(ev, rc.seq - 1, 1, collect, &disk), 1);
	assert_memory_equal(&disk, &mem, sizeof disk);

	/* a reference to a message the history does not have */
	rc.ref.id = other;
	assert_int_equal(store_write(st, ref_fn, &rc), 0);
	events_batch_commit(ev, &rc.b);
	events_close(ev);
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	events_set_body_fn(ev, msgstore_event_body, e->fx.node.msgs);
	memset(&lost, 0, sizeof lost);
	assert_int_equal(events_read(ev, rc.seq - 1, 1, collect, &lost), 1);
	assert_non_null(strstr(lost.text[0], "\"body_omitted\":true"));

	/* a reference that does not name the body's string */
	rc.ref.body_at -= 1;
	assert_int_equal(store_write(st, ref_fn, &rc), -EINVAL);
	rc.ref.body_at += 1;
	rc.ref.body_len -= 1;
	assert_int_equal(store_write(st, ref_fn, &rc), -EINVAL);
	free(re.val);
}

static void events_sealed_at_rest(void **state)
{
	struct env *e = *state;
	struct events *ev = &e->fx.node.events;
	struct store *st = e->fx.node.store;
	struct raw_ev re = {0}, moved = {0};
	struct seen sn = {0};
	uint64_t s1, s2, s3;
	const char *legacy = "test.legacy\0{\"seq\":0,\"type\":\"test.legacy\","
			     "\"at\":5,\"data\":{\"old\":\"plain words\"}}";
	size_t legacy_len = 12 + strlen(legacy + 12);

	assert_int_equal(events_append(ev, 7, "test.secret",
				       "{\"body\":\"meet at the old mill\"}",
				       &s1),
			 0);
	assert_int_equal(events_append(ev, 8, "test.secret",
				       "{\"body\":\"second\"}", &s2),
			 0);
	assert_int_equal(events_append(ev, 9, "test.secret",
				       "{\"body\":\"third\"}", &s3),
			 0);
	re.seq = s1;
	assert_int_equal(store_read(st, raw_get, &re), 0);
	assert_int_equal(re.val[0], 0x01);
	assert_false(has_bytes(re.val, re.len, "old mill"));
	assert_false(has_bytes(re.val, re.len, "test.secret"));
	/* from memory (just written), then from the store (reopened): the
	 * same events */
	assert_int_equal(events_read(ev, s1 - 1, 3, collect, &sn), 3);
	assert_true(strstr(sn.text[0], "meet at the old mill") != NULL);
	events_close(ev);
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	assert_int_equal(ev->mem_n, 0);
	{
		struct seen again = {0};

		assert_int_equal(events_read(ev, s1 - 1, 3, collect, &again),
				 3);
		assert_memory_equal(&again, &sn, sizeof sn);
	}

	/* one changed byte in s1; s1's value moved onto s2 */
	moved.seq = s2;
	moved.val = malloc(re.len);
	assert_non_null(moved.val);
	memcpy(moved.val, re.val, re.len);
	moved.len = re.len;
	re.val[re.len - 20] ^= 0x01;
	assert_int_equal(store_write(st, raw_put, &re), 0);
	assert_int_equal(store_write(st, raw_put, &moved), 0);
	events_close(ev); /* changed on disk while the daemon was down */
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	memset(&sn, 0, sizeof sn);
	assert_int_equal(events_read(ev, s1 - 1, 3, collect, &sn), 3);
	assert_int_equal(sn.seq[0], s1);
	assert_true(strstr(sn.text[0], "events.unreadable") == sn.text[0]);
	assert_true(strstr(sn.text[0], "does not authenticate") != NULL);
	assert_int_equal(sn.seq[1], s2);
	assert_true(strstr(sn.text[1], "events.unreadable") == sn.text[1]);
	assert_int_equal(sn.seq[2], s3); /* and on past them */
	assert_true(strstr(sn.text[2], "\"third\"") != NULL);

	/* an event an earlier version stored as it was */
	free(re.val);
	re.seq = s3 + 1;
	re.val = malloc(legacy_len);
	assert_non_null(re.val);
	memcpy(re.val, legacy, legacy_len);
	re.len = legacy_len;
	assert_int_equal(store_write(st, raw_put, &re), 0);
	events_close(ev);
	/* ...and a database of that version has no "sealed" mark: with the
	 * mark, the open does not look (checked first) */
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	assert_int_equal(store_read(st, raw_get, &re), 0);
	assert_int_equal(memcmp(re.val, legacy, legacy_len), 0);
	events_close(ev);
	assert_int_equal(store_write(st, unmark_sealed, NULL), 0);
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	assert_int_equal(ev->last_seq, s3 + 1);
	assert_int_equal(store_read(st, raw_get, &re), 0);
	assert_int_equal(re.val[0], 0x01);
	assert_false(has_bytes(re.val, re.len, "plain words"));
	memset(&sn, 0, sizeof sn);
	assert_int_equal(events_read(ev, s3, 1, collect, &sn), 1);
	assert_true(strstr(sn.text[0], "test.legacy {") == sn.text[0]);
	assert_true(strstr(sn.text[0], "plain words") != NULL);

	/* an unsealed value of a sealed type, put there after the open */
	free(re.val);
	re.seq = s3;
	re.val = (uint8_t *)strdup("test.fake");
	assert_non_null(re.val);
	re.len = 10;
	assert_int_equal(store_write(st, raw_put, &re), 0);
	memset(&sn, 0, sizeof sn);
	assert_int_equal(events_read(ev, s3 - 1, 1, collect, &sn), 1);
	assert_true(strstr(sn.text[0], "events.unreadable") == sn.text[0]);
	assert_true(strstr(sn.text[0], "not a stored event") != NULL);

	/* message.status is kept as it is (what it says is in the clear
	 * header of the message record anyway) */
	assert_int_equal(events_append(ev, 10, "message.status",
				       "{\"status\":\"sent\"}", &re.seq),
			 0);
	free(re.val);
	re.val = NULL;
	assert_int_equal(store_read(st, raw_get, &re), 0);
	assert_true(re.len > 15 && memcmp(re.val, "message.status", 15) == 0);
	events_close(ev);
	assert_int_equal(events_open(ev, st, 1000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	memset(&sn, 0, sizeof sn);
	assert_int_equal(events_read(ev, re.seq - 1, 1, collect, &sn), 1);
	assert_true(strstr(sn.text[0], "message.status {") == sn.text[0]);
	assert_true(strstr(sn.text[0], "\"sent\"") != NULL);
	free(re.val);
	free(moved.val);
}

/* The newest events are served from memory; whatever mix of memory and
 * store a read takes, it passes exactly what a reopened log (store only)
 * passes: after single appends, batches, a batch whose transaction was
 * rolled back, big events that push the byte bound, and past the count
 * bound. */
struct fail_batch {
	struct events *ev;
	struct events_batch b;
	int n;
	bool fail;
};

static int fail_batch_fn(struct store_txn *t, void *arg)
{
	struct fail_batch *fb = arg;
	int r = 0;

	events_batch_begin(fb->ev, &fb->b);
	for (int i = 0; i < fb->n && r == 0; i++)
		r = events_append_txn(fb->ev, t, &fb->b, 42, "test.batch",
				      fb->fail ? "{\"rolled\":\"back\"}"
					       : "{\"kept\":1}");
	return r == 0 && fb->fail ? -EIO : r;
}

struct dump {
	char *buf;
	size_t len, cap;
};

static int dump_cb(void *ctx, uint64_t seq, const char *type,
		   const char *json, size_t json_len)
{
	struct dump *d = ctx;
	size_t need = 32 + strlen(type) + json_len;

	if (d->len + need > d->cap) {
		d->cap = (d->len + need) * 2;
		d->buf = realloc(d->buf, d->cap);
		assert_non_null(d->buf);
	}
	d->len += (size_t)snprintf(d->buf + d->len, d->cap - d->len,
				   "%llu %s ", (unsigned long long)seq, type);
	memcpy(d->buf + d->len, json, json_len);
	d->len += json_len;
	d->buf[d->len++] = '\n';
	return 0;
}

static void read_all(struct events *ev, uint64_t after, size_t step,
		     struct dump *d)
{
	int n;

	d->len = 0;
	while ((n = events_read(ev, after, step, dump_cb, d)) > 0)
		after += (uint64_t)n;
	assert_int_equal(n, 0);
}

static void events_memory_matches_store(void **state)
{
	struct env *e = *state;
	struct events *ev = &e->fx.node.events;
	struct store *st = e->fx.node.store;
	struct fail_batch fb = {.ev = ev};
	struct dump live = {0}, disk = {0};
	static char big[300 * 1024];
	uint64_t first;

	events_close(ev);
	assert_int_equal(events_open(ev, st, 2000, &e->fx.node.identity,
				     &e->fx.rng),
			 0);
	first = ev->last_seq;
	memcpy(big, "{\"b\":\"", 6);
	memset(big + 6, 'x', sizeof big - 9);
	memcpy(big + sizeof big - 3, "\"}", 3);
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 100; i++)
			assert_int_equal(events_append(ev, 1, "test.one",
						       "{\"i\":2}", NULL),
					 0);
		fb.n = 50;
		fb.fail = true;
		assert_int_equal(store_write(st, fail_batch_fn, &fb), -EIO);
		fb.fail = false;
		assert_int_equal(store_write(st, fail_batch_fn, &fb), 0);
		events_batch_commit(ev, &fb.b);
		if (round == 0) /* one run: the rolled-back batch left none */
			assert_int_equal(ev->mem_n, 150);
		if (round % 2 == 1) /* over the byte bound */
			assert_int_equal(events_append(ev, 3, "test.big", big,
						       NULL),
					 0);
	}
	assert_true(ev->last_seq - first > EVENTS_MEM_MAX);
	assert_true(ev->mem_n > 0 && ev->mem_n <= EVENTS_MEM_MAX);
	assert_true(ev->mem_bytes <= EVENTS_MEM_BYTES);
	for (size_t step = 1; step <= 700; step = step * 3 + 2) {
		uint64_t from[] = {first, ev->last_seq - 600,
				   ev->mem[ev->mem_head].seq - 1,
				   ev->mem[ev->mem_head].seq + 7,
				   ev->last_seq - 1};

		for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
			read_all(ev, from[k], step, &live);
			events_close(ev);
			assert_int_equal(events_open(ev, st, 2000,
						     &e->fx.node.identity,
						     &e->fx.rng),
					 0);
			read_all(ev, from[k], step, &disk);
			assert_int_equal(live.len, disk.len);
			assert_memory_equal(live.buf, disk.buf, live.len);
			assert_true(live.len > 0);
			assert_null(strstr(live.buf, "rolled"));
			/* refill memory as the live daemon had it */
			for (int i = 0; i < 3; i++)
				assert_int_equal(events_append(ev, 1,
							       "test.one",
							       "{\"i\":3}",
							       NULL),
						 0);
		}
	}
	free(live.buf);
	free(disk.buf);
}

/* --- own record sequence numbers (node/ownseq.c) --- */

static int legacy_seq_put(struct store_txn *t, void *ctx)
{
	uint8_t k[4 + 32], v[8] = {0, 0, 0, 0, 0, 0, 0x13, 0x88}; /* 5000 */

	memcpy(k, "own:", 4);
	memcpy(k + 4, ctx, 32);
	return store_put(t, STORE_TABLE_DHT, k, sizeof k, v, sizeof v);
}

/* One commit per OWNSEQ_BLOCK numbers; numbers only grow, across keys,
 * across a restart (a fresh struct ownseq on the same store) and past a
 * number an older version stored for a key. */
static void ownseq_blocks(void **state)
{
	struct env *e = *state;
	struct store *st = e->fx.node.store;
	struct ownseq o = {0}, again = {0};
	uint8_t k1[32], k2[32];
	uint64_t seq, last = 0;

	memset(k1, 1, sizeof k1);
	memset(k2, 2, sizeof k2);
	for (unsigned i = 0; i < 3 * OWNSEQ_BLOCK; i++) {
		assert_int_equal(ownseq_next(&o, st, i % 2 ? k1 : k2, &seq), 0);
		assert_true(seq > last);
		last = seq;
	}
	assert_int_equal(o.reservations, 3);
	/* A restart skips the rest of the reserved block. */
	assert_int_equal(ownseq_open(&again, st), 0);
	assert_int_equal(ownseq_next(&again, st, k1, &seq), 0);
	assert_true(seq > last);
	assert_true(seq >= o.limit);
	assert_int_equal(again.reservations, 1); /* by ownseq_open */
	last = seq;
	/* A key whose old per-key number is higher continues from it. */
	assert_int_equal(store_write(st, legacy_seq_put, k2), 0);
	assert_int_equal(ownseq_next(&again, st, k2, &seq), 0);
	assert_int_equal(seq, 5001 > last ? 5001 : last + 1);
	assert_int_equal(ownseq_next(&again, st, k1, &seq), 0);
	assert_true(seq > 5001);
}

static void status_and_identity(void **state)
{
	struct env *e = *state;
	json_t *o, *res;

	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"identity.get\"}");
	o = one_answer(&e->cl);
	res = json_object_get(o, "result");
	assert_int_equal(strlen(json_string_value(json_object_get(res, "id"))),
			 CX_CONTACT_ID_LEN);
	assert_memory_equal(json_string_value(json_object_get(res, "uri")),
			    "parley:", 7);
	json_decref(o);
	e->fx.clk_state.mono += 1234;
	fx_call(&e->cl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			"\"node.status\"}");
	o = one_answer(&e->cl);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(o, "result"), "uptime_ms")),
			 1234);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_good),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(config_limits),
		cmocka_unit_test_setup_teardown(api_version, setup, teardown),
		cmocka_unit_test_setup_teardown(api_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(api_ids_and_strings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(status_and_identity, setup,
						teardown),
		cmocka_unit_test_setup_teardown(events_replay_and_live, setup,
						teardown),
		cmocka_unit_test_setup_teardown(events_filter, setup,
						teardown),
		cmocka_unit_test_setup_teardown(events_backpressure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(events_overflow,
						setup_small_log, teardown),
		cmocka_unit_test_setup_teardown(events_sealed_at_rest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(events_body_by_reference, setup,
						teardown),
		cmocka_unit_test_setup_teardown(events_memory_matches_store,
						setup, teardown),
		cmocka_unit_test_setup_teardown(events_batch_reopen,
						setup_small_log, teardown),
		cmocka_unit_test_setup_teardown(events_survive_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(ownseq_blocks, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
