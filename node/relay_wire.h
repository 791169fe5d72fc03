/* Wire format between a node and a store-and-forward relay (DESIGN.md
 * section 7, docs/PROTOCOL-relay.md): frames carried as link payloads
 * over an ordinary Noise link to the relay's node key.  Pure codecs, no
 * state: every decoder checks the type byte, exact lengths and ranges and
 * returns 0 or -EBADMSG; every encoder checks its arguments (-EINVAL) and
 * the output room (-E2BIG) and returns the encoded length through *len.
 *
 * Frame types take the first payload byte; 0x20..0x2f are the relay's
 * (chat frames use 0x01..0x0f, docs/PROTOCOL-chat.md).  Integers are
 * big-endian.
 *
 *   DEPOSIT      0x20 | req 4 | mailbox 32 | blob (1..RELAY_BLOB_MAX)
 *   DEPOSIT_RES  0x21 | req 4 | code 1
 *   FETCH        0x22 | req 4 | mailbox 32 | del_upto 8 | after 8 |
 *                ts_s 8 | sig 64
 *   ITEMS        0x23 | req 4 | mailbox 32 | code 1 | flags 1 |
 *                (seq 8 | len 2 | blob (1..RELAY_BLOB_MAX))*
 *   DEPOSIT_REQ  0x24 | req 4 | mailbox 32 | stamp 8 | blob
 *   FETCH_REQ    0x25 | req 4 | account 32 | del_upto 8 | after 8 |
 *                ts_s 8 | epoch 8 | sig 64
 *   NOTIFY       0x26 | mailbox 32
 *   POLL         0x27 | req 4 | n 1 | mailbox 32 * n   (n 1..RW_POLL_MAX)
 *   POLL_RES     0x28 | req 4 | code 1 | n 1 | bits ceil(n / 8)
 *
 * NOTIFY goes from the relay, unasked, to the node that last fetched a
 * mailbox (within RELAY_WATCH_MS, over the same link) when something was
 * deposited there: fetch again.  It carries nothing else.
 *
 * POLL asks which of n pairwise mailboxes hold items; POLL_RES answers in
 * the same order, bit i (of byte i / 8, least significant first) set when
 * mailbox i does; unused bits are zero, and there are no bits when code !=
 * RC_OK.  A POLL is not signed: a pairwise mailbox's ID is known only to
 * the two people of the pair (and the relay), and the answer says only
 * "something is there", which a FETCH then takes with the owner's
 * signature.  It also makes its sender the one NOTIFY tells about those
 * mailboxes, as a FETCH does.  Request mailboxes, whose IDs anyone can
 * derive, are never reported by a POLL (their bits stay clear): who asks
 * an account for contact and when stays behind FETCH_REQ's signature.
 * One POLL replaces up to RW_POLL_MAX FETCHes of mailboxes that are
 * almost always empty, and their signatures.
 *
 * The DEPOSIT_REQ and FETCH_REQ frames are for the public request mailbox of an account, where
 * strangers leave contact requests (DESIGN.md 7): its ID is
 * cx_request_mailbox_id(account, epoch) (crypto/envelope.h), which anyone
 * with the contact ID can compute.  A DEPOSIT_REQ carries a proof-of-work
 * stamp (cx_pow_*) over cx_pow_challenge(mailbox, blob) of at least
 * RELAY_POW_BITS; a FETCH_REQ is signed by the account key over
 * rw_fetch_req_sigmsg():
 *   "parley relay fetch request v1" 0x00 | relay node pk 32 | req 4 |
 *   account 32 | del_upto 8 | after 8 | ts_s 8 | epoch 8
 * and answered by ITEMS naming the request mailbox's ID.  A relay keeps
 * request mailboxes apart from pairwise ones, so a plain DEPOSIT cannot
 * reach one without the stamp.
 *
 * A mailbox ID is an Ed25519 public key; only its owner can sign a FETCH.
 * sig is Ed25519 by the mailbox key over rw_fetch_sigmsg():
 *   "parley relay fetch v1" 0x00 | relay node pk 32 | req 4 | mailbox 32 |
 *   del_upto 8 | after 8 | ts_s 8
 * so a fetch made for one relay is worthless at another.  A FETCH first
 * deletes the mailbox's items with seq <= del_upto (0: none), then answers
 * the items with seq > after, oldest first, in one or more ITEMS frames
 * (flags RW_ITEMS_MORE when the relay holds more than it sent this time).
 * An ITEMS frame with code != RC_OK carries no item. */
#ifndef PARLEY_NODE_RELAY_WIRE_H
#define PARLEY_NODE_RELAY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/link.h"

enum relay_frame {
	RF_DEPOSIT = 0x20,
	RF_DEPOSIT_RES = 0x21,
	RF_FETCH = 0x22,
	RF_ITEMS = 0x23,
	RF_DEPOSIT_REQ = 0x24,
	RF_FETCH_REQ = 0x25,
	RF_NOTIFY = 0x26,
	RF_POLL = 0x27,
	RF_POLL_RES = 0x28,
};

