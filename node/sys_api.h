/* The API server's socket side: a libuv Unix stream listener that splits
 * input into lines for node/api.c and writes its answers back.
 * See api.h for the limits it enforces. */
#ifndef PARLEY_NODE_SYS_API_H
#define PARLEY_NODE_SYS_API_H

#include <uv.h>

#include "node/api.h"

struct sys_api;

/* Prepares path (sun_path length, directory 0700, a stale socket from a
 * dead daemon removed, a live one refused with -EADDRINUSE), binds with
 * mode 0600 and listens.  private_dir: path's parent is ours to create
 * and must not be reachable by other users (the default location).
 * Returns 0 and *out, or negative errno; err explains. */
int sys_api_start(struct sys_api **out, uv_loop_t *loop, struct api *api,
		  const char *path, int private_dir, char *err,
		  size_t err_max);

/* Stops listening, closes every client, removes the socket file.  The
 * memory is released once the loop has run the close callbacks; call
 * uv_run() after this before freeing what the clients point at. */
void sys_api_stop(struct sys_api *s);

#endif
