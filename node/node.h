/* struct node: one running parley node, everything the API handlers reach.
 * Owned by the daemon's main (or a test), which creates the parts in order
 * and closes them in reverse; the struct itself only points at them. */
#ifndef PARLEY_NODE_NODE_H
#define PARLEY_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "node/config.h"
#include "node/env.h"
#include "node/events.h"
#include "node/ownseq.h"
#include "store/store.h"

#define NODE_PROFILE_NAME_MAX 64 /* bytes of UTF-8 */

struct api;
struct dht;
struct link_mgr;
struct msgstore;
struct chat;
struct relay;

struct node {
	const struct node_env *env;
	const struct node_config *cfg;
	struct cx_identity identity;
	bool identity_sealed;
	struct store *store;
	struct ownseq ownseq; /* dht.put sequence numbers */
	struct events events;
	struct api *api; /* NULL until the API server is up */
	struct dht *dht; /* NULL when the node has no UDP socket */
	struct link_mgr *links; /* Noise links, on the same socket */
	struct msgstore *msgs;	/* contacts, messages, outbox */
	struct chat *chat;	/* messaging; NULL without the UDP socket */
	struct relay *relay;	/* relay service; NULL without the socket */
	char listen_str[64]; /* the bound UDP address, text */
	/* The I/O side re-reads dht deadlines after the core started
	 * something (a lookup from the API). */
	void (*dht_kick)(void *self);
	void *dht_kick_self;
	const char *data_dir;
	const char *socket_path;
	uint64_t started_mono_ms;
	/* Derived from the identity once by node_derive_ids(). */
	char node_id_hex[CX_HASH_LEN * 2 + 1];
	char node_key_hex[CX_X_PK_LEN * 2 + 1];
	char contact_id[CX_CONTACT_ID_LEN + 1];
	int pid;
	/* Called by node.stop; the daemon stops its loop. */
	void (*request_stop)(void *self);
	void *stop_self;
};

/* Fills node_id_hex and contact_id from the loaded identity.  0 or
 * -EINVAL. */
int node_derive_ids(struct node *n);

/* Appends an event to the log and wakes subscribed clients.  data_json
 * is a JSON object.  0 or negative errno (logged by the caller). */
int node_emit(struct node *n, const char *type, const char *data_json);

#endif