/* Result codes (DEPOSIT_RES, ITEMS). */
enum relay_code {
	RC_OK = 0,
	RC_MAILBOX_FULL = 1, /* the mailbox is at its count or byte limit */
	RC_RELAY_FULL = 2,   /* the relay's disk budget is used up */
	RC_RATE = 3,	     /* too many requests from this node; later */
	RC_NOT_RELAY = 4,    /* this node does not relay */
	RC_AUTH = 5,	     /* FETCH signature or time does not verify */
	RC_ERROR = 6,	     /* the relay failed (store error) */
	RC_POW = 7,	     /* DEPOSIT_REQ without a good enough stamp */
	RC_QUOTA = 8,	     /* the depositor's source holds its quota */
	/* The last code this version knows.  Answers carry any byte: a
	 * code above it comes from a newer relay and is a refusal whose
	 * reason we do not know ("unknown"), so the client goes to another
	 * relay at once instead of waiting out its retries. */
	RC_MAX_ = RC_QUOTA,
};

#define RELAY_MAILBOX_LEN 32
#define RELAY_SIG_LEN 64
#define RW_DEPOSIT_HDR (1 + 4 + RELAY_MAILBOX_LEN)		/* 37 */
#define RW_DEPOSIT_RES_LEN (1 + 4 + 1)				/* 6 */
#define RW_FETCH_LEN (1 + 4 + RELAY_MAILBOX_LEN + 8 + 8 + 8 + 64) /* 125 */
#define RW_ITEMS_HDR (1 + 4 + RELAY_MAILBOX_LEN + 1 + 1)	/* 39 */
#define RW_ITEM_HDR (8 + 2)					/* per item */
/* The largest blob: one item alone in an ITEMS frame fits a link payload. */
#define RELAY_BLOB_MAX (LINK_PAYLOAD_MAX - RW_ITEMS_HDR - RW_ITEM_HDR) /* 1151 */
#define RW_ITEMS_MORE 0x01
#define RW_DEPOSIT_REQ_HDR (RW_DEPOSIT_HDR + 8)		 /* 45 */
#define RW_FETCH_REQ_LEN (RW_FETCH_LEN + 8)		 /* 133 */
#define RELAY_POW_BITS 16 /* a stamp's difficulty at least */
#define RW_NOTIFY_LEN (1 + RELAY_MAILBOX_LEN)
#define RW_POLL_MAX 32
#define RW_POLL_HDR (1 + 4 + 1)
#define RW_POLL_LEN(n) (RW_POLL_HDR + (size_t)(n) * RELAY_MAILBOX_LEN)
#define RW_POLL_RES_HDR (1 + 4 + 1 + 1)
#define RW_POLL_RES_MAX (RW_POLL_RES_HDR + RW_POLL_MAX / 8)
#define RW_FETCH_REQ_SIG_LABEL "parley relay fetch request v1"
#define RW_FETCH_REQ_SIGMSG_LEN                                                \
	(sizeof RW_FETCH_REQ_SIG_LABEL + 32 + 4 + 32 + 8 + 8 + 8 + 8)
#define RW_FETCH_SIG_LABEL "parley relay fetch v1"
#define RW_FETCH_SIGMSG_LEN                                                    \
	(sizeof RW_FETCH_SIG_LABEL + 32 + 4 + RELAY_MAILBOX_LEN + 8 + 8 + 8)

struct rw_deposit {
	uint32_t req;
	uint8_t mailbox[RELAY_MAILBOX_LEN];
	const uint8_t *blob; /* decode: points into the frame */
	size_t blob_len;
};

struct rw_deposit_res {
	uint32_t req;
	uint8_t code; /* enum relay_code; any byte (see RC_MAX_) */
};

struct rw_fetch {
	uint32_t req;
	uint8_t mailbox[RELAY_MAILBOX_LEN];
	uint64_t del_upto, after, ts_s;
	uint8_t sig[RELAY_SIG_LEN];
};

struct rw_items {
	uint32_t req;
	uint8_t mailbox[RELAY_MAILBOX_LEN];
	uint8_t code;  /* enum relay_code */
	uint8_t flags; /* RW_ITEMS_MORE; other bits must be zero */
};

int rw_deposit_encode(uint8_t *out, size_t out_max, size_t *len,
		      const struct rw_deposit *d);
int rw_deposit_decode(struct rw_deposit *d, const uint8_t *buf, size_t len);

int rw_deposit_res_encode(uint8_t *out, size_t out_max, size_t *len,
			  const struct rw_deposit_res *r);
int rw_deposit_res_decode(struct rw_deposit_res *r, const uint8_t *buf,
			  size_t len);

