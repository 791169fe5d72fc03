/* cli/proto.c: parsing and encoding of the local API's JSON-RPC lines.
 *
 * Everything here is pure: bytes in, jansson values out.  The daemon is
 * trusted to be ours but not to be bug-free, so every member the client
 * relies on is checked for its type before use, and a line that is not a
 * well-formed JSON-RPC 2.0 message is refused as a whole (-EBADMSG). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/proto.h"

void cli_msg_clear(struct cli_msg *m)
{
	if (m == NULL)
		return;
	json_decref(m->root);
	memset(m, 0, sizeof *m);
}

/* JSON-RPC 2.0 section 5: "Either the result member or error member MUST
 * be included, but both members MUST NOT be included." and section 5.1:
 * the error object carries an integer code and a string message. */
static int parse_response(struct cli_msg *m, json_t *id)
{
	json_t *result = json_object_get(m->root, "result");
	json_t *error = json_object_get(m->root, "error");
	json_t *code, *message, *v;

	if (json_is_null(id)) {
		m->id_null = true;
	} else if (json_is_integer(id)) {
		m->id = json_integer_value(id);
	} else {
		return -EBADMSG;
	}
	if ((result == NULL) == (error == NULL))
		return -EBADMSG;
	if (result != NULL) {
		/* JSON-RPC 2.0 section 5: a null id only when the daemon
		 * could not read the request's, which is an error */
		if (m->id_null)
			return -EBADMSG;
		m->kind = CLI_MSG_RESULT;
		m->result = result;
		return 0;
	}
	if (!json_is_object(error))
		return -EBADMSG;
	code = json_object_get(error, "code");
	message = json_object_get(error, "message");
	if (!json_is_integer(code) || !json_is_string(message))
		return -EBADMSG;
	m->kind = CLI_MSG_ERROR;
	m->error = error;
	m->code = json_integer_value(code);
	m->message = json_string_value(message);
	m->data = json_object_get(error, "data");
	if (json_is_object(m->data)) {
		v = json_object_get(m->data, "app");
		m->app = json_is_string(v) ? json_string_value(v) : NULL;
		v = json_object_get(m->data, "field");
		m->field = json_is_string(v) ? json_string_value(v) : NULL;
	}
	return 0;
}

int cli_msg_parse(struct cli_msg *m, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *v, *id, *method;
	int r = -EBADMSG;

	memset(m, 0, sizeof *m);
	m->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (m->root == NULL)
		return json_error_code(&jerr) == json_error_out_of_memory
			       ? -ENOMEM
			       : -EBADMSG;
	if (!json_is_object(m->root))
		goto out;
	v = json_object_get(m->root, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
		goto out;
	id = json_object_get(m->root, "id");
	method = json_object_get(m->root, "method");
	if (id != NULL) {
		if (method != NULL)
			goto out; /* a request from the daemon: not ours */
		r = parse_response(m, id);
		goto out;
	}
	if (!json_is_string(method))
		goto out;
	m->params = json_object_get(m->root, "params");
	if (m->params != NULL && !json_is_object(m->params))
		goto out;
	m->kind = CLI_MSG_NOTIFY;
	m->method = json_string_value(method);
	r = 0;
out:
	if (r < 0)
		cli_msg_clear(m);
	return r;
}

int cli_request_encode(json_int_t id, const char *method, json_t *params,
		       char **out, size_t *len)
{
	json_t *req = NULL;
	char *s = NULL;
	size_t n;
	int r = -ENOMEM;

	*out = NULL;
	*len = 0;
	if (method == NULL || method[0] == '\0' ||
	    (params != NULL && !json_is_object(params)))
		return -EINVAL;
	/* "o" steals the reference, also when json_pack fails. */
	req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id,
			"method", method, "params",
			params != NULL ? json_incref(params) : json_object());
	if (req == NULL) {
		/* json_pack also fails on a method that is not UTF-8. */
		r = -EINVAL;
		goto out;
	}
	/* Compact encoding escapes control characters inside strings, so the
	 * only newline is the one appended here: one request, one line. */
	s = json_dumps(req, JSON_COMPACT);
	if (s == NULL)
		goto out;
	n = strlen(s);
	if (memchr(s, '\n', n) != NULL) {
		r = -EINVAL;
		goto out;
	}
	*out = realloc(s, n + 2);
	if (*out == NULL)
		goto out;
	s = NULL;
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	*len = n + 1;
	r = 0;
out:
	free(s);
	json_decref(req);
	return r;
}

int cli_params_parse(const char *text, json_t **out, char *why, size_t why_size)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		snprintf(why, why_size, "%s (line %d, column %d)", jerr.text,
			 jerr.line, jerr.column);
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		snprintf(why, why_size,
			 "params must be a JSON object (named params), "
			 "like {\"key\":\"value\"}");
		json_decref(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
