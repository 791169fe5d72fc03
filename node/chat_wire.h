/* Wire and stored formats of one-to-one messaging (docs/PROTOCOL-chat.md):
 * the frames carried as link payloads, the envelope inside the Double
 * Ratchet, and the sealed session record in SESSIONS.  Pure codecs; every
 * decoder checks lengths, versions and reserved bits and returns 0 or
 * -EBADMSG.  Exposed for node/chat.c, its tests and the fuzz targets. */
#ifndef PARLEY_NODE_CHAT_WIRE_H
#define PARLEY_NODE_CHAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cx.h"
#include "crypto/x3dh.h"
#include "node/link.h"
#include "node/msgstore.h"

/* Frame types: the first byte of a link payload. */
enum chat_frame {
	CF_HELLO = 0x01,    /* who is behind this node, signed */
	CF_DATA = 0x02,	    /* a fragment of a ratchet message */
	CF_ACK = 0x03,	    /* cumulative acknowledgement, control bits */
	CF_READ = 0x04,	    /* read receipts: message ids */
	CF_READ_ACK = 0x05, /* read receipts arrived */
	CF_TYPING = 0x06,   /* typing on / off */
	CF_BYE = 0x07,	    /* going offline */
	CF_BATCH = 0x08,    /* several frames in one payload */
};

#define CW_VERSION 1

/* HELLO: type | version | flags | account pk 32 | device pk 32 |
 * device created_s 8 | device cert 64 | ts_ms 8 | sig 64, where sig is
 * the device key's Ed25519 signature over
 *   "parley hello v1" 0x00 | sender node pk | receiver node pk |
 *   account pk | device pk | ts_ms (8, BE). */
#define CW_HELLO_LEN (3 + 32 + 32 + 8 + 64 + 8 + 64)
#define CW_HELLO_ACK 0x01 /* flags: the sender has our hello */
#define CW_HELLO_SIGMSG_LEN (16 + 32 * 4 + 8)
struct cw_hello {
	uint8_t flags;
	uint8_t account[CX_ED_PK_LEN];
	uint8_t device[CX_ED_PK_LEN];
	uint64_t dev_created_s;
	uint8_t dev_sig[CX_SIG_LEN];
	uint64_t ts_ms;
	uint8_t sig[CX_SIG_LEN];
};
void cw_hello_encode(uint8_t out[static CW_HELLO_LEN], const struct cw_hello *h);
int cw_hello_decode(struct cw_hello *h, const uint8_t *buf, size_t len);
void cw_hello_sigmsg(uint8_t out[static CW_HELLO_SIGMSG_LEN],
		     const uint8_t from_node[static 32],
		     const uint8_t to_node[static 32], const struct cw_hello *h);

/* DATA: type | flags | tag 4 | n 8 | index 2 | count 2 | chunk.  The
 * chunks of one tag, in index order, make the message: [X3DH header
 * (74) if CW_DATA_INIT] | ratchet message.  n is the sender's stream
 * number (1, 2, ...) of a text; 0 with CW_DATA_CTL for a request or an
 * acceptance. */
#define CW_DATA_HDR 18
#define CW_DATA_CHUNK (LINK_PAYLOAD_MAX - CW_DATA_HDR)
#define CW_DATA_INIT 0x01
#define CW_DATA_CTL 0x02
#define CW_DATA_MAX_FRAGS 128
#define CW_MSG_MAX (CW_DATA_MAX_FRAGS * CW_DATA_CHUNK)
struct cw_data {
	uint8_t flags;
	uint32_t tag;
	uint64_t n;
	uint16_t index, count;
	const uint8_t *chunk;
	size_t chunk_len;
};
void cw_data_hdr(uint8_t out[static CW_DATA_HDR], const struct cw_data *d);
int cw_data_decode(struct cw_data *d, const uint8_t *buf, size_t len);

/* BATCH: type | (len 2 | frame) repeated, at least two frames, each
 * 1..LINK_PAYLOAD_MAX - 3 bytes and not itself a BATCH, filling the
 * payload exactly.  One datagram (one AEAD, one system call on each side)
 * for what a turn sends a peer: acks with texts, or several small texts.
 * cw_batch_check validates the whole payload; then cw_batch_next walks it
 * from *off = 1 and returns 1 with the next frame, or 0 at the end. */
