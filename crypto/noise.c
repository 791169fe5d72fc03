/* Noise Protocol Framework, revision 34: CipherState, SymmetricState and
 * HandshakeState (sections 5.1-5.3) with the patterns of sections 7.4-7.5
 * and the psk modifiers of section 9.
 *
 * The handshake object and the transport cipher states live in
 * sodium_malloc memory (they hold keys) and are wiped when freed.  Patterns
 * are kept as text in a table, in the spec's own notation, and parsed into
 * token lists when a handshake starts; psk modifiers are applied to that
 * list exactly as section 9.3 describes. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto/kdf.h"
#include "crypto/noise.h"
#include "crypto/prim.h"

#define MAX_MSGS 8
#define MAX_TOKENS 12
#define NONCE_MAX UINT64_MAX /* reserved: section 5.1 */

enum tok { TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS, TOK_PSK };

enum cipher { CIPHER_CHACHAPOLY, CIPHER_AESGCM };

/* Section 7.4 (one-way and fundamental) and 7.5 (deferred) patterns:
 * name, initiator pre-message, responder pre-message, then the messages
 * separated by ';', alternating -> and <- starting with ->. */
static const struct pattern_text {
	const char *name, *pre_i, *pre_r, *msgs;
} patterns[] = {
	{"N", "", "s", "e,es"},
	{"K", "s", "s", "e,es,ss"},
	{"X", "", "s", "e,es,s,ss"},
	{"NN", "", "", "e;e,ee"},
	{"NK", "", "s", "e,es;e,ee"},
	{"NX", "", "", "e;e,ee,s,es"},
	{"XN", "", "", "e;e,ee;s,se"},
	{"XK", "", "s", "e,es;e,ee;s,se"},
	{"XX", "", "", "e;e,ee,s,es;s,se"},
	{"KN", "s", "", "e;e,ee,se"},
	{"KK", "s", "s", "e,es,ss;e,ee,se"},
	{"KX", "s", "", "e;e,ee,se,s,es"},
	{"IN", "", "", "e,s;e,ee,se"},
	{"IK", "", "s", "e,es,s,ss;e,ee,se"},
	{"IX", "", "", "e,s;e,ee,se,s,es"},
	{"NK1", "", "s", "e;e,ee,es"},
	{"NX1", "", "", "e;e,ee,s;es"},
	{"X1N", "", "", "e;e,ee;s;se"},
	{"X1K", "", "s", "e,es;e,ee;s;se"},
	{"XK1", "", "s", "e;e,ee,es;s,se"},
	{"X1K1", "", "s", "e;e,ee,es;s;se"},
	{"X1X", "", "", "e;e,ee,s,es;s;se"},
	{"XX1", "", "", "e;e,ee,s;es,s,se"},
	{"X1X1", "", "", "e;e,ee,s;es,s;se"},
	{"K1N", "s", "", "e;e,ee;se"},
	{"K1K", "s", "s", "e,es;e,ee;se"},
	{"KK1", "s", "s", "e;e,ee,se,es"},
	{"K1K1", "s", "s", "e;e,ee,es;se"},
	{"K1X", "s", "", "e;e,ee,s,es;se"},
	{"KX1", "s", "", "e;e,ee,se,s;es"},
	{"K1X1", "s", "", "e;e,ee,s;se,es"},
	{"I1N", "", "", "e,s;e,ee;se"},
	{"I1K", "", "s", "e,es,s;e,ee;se"},
	{"IK1", "", "s", "e,s;e,ee,se,es"},
	{"I1K1", "", "s", "e,s;e,ee,es;se"},
	{"I1X", "", "", "e,s;e,ee,s,es;se"},
	{"IX1", "", "", "e,s;e,ee,se,s;es"},
	{"I1X1", "", "", "e,s;e,ee,s;se,es"},
};

/* Section 5.1: a CipherState is k, n; k may be "empty". */
struct cx_noise_cs {
	uint8_t k[CX_NOISE_KEY_LEN];
	uint64_t n;
	bool has_k;
	enum cipher cipher;
};

struct keypair {
	uint8_t sk[CX_NOISE_KEY_LEN];
	uint8_t pk[CX_NOISE_KEY_LEN];
	bool set;
};

struct cx_noise_hs {
	/* Section 5.2 SymmetricState */
	struct cx_noise_cs cs;
	uint8_t ck[CX_NOISE_MAX_HASH];
	uint8_t h[CX_NOISE_MAX_HASH];
	enum cx_hash_alg hash;
	size_t hash_len;
	/* Section 5.3 HandshakeState */
	struct keypair s, e;
	uint8_t rs[CX_NOISE_KEY_LEN], re[CX_NOISE_KEY_LEN];
	bool has_rs, has_re, fixed_e;
	bool initiator;
	uint8_t psks[CX_NOISE_MAX_PSKS][CX_NOISE_KEY_LEN];
	size_t num_psks, next_psk;
	bool psk_mode;
	/* message_patterns */
	enum tok toks[MAX_MSGS][MAX_TOKENS];
	size_t num_toks[MAX_MSGS];
	size_t num_msgs, next_msg;
	bool failed;
	const struct rng *rng;
};

