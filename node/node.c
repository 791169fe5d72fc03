/* The node's shared helpers.  Most of struct node is wired up by the
 * daemon's main (node/main.c) or by a test. */
#include "node/node.h"
#include "node/api.h"

int node_emit(struct node *n, const char *type, const char *data_json)
{
	uint64_t now = n->env->clock->wall_ms(n->env->clock->self);
	int r = events_append(&n->events, now, type, data_json, NULL);

	if (r < 0)
		return r;
	if (n->api != NULL)
		api_events_notify(n->api);
	return 0;
}
