/* DHT wire format: every constant and layout in one place (STYLE.md
 * section 1, like WireGuard's messages.h).  docs/PROTOCOL-dht.md is the
 * prose version.  All integers are big-endian.
 *
 * Sealed packet (class DHT_CLASS_SEALED):
 *   0   1   class = 0x01
 *   1  32   sender X25519 node public key
 *  33  24   nonce (random)
 *  57  16+n crypto_box_easy_afternm(plaintext, nonce, k(sender, receiver))
 * plaintext:
 *   0   1   type (enum dht_msg)
 *   1   1   flags (receivers ignore unknown bits): DHT_FLAG_WANT_TOKEN
 *   2   8   transaction id; a reply echoes the request's
 *  10   8   sender's time, Unix ms (requests older or newer than
 *           DHT_SKEW_MAX_MS are dropped as replays)
 *  18   -   body (per type, below)
 *
 * Plain key exchange, for bootstrapping from an address alone:
 *   KEYREQ  0x02 || cookie(8) || zero(32)     (41 bytes, as large as the reply)
 *   KEYRESP 0x03 || cookie(8) || public key(32)
 *
 * Every packet is at most DHT_PKT_MAX = 1280 bytes (the IPv6 minimum MTU). */
#ifndef PARLEY_DHT_WIRE_H
#define PARLEY_DHT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/box.h"
#include "dht/dht.h"

#define DHT_PKT_MAX 1280
#define DHT_CLASS_SEALED 0x01
#define DHT_CLASS_KEYREQ 0x02
#define DHT_CLASS_KEYRESP 0x03
#define DHT_KEYX_LEN 41
#define DHT_OUTER_LEN (1 + CX_X_PK_LEN + CX_BOX_NONCE_LEN) /* 57 */
#define DHT_INNER_HDR_LEN 18
#define DHT_SEALED_MIN (DHT_OUTER_LEN + CX_BOX_MAC_LEN + DHT_INNER_HDR_LEN)
#define DHT_PLAIN_MAX (DHT_PKT_MAX - DHT_OUTER_LEN - CX_BOX_MAC_LEN) /* 1207   \
								      */
#define DHT_BODY_MAX (DHT_PLAIN_MAX - DHT_INNER_HDR_LEN)	     /* 1189 */
#define DHT_SKEW_MAX_MS 60000
#define DHT_TOKEN_LEN 16

/* Message types. */
enum dht_msg {
	DHT_MSG_PING = 1,	/* body: empty */
	DHT_MSG_PONG = 2,	/* body: addr (the requester as seen)
				 * [token(16): if the PING had
				 * DHT_FLAG_WANT_TOKEN] */
	DHT_MSG_FIND_NODE = 3,	/* body: target(32) */
	DHT_MSG_NODES = 4,	/* body: token(16) n(1) n * node */
	DHT_MSG_FIND_VALUE = 5, /* body: key(32) min_seq(8) */
	DHT_MSG_VALUE = 6,	/* body: token(16) record */
	DHT_MSG_STORE = 7,	/* body: token(16) record */
	DHT_MSG_STORE_ACK = 8,	/* body: status(1) */
};
#define DHT_MSG_MAX 8

/* Header flag of a PING: answer with a write token in the PONG, as NODES
 * does (a responder that does not know the flag answers without one). */
#define DHT_FLAG_WANT_TOKEN 0x01

static inline bool dht_msg_is_request(unsigned t)
{
	return t == DHT_MSG_PING || t == DHT_MSG_FIND_NODE ||
	       t == DHT_MSG_FIND_VALUE || t == DHT_MSG_STORE;
}

enum dht_store_status {
	DHT_STORE_OK = 0,
	DHT_STORE_BAD_TOKEN = 1,
	DHT_STORE_OLD_SEQ = 2, /* lower or equal seq than the stored one */
	DHT_STORE_FULL = 3,
	DHT_STORE_INVALID = 4, /* bad signature, expired, too far ahead */
};

/* addr: family(1) = 4 | 6, ip(4 | 16), port(2) */
#define DHT_ADDR_MAX_LEN 19
/* node: pk(32) addr */
#define DHT_NODE_MAX_LEN (CX_X_PK_LEN + DHT_ADDR_MAX_LEN)
/* record: kind(1) pk(32) salt_len(1) salt seq(8) expiry(8) value_len(2)
 * value sig(64) */