/* ---- CipherState (section 5.1) ---------------------------------------- */

/* Section 12.3 (ChaChaPoly): "96-bit nonce is formed by encoding 32 bits of
 * zeros followed by little-endian encoding of n".  Section 12.4 (AESGCM):
 * "32 bits of zeros followed by big-endian encoding of n". */
static void make_nonce(uint8_t nonce[12], enum cipher c, uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++) {
		uint8_t b = (uint8_t)(n >> (8 * i));

		if (c == CIPHER_CHACHAPOLY)
			nonce[4 + i] = b;
		else
			nonce[11 - i] = b;
	}
}

/* ENCRYPT(k, n, ad, plaintext); out holds pt_len + 16. */
static void aead_encrypt(const struct cx_noise_cs *cs, uint64_t n,
			 const uint8_t *ad, size_t ad_len, const uint8_t *pt,
			 size_t pt_len, uint8_t *out)
{
	uint8_t nonce[12];

	make_nonce(nonce, cs->cipher, n);
	switch (cs->cipher) {
	case CIPHER_CHACHAPOLY:
		crypto_aead_chacha20poly1305_ietf_encrypt(
			out, NULL, pt, pt_len, ad, ad_len, NULL, nonce, cs->k);
		break;
	case CIPHER_AESGCM:
		crypto_aead_aes256gcm_encrypt(out, NULL, pt, pt_len, ad, ad_len,
					      NULL, nonce, cs->k);
		break;
	}
}

static int aead_decrypt(const struct cx_noise_cs *cs, uint64_t n,
			const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			size_t ct_len, uint8_t *out)
{
	uint8_t nonce[12];
	int r = -1;

	make_nonce(nonce, cs->cipher, n);
	switch (cs->cipher) {
	case CIPHER_CHACHAPOLY:
		r = crypto_aead_chacha20poly1305_ietf_decrypt(
			out, NULL, NULL, ct, ct_len, ad, ad_len, nonce, cs->k);
		break;
	case CIPHER_AESGCM:
		r = crypto_aead_aes256gcm_decrypt(out, NULL, NULL, ct, ct_len,
						  ad, ad_len, nonce, cs->k);
		break;
	}
	return r == 0 ? 0 : -EKEYREJECTED;
}

static void cs_init_key(struct cx_noise_cs *cs, const uint8_t *k)
{
	if (k == NULL) {
		sodium_memzero(cs->k, sizeof cs->k);
		cs->has_k = false;
	} else {
		memcpy(cs->k, k, CX_NOISE_KEY_LEN);
		cs->has_k = true;
	}
	cs->n = 0;
}

/* EncryptWithAd: "If k is non-empty returns ENCRYPT(k, n++, ad, plaintext).
 * Otherwise returns plaintext."  out may not overlap pt unless equal. */
static int cs_encrypt_ad(struct cx_noise_cs *cs, const uint8_t *ad,
			 size_t ad_len, const uint8_t *pt, size_t pt_len,
			 uint8_t *out, size_t out_max, size_t *out_len)
{
	size_t need = pt_len + (cs->has_k ? CX_NOISE_TAG_LEN : 0);

	if (need > out_max)
		return -E2BIG;
	if (!cs->has_k) {
		memmove(out, pt, pt_len);
		*out_len = pt_len;
		return 0;
	}
	if (cs->n == NONCE_MAX)
		return -EOVERFLOW;
	aead_encrypt(cs, cs->n, ad, ad_len, pt, pt_len, out);
	cs->n++;
	*out_len = need;
	return 0;
}

/* DecryptWithAd: "If an authentication failure occurs in DECRYPT() then n
 * is not incremented and an error is signaled to the caller." */
static int cs_decrypt_ad(struct cx_noise_cs *cs, const uint8_t *ad,
			 size_t ad_len, const uint8_t *ct, size_t ct_len,
			 uint8_t *out, size_t out_max, size_t *out_len)
{
	int r;

	if (!cs->has_k) {
		if (ct_len > out_max)
			return -E2BIG;
		memmove(out, ct, ct_len);
		*out_len = ct_len;
		return 0;
	}
	if (ct_len < CX_NOISE_TAG_LEN)
		return -EBADMSG;
	if (ct_len - CX_NOISE_TAG_LEN > out_max)
		return -E2BIG;
	if (cs->n == NONCE_MAX)
		return -EOVERFLOW;
	if ((r = aead_decrypt(cs, cs->n, ad, ad_len, ct, ct_len, out)) < 0)
		return r;
	cs->n++;
	*out_len = ct_len - CX_NOISE_TAG_LEN;
	return 0;
}

