/* audit_chain.h - the audit log's hash chain, shared by the writer in
 * gatehouse and by the gatehouse-audit verifier so both compute it the
 * same way.
 *
 * Every entry ends in "chain":"HEX" where HEX is
 *     HMAC-SHA256(key, PREV || BODY)      with a key file, or
 *     SHA-256(PREV || BODY)               without one,
 * PREV being the previous entry's chain as 64 lowercase hex characters
 * (GH_AUDIT_GENESIS for the first entry ever) and BODY the entry's bytes
 * from its opening '{' up to, not including, the ',"chain":"' that ends it.
 *
 * Owns: the key file format (its raw bytes, 32..1024 of them) and the
 * chain arithmetic. No I/O besides reading the key file. */
#ifndef GATEHOUSE_AUDIT_CHAIN_H
#define GATEHOUSE_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_AUDIT_CHAIN_HEX 64            /* hex characters in a chain value */
#define GH_AUDIT_KEY_MIN 32              /* bytes in a key file */
#define GH_AUDIT_KEY_MAX 1024
#define GH_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define GH_AUDIT_CHAIN_FIELD ",\"chain\":\"" /* separates BODY from the chain */

#define GH_AUDIT_MAC_STATE 1024      /* bytes for wolfCrypt's Hmac (checked in audit_chain.c) */

struct gh_audit_chain {
    uint8_t key[GH_AUDIT_KEY_MAX];
    size_t key_len;                      /* 0: plain SHA-256 */
    char prev[GH_AUDIT_CHAIN_HEX + 1];   /* NUL-terminated hex */
    /* The keyed HMAC, kept between entries: keying it costs as much as
     * hashing a short entry. */
    _Alignas(16) uint8_t mac_state[GH_AUDIT_MAC_STATE];
    bool mac_ready;
};

/* key may be NULL (key_len 0) for the unkeyed chain. Starts at genesis.
 * Nothing to free. */
void gh_audit_chain_init(struct gh_audit_chain *c, const uint8_t *key, size_t key_len);

/* Continues from PREV (64 hex characters, not checked here). */
void gh_audit_chain_set_prev(struct gh_audit_chain *c, const char *prev);

/* Computes the chain value of BODY after c->prev into out (65 bytes, NUL
 * terminated) without advancing. Returns 0, or -1 if wolfCrypt failed. */
int gh_audit_chain_compute(struct gh_audit_chain *c, const uint8_t *body, size_t len,
                           char out[GH_AUDIT_CHAIN_HEX + 1]);

/* Computes and advances: c->prev becomes the new value. */
int gh_audit_chain_next(struct gh_audit_chain *c, const uint8_t *body, size_t len,
                        char out[GH_AUDIT_CHAIN_HEX + 1]);

/* True when s holds 64 lowercase hex characters. */
bool gh_audit_chain_is_hex(const char *s, size_t len);

/* Reads a key file. Returns 0, or -1 with a reason in why (why_len bytes). */
int gh_audit_key_load(const char *path, uint8_t *key, size_t *key_len, char *why, size_t why_len);

/* SHA-256 of a whole file as hex, for the config digest in start entries.
 * Returns 0 or -1 (errno set). */
int gh_audit_file_sha256(const char *path, char out[GH_AUDIT_CHAIN_HEX + 1]);

#endif
