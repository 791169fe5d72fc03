/* The local API: newline-delimited JSON-RPC 2.0 (DESIGN.md section 9).
 *
 * Sans-I/O: this module turns request lines into response lines and event
 * notifications; node/sys_api.c owns the socket, reads lines (enforcing
 * API_LINE_MAX) and writes what this module hands it.  One struct
 * api_client per connection, created and freed by sys_api.c.
 *
 * Ordering: responses go out in request order (every method answers
 * before the next line is read).  Events stream in seq order after the
 * events.subscribe response.
 *
 * Back-pressure: the event pump stops when a client's queued output
 * reaches API_CLIENT_HIGH_WATER and resumes on api_client_drained(); the
 * socket side stops reading a client whose output is above
 * API_CLIENT_READ_STOP.  So memory per client is bounded whatever it
 * does. */
#ifndef PARLEY_NODE_API_H
#define PARLEY_NODE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/node.h"

#define API_VERSION_MAJOR 1
#define API_VERSION_MINOR 0
#define API_LINE_MAX (1024 * 1024)	   /* request bytes, newline excluded */
#define API_CLIENT_HIGH_WATER (256 * 1024) /* queued bytes: pause events */
#define API_CLIENT_READ_STOP (1024 * 1024) /* queued bytes: pause reading */
#define API_CLIENTS_MAX 256
#define API_EVENT_BATCH 64 /* events read from the log per pump step */
#define API_TYPES_MAX 32   /* entries in an events.subscribe filter */

struct api_client_ops {
	/* Queues len bytes for the client (never fails short: the socket
	 * side buffers; it returns -ENOMEM only when out of memory). */
	int (*write)(void *self, const char *buf, size_t len);
	/* Bytes queued and not yet written to the socket. */
	size_t (*queued)(void *self);
	void *self;
};

struct api;
struct api_client;

int api_new(struct api **out, struct node *n);
void api_free(struct api *a); /* all clients must be freed first */

/* Number of connected clients. */
size_t api_num_clients(const struct api *a);

int api_client_new(struct api *a, const struct api_client_ops *ops,
		   struct api_client **out);
void api_client_free(struct api_client *c); /* NULL-safe */

/* Handles one request line (without its newline).  Always answers
 * requests that carry an id (errors included); 0, or -ENOMEM when the
 * answer could not even be queued (the caller drops the client). */
int api_client_line(struct api_client *c, const char *line, size_t len);

/* The client sent a line longer than API_LINE_MAX (the socket side
 * discards it up to the next newline): answers a too_big error. */
int api_client_line_too_big(struct api_client *c);

/* True while the client has calls that will be answered later. */
bool api_client_busy(const struct api_client *c);

/* The client's queued output fell below the high water mark. */
void api_client_drained(struct api_client *c);

/* A new event is in the log: pump it to every subscribed client. */
void api_events_notify(struct api *a);

#endif
