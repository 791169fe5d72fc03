/* Fuzz target: the JSON-RPC request path (node/api.c) with a real node
 * behind it.  The input is split into lines as the socket side would.
 * Invariants: every byte the node writes back is a sequence of complete
 * lines, each a JSON object with "jsonrpc":"2.0" and either a result, an
 * error with an integer code, or a method (notification); at most one
 * answer per input line plus events; and afterwards the node still
 * answers a plain node.status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "node/api.h"
#include "tests/node_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fx_node fx;
static bool ready;

static void cleanup(void)
{
	fx_node_close(&fx);
}

static void check_output(const char *out, size_t len, size_t max_answers)
{
	size_t answers = 0, pos = 0;

	while (pos < len) {
		const char *nl = memchr(out + pos, '\n', len - pos);
		json_error_t e;
		json_t *o, *v;

		if (nl == NULL)
			abort(); /* a partial line */
		o = json_loadb(out + pos, (size_t)(nl - out) - pos, 0, &e);
		if (!json_is_object(o))
			abort();
		v = json_object_get(o, "jsonrpc");
		if (!json_is_string(v) || strcmp(json_string_value(v), "2.0"))
			abort();
		if (json_object_get(o, "method") == NULL) {
			json_t *err = json_object_get(o, "error");

			answers++;
			if (json_object_get(o, "result") == NULL &&
			    !json_is_integer(json_object_get(err, "code")))
				abort();
		}
		json_decref(o);
		pos = (size_t)(nl - out) + 1;
	}
	if (answers > max_answers)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fx_client f;
	size_t pos = 0, lines = 0;

	if (!ready) {
		if (fx_node_init(&fx, 42, 64) < 0)
			abort();
		ready = true;
		atexit(cleanup);
	}
	if (fx_client_open(&fx, &f) < 0)
		abort();
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t n = (nl != NULL ? (size_t)(nl - data) : size) - pos;

		if (n > API_LINE_MAX)
			api_client_line_too_big(f.c);
		else
			api_client_line(f.c, (const char *)data + pos, n);
		lines++;
		pos += n + 1;
	}
	check_output(f.out, f.len, lines);
	fx_client_reset(&f);
	fx_call(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		    "\"events.unsubscribe\"}");
	fx_client_reset(&f);
	fx_call(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"node.status\"}");
	if (f.out == NULL || strstr(f.out, "\"result\"") == NULL)
		abort();
	fx_client_close(&f);
	return 0;
}
