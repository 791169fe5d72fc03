/* Links between nodes (DESIGN.md section 5): Noise_XK_25519_ChaChaPoly_BLAKE2b
 * sessions over UDP (Noise_XX_... when only an address is known), with
 * WireGuard-style transport datagrams (receiver index, 64-bit counter as the
 * Noise nonce, sliding replay window), keepalives, rekeying and roaming.
 * docs/PROTOCOL-link.md describes the wire format and timers; node/link_wire.h
 * holds the constants.
 *
 * The manager is sans-I/O (STYLE.md section 2): the current monotonic time
 * comes in as now_ms, packets leave through cfg->io.send, randomness comes
 * from cfg->rng.  It never blocks, allocates only bounded tables, and owns
 * no socket.  Packets whose first byte satisfies link_is_packet() belong
 * here; everything else goes to dht_recv().
 *
 * Callbacks run from inside link_recv(), link_tick(), link_connect() and
 * link_send().  They may call link_send(), link_connect() and link_close()
 * (any peer), and link_status(); they must not free the manager.  The
 * pk and data pointers they get are valid only during the call.  io.send
 * must not call back into the manager (queue, as a socket does).
 *
 * Errors: 0 or a negative errno: -EINVAL (bad argument, own key),
 * -ENOTCONN (no established link), -E2BIG (payload over LINK_PAYLOAD_MAX),
 * -ENOSPC (link table full), -ENOMEM, -ENOENT (no such link), or what
 * io.send returned. */
#ifndef PARLEY_NODE_LINK_H
#define PARLEY_NODE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/rng.h"
#include "dht/dht.h"

#define LINK_PK_LEN 32
#define LINK_PKT_MAX 1280     /* every packet fits the IPv6 minimum MTU */
#define LINK_PAYLOAD_MAX 1200 /* bytes of one link_send() */

/* Why a link went away (closed_cb). */
enum link_close_reason {
	LINK_CLOSE_HANDSHAKE_TIMEOUT = 1, /* never answered (REKEY_ATTEMPT) */
	LINK_CLOSE_DEAD = 2,		  /* nothing authenticated for 75 s */
	LINK_CLOSE_EXPIRED = 3,		  /* session too old, rekey failed */
	LINK_CLOSE_SELF = 4, /* link_connect_addr() reached our own node */
};

/* Reasons a received packet was dropped; indexes link_status.drop. */
enum link_drop {
	LINK_DROP_MALFORMED, /* wrong size or class */
	LINK_DROP_RATE,	     /* handshake rate limit of the source */
	LINK_DROP_MAC1,	     /* handshake not addressed to our key */
	LINK_DROP_COOKIE,    /* under load, no valid cookie: cookie sent */
	LINK_DROP_FULL,	     /* handshake or link table full */
	LINK_DROP_UNKNOWN,   /* no session or handshake with that index */
	LINK_DROP_AUTH,	     /* Noise or AEAD authentication failed */
	LINK_DROP_REPLAY,    /* duplicate or older than the window */
	LINK_DROP_EXPIRED,   /* session past REJECT_AFTER_TIME/MESSAGES */
	LINK_DROP_TIEBREAK,  /* simultaneous open: the other one wins */
	LINK_DROP_SELF,	     /* handshake from our own key */
	LINK_DROP_MAX_
};

struct link_callbacks {
	/* A link is usable: link_send() now works.  Also fires again after a
	 * link was closed and set up anew, never on a rekey. */
	void (*established_cb)(void *arg, const uint8_t pk[LINK_PK_LEN],
			       const struct dht_addr *addr);
	/* One authenticated, non-empty, non-replayed datagram payload. */
	void (*message_cb)(void *arg, const uint8_t pk[LINK_PK_LEN],
			   const uint8_t *data, size_t len);
	/* The link is gone (enum link_close_reason); not called for
	 * link_close() or link_mgr_free(). */
	void (*closed_cb)(void *arg, const uint8_t pk[LINK_PK_LEN], int reason);
	void *arg;
};

/* A zero field takes the default in brackets. */
struct link_limits {
	unsigned links_max;	 /* links, in any state [64] */
	unsigned handshakes_max; /* responder handshakes in flight [32]; over
				  * half of them busy, cookies are required */
	unsigned hs_rate;	 /* handshake packets per second per source
				  * address bucket [10] */
	unsigned hs_burst;	 /* bucket depth [20] */
};

struct link_config {
	const uint8_t *node_sk; /* our X25519 node key, 32 bytes; copied */
	const struct rng *rng;	/* must outlive the manager */
	struct dht_io io;	/* send(self, to, pkt, len) */
	struct link_callbacks cb;
	struct link_limits limits;
};

