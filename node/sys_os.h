/* The daemon's OS services: clock, files, the data-directory lock,
 * systemd notification, default paths.  Only the daemon links this. */
#ifndef PARLEY_NODE_SYS_OS_H
#define PARLEY_NODE_SYS_OS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "node/env.h"

/* A clock over the loop: mono_ms is uv_now() (one now per loop turn),
 * wall_ms is CLOCK_REALTIME. */
void sys_clock_init(struct clock *c, uv_loop_t *loop);

/* Reads a whole file of at most max bytes into a new buffer (NUL added
 * after the data, not counted in *len).  -E2BIG when larger, -errno. */
int sys_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* Writes data to path atomically (temp file, fsync, rename, fsync of the
 * directory) with the given mode.  0 or -errno. */
int sys_write_file_atomic(const char *path, const void *data, size_t len,
			  unsigned mode);

/* mkdir -p with mode for every created level.  0 or -errno. */
int sys_mkdir_p(const char *path, unsigned mode);

/* Takes an exclusive lock on dir/lock; *fd_out keeps it.  -EBUSY when
 * another process holds it. */
int sys_lock_dir(const char *dir, int *fd_out);

/* Sends state (e.g. "READY=1") to $NOTIFY_SOCKET if set.  0 when sent or
 * not asked for, -errno on failure. */
int sys_notify(const char *state);

/* Default locations (malloc'd, caller frees; NULL on OOM):
 * $XDG_DATA_HOME/parley or ~/.local/share/parley;
 * $XDG_RUNTIME_DIR/parley/parley.sock or /tmp/parley-UID/parley.sock;
 * $XDG_CONFIG_HOME/parley/parleyd.conf or ~/.config/parley/parleyd.conf. */
char *sys_default_data_dir(void);
char *sys_default_socket(void);
char *sys_default_config(void);

#endif
