/* LAN discovery (DESIGN.md section 4, "Bootstrap: ... and LAN
 * discovery"): an IPv4 multicast announce of this node's DHT key and
 * port on the local segment, and a join through every node heard.
 * Off unless --lan: announcing says "a parley node is here" to everyone
 * on the segment. */
#ifndef PARLEY_NODE_SYS_LAN_H
#define PARLEY_NODE_SYS_LAN_H

#include <stdint.h>

#include <uv.h>

#include "node/node.h"

#define LAN_GROUP "239.255.80.76" /* organisation-local scope */
#define LAN_PORT 47476
#define LAN_ANNOUNCE_MS (60 * 1000)

struct sys_lan;

/* Joins the group and announces now and every LAN_ANNOUNCE_MS;
 * dht_port is our DHT's UDP port.  0 or negative errno. */
int sys_lan_start(struct sys_lan **out, uv_loop_t *loop, struct node *n,
		  uint16_t dht_port);

/* Leaves; memory is released in the close callbacks.  NULL-safe. */
void sys_lan_stop(struct sys_lan *l);

#endif
