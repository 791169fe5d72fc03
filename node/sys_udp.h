/* The DHT's UDP socket and timer (libuv).  Packets in go to dht_recv(),
 * packets out come from the DHT through its struct dht_io, and one timer
 * follows the DHT's next deadline.  The struct dht itself belongs to the
 * caller (node->dht), created before and freed after this. */
#ifndef PARLEY_NODE_SYS_UDP_H
#define PARLEY_NODE_SYS_UDP_H

#include <stddef.h>

#include <uv.h>

#include "dht/dht.h"
#include "node/node.h"

struct sys_udp;

/* Binds listen ("ip:port"; port 0 picks one) and fills *io with the send
 * function the DHT must be created with.  The DHT is attached afterwards
 * with sys_udp_attach().  0 or negative errno, err says why. */
int sys_udp_open(struct sys_udp **out, uv_loop_t *loop, struct node *n,
		 const char *listen, struct dht_io *io, char *err,
		 size_t err_max);

/* The bound address (after open). */
const struct dht_addr *sys_udp_local(const struct sys_udp *u);

/* Starts receiving and the deadline timer for n->dht. */
int sys_udp_attach(struct sys_udp *u);

/* Asks for the layers' ticks (what is due runs, the deadline timer is
 * armed again) at the next loop turn, once for every kick until then
 * (node->dht_kick points here). */
void sys_udp_kick(void *self);

/* Closes the socket, the timer and the idle handle; memory goes in the
 * close callbacks. */
void sys_udp_close(struct sys_udp *u);

#endif