/* The bytes the mailbox key signs (RW_FETCH_SIGMSG_LEN of them). */
void rw_fetch_sigmsg(uint8_t out[static RW_FETCH_SIGMSG_LEN],
		     const uint8_t relay_pk[static 32],
		     const struct rw_fetch *f);
int rw_fetch_encode(uint8_t *out, size_t out_max, size_t *len,
		    const struct rw_fetch *f);
int rw_fetch_decode(struct rw_fetch *f, const uint8_t *buf, size_t len);

/* DEPOSIT_REQ: a DEPOSIT with its stamp. */
struct rw_deposit_req {
	struct rw_deposit d;
	uint64_t stamp;
};
int rw_deposit_req_encode(uint8_t *out, size_t out_max, size_t *len,
			  const struct rw_deposit_req *d);
int rw_deposit_req_decode(struct rw_deposit_req *d, const uint8_t *buf,
			  size_t len);

/* FETCH_REQ: f.mailbox holds the account key; f.sig its signature. */
struct rw_fetch_req {
	struct rw_fetch f;
	uint64_t epoch;
};
void rw_fetch_req_sigmsg(uint8_t out[static RW_FETCH_REQ_SIGMSG_LEN],
			 const uint8_t relay_pk[static 32],
			 const struct rw_fetch_req *f);
int rw_fetch_req_encode(uint8_t *out, size_t out_max, size_t *len,
			const struct rw_fetch_req *f);
int rw_fetch_req_decode(struct rw_fetch_req *f, const uint8_t *buf,
			size_t len);

/* ITEMS, built in place: rw_items_begin writes the header into out
 * (out_max >= RW_ITEMS_HDR) and sets *len; rw_items_add appends one item
 * and returns -E2BIG, leaving out and *len as they were, when it does not
 * fit out_max; rw_items_set_flags rewrites the flags byte. */
int rw_items_begin(uint8_t *out, size_t out_max, size_t *len,
		   const struct rw_items *h);
int rw_items_add(uint8_t *out, size_t out_max, size_t *len, uint64_t seq,
		 const uint8_t *blob, size_t blob_len);
void rw_items_set_flags(uint8_t *out, uint8_t flags);

/* Validates a whole ITEMS frame (header, then every item: seq strictly
 * increasing, len 1..RELAY_BLOB_MAX, filling the frame exactly, none when
 * code != RC_OK).  Then rw_items_next walks it from *off = RW_ITEMS_HDR
 * and returns 1 with the next item, or 0 at the end. */
int rw_items_decode(struct rw_items *h, const uint8_t *buf, size_t len);
int rw_items_next(const uint8_t *buf, size_t len, size_t *off, uint64_t *seq,
		  const uint8_t **blob, size_t *blob_len);

void rw_notify_encode(uint8_t out[static RW_NOTIFY_LEN],
		      const uint8_t mailbox[static RELAY_MAILBOX_LEN]);
int rw_notify_decode(uint8_t mailbox[static RELAY_MAILBOX_LEN],
		     const uint8_t *buf, size_t len);

/* POLL: mailbox points into the frame when decoded (n * 32 bytes). */
struct rw_poll {
	uint32_t req;
	unsigned n; /* 1..RW_POLL_MAX */
	const uint8_t *mailbox;
};
int rw_poll_encode(uint8_t *out, size_t out_max, size_t *len,
		   const struct rw_poll *p);
int rw_poll_decode(struct rw_poll *p, const uint8_t *buf, size_t len);

struct rw_poll_res {
	uint32_t req;
	uint8_t code; /* enum relay_code */
	unsigned n;   /* 1..RW_POLL_MAX, as the POLL's */
	uint8_t bits[RW_POLL_MAX / 8];
};
/* Whether mailbox i of a POLL_RES holds items. */
static inline bool rw_poll_res_has(const struct rw_poll_res *r, unsigned i)
{
	return i < r->n && (r->bits[i / 8] >> (i % 8) & 1) != 0;
}
int rw_poll_res_encode(uint8_t *out, size_t out_max, size_t *len,
		       const struct rw_poll_res *r);
int rw_poll_res_decode(struct rw_poll_res *r, const uint8_t *buf,
		       size_t len);

/* Whether a frame type is a request to a relay (the relay service's),
 * rather than an answer (the client's). */
static inline bool relay_frame_is_request(uint8_t type)
{
	return type == RF_DEPOSIT || type == RF_FETCH ||
	       type == RF_DEPOSIT_REQ || type == RF_FETCH_REQ ||
	       type == RF_POLL;
}

/* Whether a frame type is a relay's answer or NOTIFY (the client's). */
static inline bool relay_frame_is_answer(uint8_t type)
{
	return type == RF_DEPOSIT_RES || type == RF_ITEMS ||
	       type == RF_NOTIFY || type == RF_POLL_RES;
}

/* Name of a code for logs and the API ("ok", "mailbox full", ...). */
const char *relay_code_str(int code);

#endif