#define CW_BATCH_ENTRY_HDR 2
#define CW_BATCH_FRAME_MAX (LINK_PAYLOAD_MAX - 1 - CW_BATCH_ENTRY_HDR)
int cw_batch_check(const uint8_t *buf, size_t len);
int cw_batch_next(const uint8_t *buf, size_t len, size_t *off,
		  const uint8_t **frame, size_t *frame_len);

/* ACK: type | flags | cumulative n 8. */
#define CW_ACK_LEN 10
#define CW_ACK_REQ 0x01	   /* your request arrived */
#define CW_ACK_ACCEPT 0x02 /* your acceptance arrived */

/* READ: type | tag 4 | count 1 | count x message id 16. */
#define CW_READ_MAX 64
/* READ_ACK: type | tag 4.  TYPING: type | on 1.  BYE: type. */

/* The envelope inside a ratchet message (DESIGN.md 6): version | kind |
 * id 16 | sent_ms 8 | flags | [reply_to 16] | body_len 4 | body, then
 * padded (crypto/pad.h) before encryption. */
enum cw_kind {
	CW_KIND_TEXT = 1,
	CW_KIND_REQUEST = 2, /* body: name_len 1 | name | greet_len 2 | greet */
	CW_KIND_ACCEPT = 3,  /* body: name_len 1 | name */
};
#define CW_ENV_REPLY 0x01
#define CW_ENV_HDR (1 + 1 + 16 + 8 + 1 + 4)
struct cw_env {
	uint8_t kind;
	uint8_t id[MSGSTORE_ID_LEN];
	uint64_t sent_ms;
	bool has_reply;
	uint8_t reply_to[MSGSTORE_ID_LEN];
	const uint8_t *body;
	size_t body_len;
};
/* Encodes into out (out_max >= CW_ENV_HDR + 16 + body_len). */
int cw_env_encode(uint8_t *out, size_t out_max, size_t *len,
		  const struct cw_env *e);
int cw_env_decode(struct cw_env *e, const uint8_t *buf, size_t len);

/* Request / accept bodies: names and greetings as in msgstore's limits,
 * valid UTF-8. */
int cw_intro_encode(uint8_t *out, size_t out_max, size_t *len,
		    const char *name, const char *greeting, bool with_greeting);
int cw_intro_decode(const uint8_t *buf, size_t len, bool with_greeting,
		    char name[static MSGSTORE_NAME_MAX + 1],
		    char greeting[static MSGSTORE_GREETING_MAX + 1]);

/* Session record (before sealing): version | flags | x3dh header 74 |
 * pair 32 | node pk 32 | acked 8 | received 8 | ratchet_len 4 | ratchet |
 * [count 2 | count x read-receipt id 16, when flags has CW_SESS_READS]. */
#define CW_SESS_INITIATOR 0x01 /* we sent the request (X3DH Alice) */
#define CW_SESS_REQ_ACKED 0x02 /* the peer has our request */
#define CW_SESS_ACC_ACKED 0x04 /* the peer has our acceptance */
#define CW_SESS_HAS_NODE 0x08  /* node_pk is the peer's last node */
#define CW_SESS_READS 0x10     /* read receipts not yet acknowledged follow */
#define CW_READS_MAX 4096      /* of them */
#define CW_SESS_FIXED (2 + CX_X3DH_INIT_LEN + 32 + 32 + 8 + 8 + 4)
struct cw_sess {
	uint8_t flags;
	uint8_t init[CX_X3DH_INIT_LEN];
	uint8_t pair[32];
	uint8_t node_pk[32];
	uint64_t acked;	   /* our texts the peer acknowledged (A) */
	uint64_t received; /* the peer's texts stored, in order (R) */
	const uint8_t *ratchet;
	size_t ratchet_len;
	/* read receipts the peer has not acknowledged (ids, 16 bytes each):
	 * after the ratchet, count 2 | count x id, with CW_SESS_READS */
	const uint8_t *reads;
	size_t nreads;
};
int cw_sess_encode(uint8_t *out, size_t out_max, size_t *len,
		   const struct cw_sess *s);
int cw_sess_decode(struct cw_sess *s, const uint8_t *buf, size_t len);

#endif