/* ---- SymmetricState (section 5.2) ------------------------------------- */

static void mix_hash(struct cx_noise_hs *hs, const uint8_t *data, size_t len)
{
	struct cx_buf parts[2] = {{hs->h, hs->hash_len}, {data, len}};

	cx_hash_parts(hs->hash, hs->h, parts, 2);
}

/* Section 4.3: HKDF(chaining_key, input_key_material, num_outputs):
 *   temp_key = HMAC-HASH(chaining_key, input_key_material)
 *   output1 = HMAC-HASH(temp_key, byte(0x01))
 *   output2 = HMAC-HASH(temp_key, output1 || byte(0x02))
 *   output3 = HMAC-HASH(temp_key, output2 || byte(0x03)) */
static void noise_hkdf(struct cx_noise_hs *hs, const uint8_t *ikm,
		       size_t ikm_len, uint8_t *out1, uint8_t *out2,
		       uint8_t *out3)
{
	uint8_t temp[CX_NOISE_MAX_HASH];
	uint8_t *outs[3] = {out1, out2, out3};
	struct cx_buf in = {ikm, ikm_len};
	uint8_t i;

	cx_hmac_parts(hs->hash, temp, hs->ck, hs->hash_len, &in, 1);
	for (i = 0; i < 3 && outs[i] != NULL; i++) {
		uint8_t ctr = (uint8_t)(i + 1);
		struct cx_buf parts[2] = {{i == 0 ? NULL : outs[i - 1],
					   i == 0 ? 0 : hs->hash_len},
					  {&ctr, 1}};

		cx_hmac_parts(hs->hash, outs[i], temp, hs->hash_len, parts, 2);
	}
	sodium_memzero(temp, sizeof temp);
}

/* MixKey: "ck, temp_k = HKDF(ck, input_key_material, 2).  If HASHLEN is
 * 64, then truncates temp_k to 32 bytes.  Calls InitializeKey(temp_k)." */
static void mix_key(struct cx_noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[CX_NOISE_MAX_HASH], temp_k[CX_NOISE_MAX_HASH];

	noise_hkdf(hs, ikm, len, ck, temp_k, NULL);
	memcpy(hs->ck, ck, hs->hash_len);
	cs_init_key(&hs->cs, temp_k);
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(temp_k, sizeof temp_k);
}

/* MixKeyAndHash: "ck, temp_h, temp_k = HKDF(ck, input_key_material, 3).
 * Calls MixHash(temp_h).  If HASHLEN is 64, then truncates temp_k to 32
 * bytes.  Calls InitializeKey(temp_k)." */
static void mix_key_and_hash(struct cx_noise_hs *hs, const uint8_t *ikm,
			     size_t len)
{
	uint8_t ck[CX_NOISE_MAX_HASH], temp_h[CX_NOISE_MAX_HASH],
		temp_k[CX_NOISE_MAX_HASH];

	noise_hkdf(hs, ikm, len, ck, temp_h, temp_k);
	memcpy(hs->ck, ck, hs->hash_len);
	mix_hash(hs, temp_h, hs->hash_len);
	cs_init_key(&hs->cs, temp_k);
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(temp_h, sizeof temp_h);
	sodium_memzero(temp_k, sizeof temp_k);
}

/* EncryptAndHash: "ciphertext = EncryptWithAd(h, plaintext), calls
 * MixHash(ciphertext)". */
static int encrypt_and_hash(struct cx_noise_hs *hs, const uint8_t *pt,
			    size_t pt_len, uint8_t *out, size_t out_max,
			    size_t *out_len)
{
	int r = cs_encrypt_ad(&hs->cs, hs->h, hs->hash_len, pt, pt_len, out,
			      out_max, out_len);

	if (r == 0)
		mix_hash(hs, out, *out_len);
	return r;
}

/* DecryptAndHash: "plaintext = DecryptWithAd(h, ciphertext), calls
 * MixHash(ciphertext)".  ct and out must not overlap: h absorbs ct after
 * decryption. */
static int decrypt_and_hash(struct cx_noise_hs *hs, const uint8_t *ct,
			    size_t ct_len, uint8_t *out, size_t out_max,
			    size_t *out_len)
{
	int r = cs_decrypt_ad(&hs->cs, hs->h, hs->hash_len, ct, ct_len, out,
			      out_max, out_len);

	if (r == 0)
		mix_hash(hs, ct, ct_len);
	return r;
}

