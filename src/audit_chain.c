/* audit_chain.c - the audit hash chain (HMAC-SHA256 or SHA-256 over the
 * previous chain value and the entry); see audit_chain.h. */
#include "gatehouse/audit_chain.h"

#include "gatehouse/span.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>

static void to_hex(const uint8_t *digest, char out[GH_AUDIT_CHAIN_HEX + 1])
{
    gh_hex_encode(out, digest, WC_SHA256_DIGEST_SIZE, GH_HEX_LOWER);
    out[GH_AUDIT_CHAIN_HEX] = '\0';
}

void gh_audit_chain_init(struct gh_audit_chain *c, const uint8_t *key, size_t key_len)
{
    memset(c, 0, sizeof *c);
    if (key && key_len > 0 && key_len <= GH_AUDIT_KEY_MAX) {
        memcpy(c->key, key, key_len);
        c->key_len = key_len;
    }
    memcpy(c->prev, GH_AUDIT_GENESIS, GH_AUDIT_CHAIN_HEX + 1);
}

void gh_audit_chain_set_prev(struct gh_audit_chain *c, const char *prev)
{
    memcpy(c->prev, prev, GH_AUDIT_CHAIN_HEX);
    c->prev[GH_AUDIT_CHAIN_HEX] = '\0';
}

_Static_assert(sizeof(Hmac) <= GH_AUDIT_MAC_STATE, "GH_AUDIT_MAC_STATE too small for Hmac");

/* wolfCrypt's Hmac keeps its padded key after wc_HmacFinal and starts the
 * next message from it, so one keyed object serves every entry. It holds
 * no pointers to free in this build (no async or crypto callbacks). */
static int hmac_chain(struct gh_audit_chain *c, const uint8_t *body, size_t len,
                      uint8_t digest[WC_SHA256_DIGEST_SIZE])
{
    Hmac *hmac = (Hmac *)(void *)c->mac_state;
    if (!c->mac_ready) {
        if (wc_HmacInit(hmac, NULL, INVALID_DEVID) != 0)
            return -1;
        if (wc_HmacSetKey(hmac, WC_SHA256, c->key, (word32)c->key_len) != 0) {
            wc_HmacFree(hmac);
            return -1;
        }
        c->mac_ready = true;
    }
    if (wc_HmacUpdate(hmac, (const byte *)c->prev, GH_AUDIT_CHAIN_HEX) != 0 ||
        wc_HmacUpdate(hmac, body, (word32)len) != 0 || wc_HmacFinal(hmac, digest) != 0) {
        /* start over from the key next time */
        wc_HmacFree(hmac);
        c->mac_ready = false;
        return -1;
    }
    return 0;
}

static int sha_chain(struct gh_audit_chain *c, const uint8_t *body, size_t len,
                     uint8_t digest[WC_SHA256_DIGEST_SIZE])
{
    wc_Sha256 sha;
    int rc = -1;
    if (wc_InitSha256(&sha) != 0)
        return -1;
    if (wc_Sha256Update(&sha, (const byte *)c->prev, GH_AUDIT_CHAIN_HEX) != 0 ||
        wc_Sha256Update(&sha, body, (word32)len) != 0 || wc_Sha256Final(&sha, digest) != 0)
        goto out;
    rc = 0;
out:
    wc_Sha256Free(&sha);
    return rc;
}

int gh_audit_chain_compute(struct gh_audit_chain *c, const uint8_t *body, size_t len,
                           char out[GH_AUDIT_CHAIN_HEX + 1])
{
    uint8_t digest[WC_SHA256_DIGEST_SIZE];
    if (len > UINT32_MAX)
        return -1;
    if ((c->key_len ? hmac_chain(c, body, len, digest) : sha_chain(c, body, len, digest)) != 0)
        return -1;
    to_hex(digest, out);
    return 0;
}

int gh_audit_chain_next(struct gh_audit_chain *c, const uint8_t *body, size_t len,
                        char out[GH_AUDIT_CHAIN_HEX + 1])
{
    if (gh_audit_chain_compute(c, body, len, out) != 0)
        return -1;
    memcpy(c->prev, out, GH_AUDIT_CHAIN_HEX + 1);
    return 0;
}

bool gh_audit_chain_is_hex(const char *s, size_t len)
{
    if (len != GH_AUDIT_CHAIN_HEX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int gh_audit_key_load(const char *path, uint8_t *key, size_t *key_len, char *why, size_t why_len)
{
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "%s is not a regular file", path);
        goto fail;
    }
    if (st.st_size < GH_AUDIT_KEY_MIN || st.st_size > GH_AUDIT_KEY_MAX) {
        snprintf(why, why_len, "%s holds %lld bytes; a key is %d..%d bytes (head -c 32 /dev/urandom)",
                 path, (long long)st.st_size, GH_AUDIT_KEY_MIN, GH_AUDIT_KEY_MAX);
        goto fail;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, key + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, why_len, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
            goto fail;
        }
        got += (size_t)n;
    }
    close(fd);
    *key_len = got;
    return 0;
fail:
    close(fd);
    return -1;
}

int gh_audit_file_sha256(const char *path, char out[GH_AUDIT_CHAIN_HEX + 1])
{
    uint8_t block[8192];
    uint8_t digest[WC_SHA256_DIGEST_SIZE];
    wc_Sha256 sha;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (wc_InitSha256(&sha) != 0)
        goto out_fd;
    for (;;) {
        ssize_t n = read(fd, block, sizeof block);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (wc_Sha256Update(&sha, block, (word32)n) != 0)
            goto out;
    }
    if (wc_Sha256Final(&sha, digest) != 0)
        goto out;
    to_hex(digest, out);
    rc = 0;
out:
    wc_Sha256Free(&sha);
out_fd:
    close(fd);
    return rc;
}
