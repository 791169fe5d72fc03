/* The node's shared helpers.  Most of struct node is wired up by the
 * daemon's main (node/main.c) or by a test. */
#include "node/node.h"
#include "node/api.h"

int node_derive_ids(struct node *n)
{
	uint8_t nid[CX_HASH_LEN];
	int r;

	cx_node_id(nid, n->identity.node_pk);
	if ((r = cx_hex_encode(n->node_id_hex, sizeof n->node_id_hex, nid,
			       sizeof nid)) < 0 ||
	    (r = cx_hex_encode(n->node_key_hex, sizeof n->node_key_hex,
			       n->identity.node_pk, CX_X_PK_LEN)) < 0)
		return r;
	return cx_contact_id_encode(n->contact_id, sizeof n->contact_id,
				    n->identity.account_pk);
}

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