/* ---- Names and patterns ----------------------------------------------- */

static int parse_tokens(const char *s, size_t len, enum tok *toks, size_t *n)
{
	static const struct {
		const char *t;
		enum tok tok;
	} names[] = {{"e", TOK_E},   {"s", TOK_S},   {"ee", TOK_EE},
		     {"es", TOK_ES}, {"se", TOK_SE}, {"ss", TOK_SS}};
	size_t i = 0, k;

	*n = 0;
	while (i < len) {
		size_t j = i;

		while (j < len && s[j] != ',')
			j++;
		for (k = 0; k < sizeof names / sizeof names[0]; k++)
			if (strlen(names[k].t) == j - i &&
			    memcmp(names[k].t, s + i, j - i) == 0)
				break;
		if (k == sizeof names / sizeof names[0] || *n >= MAX_TOKENS)
			return -EINVAL;
		toks[(*n)++] = names[k].tok;
		i = j + 1;
	}
	return 0;
}

/* Section 9.3: "A 'psk0' token is placed at the beginning of the first
 * handshake message ... 'psk1' at the end of the first message, 'psk2' at
 * the end of the second" and so on. */
static int add_psk_token(struct cx_noise_hs *hs, unsigned idx)
{
	size_t m = idx == 0 ? 0 : idx - 1;
	size_t n;

	if (m >= hs->num_msgs || hs->num_toks[m] >= MAX_TOKENS)
		return -ENOTSUP;
	n = hs->num_toks[m];
	if (idx == 0) {
		memmove(&hs->toks[m][1], &hs->toks[m][0],
			n * sizeof hs->toks[m][0]);
		hs->toks[m][0] = TOK_PSK;
	} else {
		hs->toks[m][n] = TOK_PSK;
	}
	hs->num_toks[m]++;
	hs->psk_mode = true;
	return 0;
}

/* Parses "Noise_<pattern>_25519_<cipher>_<hash>" and loads the pattern
 * into hs.  pre_i/pre_r receive the pre-message strings. */