#define DHT_RECORD_MIN_LEN (1 + 32 + 1 + 8 + 8 + 2 + CX_SIG_LEN)
#define DHT_RECORD_MAX_LEN (DHT_RECORD_MIN_LEN + DHT_SALT_MAX + DHT_VALUE_MAX)
/* The largest bodies must fit: STORE and VALUE carry token + record. */
_Static_assert(DHT_TOKEN_LEN + DHT_RECORD_MAX_LEN <= DHT_BODY_MAX,
	       "a full record must fit one packet");
_Static_assert(DHT_TOKEN_LEN + 1 + DHT_K * DHT_NODE_MAX_LEN <= DHT_BODY_MAX,
	       "k IPv6 nodes must fit one packet");

/* Bounded reader and writer over a byte buffer.  A failed read or write
 * sets err and every later call is a no-op, so codecs check once at the
 * end (the "sticky error" style of Go's binary readers). */
struct dht_buf {
	uint8_t *p;
	size_t len, pos;
	bool err;
};

void dht__put_u8(struct dht_buf *b, uint8_t v);
void dht__put_u16(struct dht_buf *b, uint16_t v);
void dht__put_u64(struct dht_buf *b, uint64_t v);
void dht__put_bytes(struct dht_buf *b, const void *v, size_t n);
uint8_t dht__get_u8(struct dht_buf *b);
uint16_t dht__get_u16(struct dht_buf *b);
uint64_t dht__get_u64(struct dht_buf *b);
void dht__get_bytes(struct dht_buf *b, void *v, size_t n);

/* Address codec; decode fails on an unknown family or a zero port. */
void dht__put_addr(struct dht_buf *b, const struct dht_addr *a);
int dht__get_addr(struct dht_buf *b, struct dht_addr *a);
bool dht__addr_valid(const struct dht_addr *a);
bool dht__addr_equal(const struct dht_addr *a, const struct dht_addr *b);

/* Record codec.  Encoding writes the wire form; decoding checks lengths and
 * kind but not the signature (dht_record_verify does).  Decode returns 0 or
 * -EBADMSG. */
void dht__put_record(struct dht_buf *b, const struct dht_record *r);
int dht__get_record(struct dht_buf *b, struct dht_record *r);
/* Encoded size of r. */
size_t dht__record_len(const struct dht_record *r);

/* Decoded sealed packet: the outer fields, and the opened plaintext. */
struct dht_msg_hdr {
	uint8_t type;
	uint8_t flags;
	uint64_t txid;
	uint64_t time_ms;
};

/* Parses the outer sealed header: checks class and size.  Returns 0,
 * -EBADMSG (short, wrong class) or -E2BIG. */
int dht__outer_parse(const uint8_t *pkt, size_t len, const uint8_t **sender_pk,
		     const uint8_t **nonce, const uint8_t **box,
		     size_t *box_len);

/* Parses the plaintext header; the body follows at plain + 18. */
int dht__inner_parse(const uint8_t *plain, size_t len, struct dht_msg_hdr *h);

/* Decoded message bodies, for the fuzz targets and dht.c. */
struct dht_wire_node {
	uint8_t pk[CX_X_PK_LEN];
	struct dht_addr addr;
};
struct dht_body {
	uint8_t target[DHT_ID_LEN]; /* FIND_NODE target, FIND_VALUE key */
	uint64_t min_seq;
	uint8_t token[DHT_TOKEN_LEN];
	bool has_token;	      /* token is set: NODES, VALUE, STORE, a PONG
			       * that carries one */
	struct dht_addr addr; /* PONG */
	unsigned num_nodes;
	struct dht_wire_node nodes[DHT_K];
	uint8_t status;
	struct dht_record *record; /* VALUE, STORE: caller-provided storage */
};

/* Parses a body of the given type.  b->record must point at storage for
 * VALUE and STORE.  Returns 0 or -EBADMSG (trailing bytes included). */
int dht__body_parse(unsigned type, const uint8_t *p, size_t len,
		    struct dht_body *b);

#endif