struct link_status {
	unsigned links;		 /* in the table */
	unsigned established;	 /* with a usable session */
	unsigned handshakes_out; /* our initiations in flight */
	unsigned handshakes_in;	 /* responder slots busy */
	uint64_t pkts_in, pkts_out, bytes_in, bytes_out, send_errors;
	uint64_t data_in, data_out; /* non-empty transport */
	uint64_t keepalives_in, keepalives_out;
	uint64_t hs_init_out, hs_resp_out, hs_final_out, cookies_out;
	uint64_t hs_done; /* handshakes completed */
	uint64_t rekeys;  /* of which replaced a session */
	uint64_t roams;	  /* peer address changed */
	uint64_t closed_timeout, closed_dead, closed_expired;
	uint64_t drop[LINK_DROP_MAX_];
};

/* One link, for tools and tests. */
struct link_peer_status {
	bool established;
	bool handshaking;
	struct dht_addr addr;
	uint64_t session_age_ms; /* of the current session; 0 when none */
	uint64_t last_recv_ms;	 /* last authenticated packet (now_ms) */
	uint64_t last_sent_ms;	 /* last transport packet sent */
	uint64_t send_counter;	 /* next counter of the current session */
	bool initiator;		 /* of the current session */
};

struct link_mgr;

/* Creates a manager (cx_init() must have run).  Returns 0, -EINVAL (missing
 * key, rng or send) or -ENOMEM; *out is NULL on failure. */
int link_mgr_new(struct link_mgr **out, const struct link_config *cfg);

/* Wipes every key and frees; no callback runs.  NULL is a no-op. */
void link_mgr_free(struct link_mgr *m);

/* True when pkt's first byte is a link packet class (0x10..0x1f). */
bool link_is_packet(const uint8_t *pkt, size_t len);

/* Starts a Noise XK handshake with the node whose X25519 key is pk (known
 * from the DHT) at addr, retransmitted with backoff until answered; then
 * established_cb, or closed_cb(LINK_CLOSE_HANDSHAKE_TIMEOUT) after 90 s.
 * On an established link to the same address this does nothing; to a new
 * address it updates the address and rekeys (reconnect after an address
 * change).  Returns 0, -EINVAL (bad address, own key), -ENOSPC, -ENOMEM. */
int link_connect(struct link_mgr *m, uint64_t now_ms,
		 const uint8_t pk[static LINK_PK_LEN],
		 const struct dht_addr *addr);

/* Starts a Noise XX handshake with whatever node answers at addr, for
 * when its key is unknown (a bare bootstrap address).  established_cb
 * then reports the key; closed_cb gets an all-zero key if none was
 * learnt.  Nothing happens when a link to addr exists; when the node
 * turns out to be one we are linked to already, the attempt ends quietly.
 * Later rekeys of the link use XK.  Returns 0, -EINVAL, -ENOSPC,
 * -ENOMEM. */
int link_connect_addr(struct link_mgr *m, uint64_t now_ms,
		      const struct dht_addr *addr);

/* Processes one datagram from `from` whose class is ours.  Hostile or
 * stale input is dropped and counted (link_status.drop), never fatal.
 * Returns 0 when the packet was used, or the negative errno of the drop:
 * -EBADMSG, -EKEYREJECTED, -EALREADY (replay), -EBUSY (rate, cookie, tie
 * break), -ENOENT (unknown index), -ENOSPC, -ESTALE (expired session). */
int link_recv(struct link_mgr *m, uint64_t now_ms, const struct dht_addr *from,
	      const uint8_t *pkt, size_t len);

/* Sends data (len <= LINK_PAYLOAD_MAX; 0 is a keepalive) to pk as one
 * authenticated datagram.  Never blocks, never queues.  Returns 0,
 * -ENOTCONN (no established link), -E2BIG, or io.send's error. */
int link_send(struct link_mgr *m, uint64_t now_ms,
	      const uint8_t pk[static LINK_PK_LEN], const uint8_t *data,
	      size_t len);

/* Runs timers: handshake retransmits and give-ups, keepalives, rekeys,
 * dead-link detection, session expiry.  Returns the next deadline (absolute
 * ms), UINT64_MAX when nothing is scheduled.  Call again by then, and after
 * any other call (which may move the deadline earlier). */
uint64_t link_tick(struct link_mgr *m, uint64_t now_ms);

/* Drops the link to pk and wipes its keys without telling the peer (it
 * notices by timeout).  Returns 0 or -ENOENT. */
int link_close(struct link_mgr *m, const uint8_t pk[static LINK_PK_LEN]);

/* Abandons a link_connect_addr() to addr whose key is still unknown
 * (quietly, as link_close).  Returns 0, -EINVAL or -ENOENT. */
int link_close_addr(struct link_mgr *m, const struct dht_addr *addr);

/* Counters and table sizes. */
void link_status(const struct link_mgr *m, struct link_status *st);

/* State of the link to pk.  Returns 0 or -ENOENT. */
int link_peer_status(const struct link_mgr *m, uint64_t now_ms,
		     const uint8_t pk[static LINK_PK_LEN],
		     struct link_peer_status *st);

/* Human-readable name of a drop reason or close reason. */
const char *link_drop_str(enum link_drop d);
const char *link_close_str(int reason);

#endif