static int parse_name(struct cx_noise_hs *hs, const char *name,
		      const char **pre_i, const char **pre_r)
{
	char buf[CX_NOISE_MAX_NAME + 1];
	char *f[5], *p, *mods;
	const struct pattern_text *pt = NULL;
	size_t i, n = strlen(name), base_len;
	int r;

	if (n > CX_NOISE_MAX_NAME)
		return -ENOTSUP;
	memcpy(buf, name, n + 1);
	p = buf;
	for (i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, '_');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (i != 4 || strcmp(f[0], "Noise") != 0 || strcmp(f[2], "25519") != 0)
		return -ENOTSUP;
	if (strcmp(f[3], "ChaChaPoly") == 0)
		hs->cs.cipher = CIPHER_CHACHAPOLY;
	else if (strcmp(f[3], "AESGCM") == 0 &&
		 crypto_aead_aes256gcm_is_available())
		hs->cs.cipher = CIPHER_AESGCM;
	else
		return -ENOTSUP;
	if (strcmp(f[4], "BLAKE2b") == 0)
		hs->hash = CX_HASH_BLAKE2B;
	else if (strcmp(f[4], "SHA256") == 0)
		hs->hash = CX_HASH_SHA256;
	else if (strcmp(f[4], "SHA512") == 0)
		hs->hash = CX_HASH_SHA512;
	else
		return -ENOTSUP;
	hs->hash_len = cx_hash_len(hs->hash);

	/* Section 8: the pattern name is the base name followed by
	 * modifiers, which start with a lowercase letter, joined by '+'. */
	base_len = 0;
	while (f[1][base_len] != '\0' &&
	       !(f[1][base_len] >= 'a' && f[1][base_len] <= 'z'))
		base_len++;
	mods = f[1] + base_len;
	for (i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
		if (strlen(patterns[i].name) == base_len &&
		    memcmp(patterns[i].name, f[1], base_len) == 0)
			pt = &patterns[i];
	if (pt == NULL)
		return -ENOTSUP;
	*pre_i = pt->pre_i;
	*pre_r = pt->pre_r;

	p = (char *)pt->msgs;
	hs->num_msgs = 0;
	for (;;) {
		const char *end = strchr(p, ';');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (hs->num_msgs >= MAX_MSGS)
			return -EINVAL;
		r = parse_tokens(p, len, hs->toks[hs->num_msgs],
				 &hs->num_toks[hs->num_msgs]);
		if (r < 0)
			return r;
		hs->num_msgs++;
		if (end == NULL)
			break;
		p = (char *)end + 1;
	}

	while (*mods != '\0') {
		char *end = strchr(mods, '+');
		unsigned idx;

		if (end != NULL)
			*end = '\0';
		if (strncmp(mods, "psk", 3) != 0 || mods[3] < '0' ||
		    mods[3] > '9' || mods[4] != '\0')
			return -ENOTSUP;
		idx = (unsigned)(mods[3] - '0');
		if ((r = add_psk_token(hs, idx)) < 0)
			return r;
		if (end == NULL)
			break;
		mods = end + 1;
	}
	return 0;
}

/* ---- HandshakeState (section 5.3) ------------------------------------- */

static void set_keypair(struct keypair *kp, const uint8_t *sk)
{
	memcpy(kp->sk, sk, CX_NOISE_KEY_LEN);
	cx_x25519_public(kp->pk, kp->sk);
	kp->set = true;
}

/* Pre-message public keys: "the public keys are hashed with MixHash() in
 * the order given: initiator's first, then responder's"; in psk mode an
 * 'e' is also MixKey'd (section 9.2). */
static int mix_premessage(struct cx_noise_hs *hs, const char *pre, bool ours)
{
	for (; *pre != '\0'; pre++) {
		if (*pre == ',')
			continue;
		if (*pre == 's') {
			if (ours && !hs->s.set)
				return -EINVAL;
			if (!ours && !hs->has_rs)
				return -EINVAL;
			mix_hash(hs, ours ? hs->s.pk : hs->rs,
				 CX_NOISE_KEY_LEN);
		} else {
			/* Only the fallback patterns pre-send 'e'; none of
			 * the supported ones do. */
			return -ENOTSUP;
		}
	}
	return 0;
}

int cx_noise_hs_new(struct cx_noise_hs **out, const char *protocol_name,
		    enum cx_noise_role role, const uint8_t *prologue,
		    size_t prologue_len, const struct cx_noise_keys *keys,
		    const struct rng *rng)
{
	struct cx_noise_hs *hs = NULL;
	const char *pre_i = "", *pre_r = "";
	size_t name_len, i, psk_tokens = 0;
	int r = -EINVAL;

	*out = NULL;
	if (protocol_name == NULL || keys == NULL || rng == NULL ||
	    prologue_len > CX_NOISE_MAX_MSG ||
	    keys->num_psks > CX_NOISE_MAX_PSKS)
		return -EINVAL;
	hs = sodium_malloc(sizeof *hs);
	if (hs == NULL)
		return -ENOMEM;
	memset(hs, 0, sizeof *hs);
	hs->initiator = role == CX_NOISE_INITIATOR;
	hs->rng = rng;
	if ((r = parse_name(hs, protocol_name, &pre_i, &pre_r)) < 0)
		goto out;

	for (i = 0; i < hs->num_msgs; i++)
		for (size_t t = 0; t < hs->num_toks[i]; t++)
			psk_tokens += hs->toks[i][t] == TOK_PSK;
	r = -EINVAL;
	if (keys->num_psks != psk_tokens)
		goto out;
	for (i = 0; i < keys->num_psks; i++)
		memcpy(hs->psks[i], keys->psks[i], CX_NOISE_KEY_LEN);
	hs->num_psks = keys->num_psks;
	if (keys->s != NULL)
		set_keypair(&hs->s, keys->s);
	if (keys->e != NULL) {
		set_keypair(&hs->e, keys->e);
		hs->fixed_e = true;
	}
	if (keys->rs != NULL) {
		memcpy(hs->rs, keys->rs, CX_NOISE_KEY_LEN);
		hs->has_rs = true;
	}

	/* InitializeSymmetric(protocol_name): "If protocol_name is less than
	 * or equal to HASHLEN bytes in length, sets h equal to protocol_name
	 * with zero bytes appended to make HASHLEN bytes.  Otherwise sets h =
	 * HASH(protocol_name).  Sets ck = h.  Calls InitializeKey(empty)." */
	name_len = strlen(protocol_name);
	if (name_len <= hs->hash_len) {
		memcpy(hs->h, protocol_name, name_len);
	} else {
		struct cx_buf b = {protocol_name, name_len};

		cx_hash_parts(hs->hash, hs->h, &b, 1);
	}
	memcpy(hs->ck, hs->h, hs->hash_len);
	cs_init_key(&hs->cs, NULL);
	/* "Calls MixHash(prologue)." */
	mix_hash(hs, prologue, prologue_len);
	if ((r = mix_premessage(hs, pre_i, hs->initiator)) < 0 ||
	    (r = mix_premessage(hs, pre_r, !hs->initiator)) < 0)
		goto out;
	*out = hs;
	hs = NULL;
	r = 0;
out:
	cx_noise_hs_free(hs);
	return r;
}

void cx_noise_hs_free(struct cx_noise_hs *hs)
{
	sodium_free(hs); /* wipes */
}

static bool my_turn(const struct cx_noise_hs *hs)
{
	/* Even-indexed messages are the initiator's (->). */
	return (hs->next_msg % 2 == 0) == hs->initiator;
}

enum cx_noise_action cx_noise_hs_action(const struct cx_noise_hs *hs)
{
	if (hs->failed)
		return CX_NOISE_FAILED;
	if (hs->next_msg >= hs->num_msgs)
		return CX_NOISE_SPLIT;
	return my_turn(hs) ? CX_NOISE_WRITE : CX_NOISE_READ;
}

/* The DH of a token (section 5.3, WriteMessage/ReadMessage):
 *   ee: DH(e, re); ss: DH(s, rs);
 *   es: initiator DH(e, rs), responder DH(s, re);
 *   se: initiator DH(s, re), responder DH(e, rs);
 * then MixKey(result). */
static int dh_token(struct cx_noise_hs *hs, enum tok t)
{
	const struct keypair *mine = NULL;
	const uint8_t *theirs = NULL;
	bool their_set = false;
	uint8_t dh[CX_DH_LEN];
	int r;

	switch (t) {
	case TOK_EE:
		mine = &hs->e, theirs = hs->re, their_set = hs->has_re;
		break;
	case TOK_SS:
		mine = &hs->s, theirs = hs->rs, their_set = hs->has_rs;
		break;
	case TOK_ES:
		if (hs->initiator)
			mine = &hs->e, theirs = hs->rs, their_set = hs->has_rs;
		else
			mine = &hs->s, theirs = hs->re, their_set = hs->has_re;
		break;
	case TOK_SE:
		if (hs->initiator)
			mine = &hs->s, theirs = hs->re, their_set = hs->has_re;
		else
			mine = &hs->e, theirs = hs->rs, their_set = hs->has_rs;
		break;
	case TOK_E:
	case TOK_S:
	case TOK_PSK:
		return -EINVAL;
	}
	if (!mine->set || !their_set)
		return -EINVAL;
	if ((r = cx_x25519(dh, mine->sk, theirs)) < 0)
		return r;
	mix_key(hs, dh, sizeof dh);
	sodium_memzero(dh, sizeof dh);
	return 0;
}

static int psk_token(struct cx_noise_hs *hs)
{
	/* "For psk: calls MixKeyAndHash(psk)." */
	if (hs->next_psk >= hs->num_psks)
		return -EINVAL;
	mix_key_and_hash(hs, hs->psks[hs->next_psk++], CX_NOISE_KEY_LEN);
	return 0;
}

int cx_noise_hs_write(struct cx_noise_hs *hs, const uint8_t *payload,
		      size_t payload_len, uint8_t *out, size_t out_max,
		      size_t *out_len)
{
	size_t m, t, pos = 0, n;
	int r = -EINVAL;

	*out_len = 0;
	if (cx_noise_hs_action(hs) != CX_NOISE_WRITE)
		return -EINVAL;
	if (out_max > CX_NOISE_MAX_MSG)
		out_max = CX_NOISE_MAX_MSG;
	m = hs->next_msg;
	for (t = 0; t < hs->num_toks[m]; t++) {
		switch (hs->toks[m][t]) {
		case TOK_E:
			/* "Sets e (which must be empty) to GENERATE_KEYPAIR().
			 * Appends e.public_key to the buffer.  Calls
			 * MixHash(e.public_key)."  psk: also MixKey (9.2). */
			if (!hs->fixed_e) {
				uint8_t sk[CX_NOISE_KEY_LEN];

				rng_fill(hs->rng, sk, sizeof sk);
				set_keypair(&hs->e, sk);
				sodium_memzero(sk, sizeof sk);
			}
			r = -E2BIG;
			if (out_max - pos < CX_NOISE_KEY_LEN)
				goto fail;
			memcpy(out + pos, hs->e.pk, CX_NOISE_KEY_LEN);
			pos += CX_NOISE_KEY_LEN;
			mix_hash(hs, hs->e.pk, CX_NOISE_KEY_LEN);
			if (hs->psk_mode)
				mix_key(hs, hs->e.pk, CX_NOISE_KEY_LEN);
			break;
		case TOK_S:
			/* "Appends EncryptAndHash(s.public_key)". */
			r = -EINVAL;
			if (!hs->s.set)
				goto fail;
			r = encrypt_and_hash(hs, hs->s.pk, CX_NOISE_KEY_LEN,
					     out + pos, out_max - pos, &n);
			if (r < 0)
				goto fail;
			pos += n;
			break;
		case TOK_EE:
		case TOK_ES:
		case TOK_SE:
		case TOK_SS:
			if ((r = dh_token(hs, hs->toks[m][t])) < 0)
				goto fail;
			break;
		case TOK_PSK:
			if ((r = psk_token(hs)) < 0)
				goto fail;
			break;
		}
	}
	/* "Appends EncryptAndHash(payload) to the buffer." */
	r = encrypt_and_hash(hs, payload, payload_len, out + pos, out_max - pos,
			     &n);
	if (r < 0)
		goto fail;
	*out_len = pos + n;
	hs->next_msg++;
	return 0;
fail:
	hs->failed = true;
	return r;
}

int cx_noise_hs_read(struct cx_noise_hs *hs, const uint8_t *msg, size_t msg_len,
		     uint8_t *payload, size_t payload_max, size_t *payload_len)
{
	size_t m, t, pos = 0, n;
	uint8_t rs[CX_NOISE_KEY_LEN];
	int r = -EINVAL;

	*payload_len = 0;
	if (cx_noise_hs_action(hs) != CX_NOISE_READ)
		return -EINVAL;
	r = -E2BIG;
	if (msg_len > CX_NOISE_MAX_MSG)
		goto fail;
	m = hs->next_msg;
	for (t = 0; t < hs->num_toks[m]; t++) {
		switch (hs->toks[m][t]) {
		case TOK_E:
			/* "Sets re (which must be empty) to the next DHLEN
			 * bytes from the message.  Calls
			 * MixHash(re.public_key)."
			 */
			r = -EBADMSG;
			if (msg_len - pos < CX_NOISE_KEY_LEN)
				goto fail;
			memcpy(hs->re, msg + pos, CX_NOISE_KEY_LEN);
			hs->has_re = true;
			pos += CX_NOISE_KEY_LEN;
			mix_hash(hs, hs->re, CX_NOISE_KEY_LEN);
			if (hs->psk_mode)
				mix_key(hs, hs->re, CX_NOISE_KEY_LEN);
			break;
		case TOK_S:
			/* "Sets temp to the next DHLEN + 16 bytes of the
			 * message if HasKey() == True, or to the next DHLEN
			 * bytes otherwise.  Sets rs (which must be empty) to
			 * DecryptAndHash(temp)." */
			n = CX_NOISE_KEY_LEN +
			    (hs->cs.has_k ? CX_NOISE_TAG_LEN : 0);
			r = -EBADMSG;
			if (msg_len - pos < n)
				goto fail;
			r = decrypt_and_hash(hs, msg + pos, n, rs, sizeof rs,
					     &n);
			if (r < 0)
				goto fail;
			memcpy(hs->rs, rs, CX_NOISE_KEY_LEN);
			hs->has_rs = true;
			pos += CX_NOISE_KEY_LEN +
			       (hs->cs.has_k ? CX_NOISE_TAG_LEN : 0);
			break;
		case TOK_EE:
		case TOK_ES:
		case TOK_SE:
		case TOK_SS:
			if ((r = dh_token(hs, hs->toks[m][t])) < 0)
				goto fail;
			break;
		case TOK_PSK:
			if ((r = psk_token(hs)) < 0)
				goto fail;
			break;
		}
	}
	/* "Calls DecryptAndHash() on the remaining bytes of the message and
	 * stores the output into payload_buffer." */
	r = decrypt_and_hash(hs, msg + pos, msg_len - pos, payload, payload_max,
			     payload_len);
	if (r < 0)
		goto fail;
	hs->next_msg++;
	return 0;
fail:
	*payload_len = 0;
	hs->failed = true;
	return r;
}

static struct cx_noise_cs *cs_new(const uint8_t k[CX_NOISE_KEY_LEN],
				  enum cipher c)
{
	struct cx_noise_cs *cs = sodium_malloc(sizeof *cs);

	if (cs == NULL)
		return NULL;
	memset(cs, 0, sizeof *cs);
	cs->cipher = c;
	cs_init_key(cs, k);
	return cs;
}

/* Split(): "Sets temp_k1, temp_k2 = HKDF(ck, zerolen, 2).  If HASHLEN is
 * 64, then truncates temp_k1 and temp_k2 to 32 bytes.  Creates two new
 * CipherState objects c1 and c2."  c1 is for initiator -> responder. */
int cx_noise_hs_split(struct cx_noise_hs *hs, struct cx_noise_cs **send,
		      struct cx_noise_cs **recv)
{
	uint8_t k1[CX_NOISE_MAX_HASH], k2[CX_NOISE_MAX_HASH];
	struct cx_noise_cs *c1 = NULL, *c2 = NULL;
	int r = -EINVAL;

	*send = NULL;
	*recv = NULL;
	if (cx_noise_hs_action(hs) != CX_NOISE_SPLIT)
		return -EINVAL;
	noise_hkdf(hs, NULL, 0, k1, k2, NULL);
	c1 = cs_new(k1, hs->cs.cipher);
	c2 = cs_new(k2, hs->cs.cipher);
	r = -ENOMEM;
	if (c1 == NULL || c2 == NULL)
		goto out;
	*send = hs->initiator ? c1 : c2;
	*recv = hs->initiator ? c2 : c1;
	c1 = c2 = NULL;
	r = 0;
out:
	cx_noise_cs_free(c1);
	cx_noise_cs_free(c2);
	sodium_memzero(k1, sizeof k1);
	sodium_memzero(k2, sizeof k2);
	return r;
}

int cx_noise_hs_hash(const struct cx_noise_hs *hs, uint8_t *out, size_t out_max,
		     size_t *len)
{
	if (out_max < hs->hash_len)
		return -E2BIG;
	memcpy(out, hs->h, hs->hash_len);
	*len = hs->hash_len;
	return 0;
}

int cx_noise_hs_remote_static(const struct cx_noise_hs *hs,
			      uint8_t out[static CX_NOISE_KEY_LEN])
{
	if (!hs->has_rs)
		return -ENOENT;
	memcpy(out, hs->rs, CX_NOISE_KEY_LEN);
	return 0;
}

/* ---- Transport -------------------------------------------------------- */

int cx_noise_cs_encrypt(struct cx_noise_cs *cs, const uint8_t *ad,
			size_t ad_len, const uint8_t *pt, size_t pt_len,
			uint8_t *out, size_t out_max, size_t *out_len)
{
	if (out_max > CX_NOISE_MAX_MSG)
		out_max = CX_NOISE_MAX_MSG;
	return cs_encrypt_ad(cs, ad, ad_len, pt, pt_len, out, out_max, out_len);
}

int cx_noise_cs_decrypt(struct cx_noise_cs *cs, const uint8_t *ad,
			size_t ad_len, const uint8_t *ct, size_t ct_len,
			uint8_t *out, size_t out_max, size_t *out_len)
{
	if (ct_len > CX_NOISE_MAX_MSG)
		return -E2BIG;
	return cs_decrypt_ad(cs, ad, ad_len, ct, ct_len, out, out_max, out_len);
}

int cx_noise_cs_encrypt_n(const struct cx_noise_cs *cs, uint64_t n,
			  const uint8_t *ad, size_t ad_len, const uint8_t *pt,
			  size_t pt_len, uint8_t *out, size_t out_max,
			  size_t *out_len)
{
	if (n == NONCE_MAX)
		return -EOVERFLOW;
	if (pt_len + CX_NOISE_TAG_LEN > out_max ||
	    pt_len + CX_NOISE_TAG_LEN > CX_NOISE_MAX_MSG)
		return -E2BIG;
	aead_encrypt(cs, n, ad, ad_len, pt, pt_len, out);
	*out_len = pt_len + CX_NOISE_TAG_LEN;
	return 0;
}

int cx_noise_cs_decrypt_n(const struct cx_noise_cs *cs, uint64_t n,
			  const uint8_t *ad, size_t ad_len, const uint8_t *ct,
			  size_t ct_len, uint8_t *out, size_t out_max,
			  size_t *out_len)
{
	int r;

	if (n == NONCE_MAX)
		return -EOVERFLOW;
	if (ct_len < CX_NOISE_TAG_LEN)
		return -EBADMSG;
	if (ct_len > CX_NOISE_MAX_MSG || ct_len - CX_NOISE_TAG_LEN > out_max)
		return -E2BIG;
	if ((r = aead_decrypt(cs, n, ad, ad_len, ct, ct_len, out)) < 0)
		return r;
	*out_len = ct_len - CX_NOISE_TAG_LEN;
	return 0;
}

uint64_t cx_noise_cs_nonce(const struct cx_noise_cs *cs)
{
	return cs->n;
}

void cx_noise_cs_set_nonce(struct cx_noise_cs *cs, uint64_t n)
{
	cs->n = n;
}

/* Section 4.2: "REKEY(k): Returns a new 32-byte cipher key as a
 * pseudorandom function of k ... defaults to returning the first 32 bytes
 * from ENCRYPT(k, maxnonce, zerolen, zeros)". */
void cx_noise_cs_rekey(struct cx_noise_cs *cs)
{
	uint8_t zeros[CX_NOISE_KEY_LEN] = {0};
	uint8_t out[CX_NOISE_KEY_LEN + CX_NOISE_TAG_LEN];

	aead_encrypt(cs, NONCE_MAX, NULL, 0, zeros, sizeof zeros, out);
	memcpy(cs->k, out, CX_NOISE_KEY_LEN);
	sodium_memzero(out, sizeof out);
}

void cx_noise_cs_free(struct cx_noise_cs *cs)
{
	sodium_free(cs);
}
