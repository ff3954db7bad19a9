/* tickets.c - session ticket encryption with time-derived shared keys;
 * see tickets.h. */
#include "gatehouse/tickets.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "gatehouse/audit_chain.h" /* gh_audit_key_load: the same raw-bytes key files */

#define SECRET_MAX GH_AUDIT_KEY_MAX
#define GCM_IV_LEN 12            /* of the 16-byte ticket IV field */
#define GCM_TAG_LEN 16           /* of the 32-byte ticket MAC field */
#define PERIODS_ACCEPTED 4       /* e-2, e-1, e, e+1 */
#define MAX_LIFETIME 604800      /* TLS 1.3 caps ticket lifetimes at 7 days */
#define TLS13_WIRE_VERSION 0x0304

struct period_key {
    int64_t epoch;
    bool ready;
    uint8_t name[WOLFSSL_TICKET_NAME_SZ];
    Aes aes;
};

/* Tickets are valid on the listener that issued them only: its name is in
 * the key derivation, so a session from an open listener cannot resume on
 * a stricter one. */
struct gh_ticket_scope {
    char id[GH_TICKET_SCOPE_MAX + 1];
    struct period_key keys[PERIODS_ACCEPTED]; /* by epoch modulo PERIODS_ACCEPTED */
};

static struct {
    uint8_t secret[SECRET_MAX];
    size_t secret_len;
    double rotation;
    struct gh_ticket_stats stats;
} T;

static int derive(const char *label, const char *scope, int64_t epoch,
                  uint8_t out[WC_SHA256_DIGEST_SIZE])
{
    Hmac h;
    uint8_t e[8];
    int rc = -1;
    for (int i = 0; i < 8; i++)
        e[i] = (uint8_t)((uint64_t)epoch >> (56 - 8 * i));
    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
        return -1;
    /* label, NUL, scope, NUL, epoch: no two inputs share an encoding */
    if (wc_HmacSetKey(&h, WC_SHA256, T.secret, (word32)T.secret_len) == 0 &&
        wc_HmacUpdate(&h, (const byte *)label, (word32)strlen(label) + 1) == 0 &&
        wc_HmacUpdate(&h, (const byte *)scope, (word32)strlen(scope) + 1) == 0 &&
        wc_HmacUpdate(&h, e, sizeof e) == 0 && wc_HmacFinal(&h, out) == 0)
        rc = 0;
    wc_HmacFree(&h);
    return rc;
}

/* The key of one period, derived on first use. */
static struct period_key *key_for(struct gh_ticket_scope *sc, int64_t epoch)
{
    struct period_key *k = &sc->keys[(uint64_t)epoch % PERIODS_ACCEPTED];
    uint8_t material[WC_SHA256_DIGEST_SIZE];

    if (k->ready && k->epoch == epoch)
        return k;
    if (k->ready)
        wc_AesFree(&k->aes);
    k->ready = false;
    if (derive("gatehouse ticket name", sc->id, epoch, material) < 0)
        return NULL;
    memcpy(k->name, material, sizeof k->name);
    if (derive("gatehouse ticket key", sc->id, epoch, material) < 0 ||
        wc_AesInit(&k->aes, NULL, INVALID_DEVID) != 0)
        return NULL;
    if (wc_AesGcmSetKey(&k->aes, material, sizeof material) != 0) {
        wc_AesFree(&k->aes);
        return NULL;
    }
    memset(material, 0, sizeof material);
    k->epoch = epoch;
    k->ready = true;
    return k;
}

static int64_t current_epoch(void)
{
    return (int64_t)((double)time(NULL) / T.rotation);
}

static int ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
                     int in_len, int *out_len, void *user)
{
    struct gh_ticket_scope *sc = user;
    int64_t now = current_epoch();
    uint8_t aad[WOLFSSL_TICKET_NAME_SZ + GCM_IV_LEN];

    if (in_len < 0)
        return WOLFSSL_TICKET_RET_FATAL;
    if (enc) {
        struct period_key *k = key_for(sc, now);
        if (!k || getrandom(iv, GCM_IV_LEN, 0) != GCM_IV_LEN)
            return WOLFSSL_TICKET_RET_FATAL;
        memset(iv + GCM_IV_LEN, 0, WOLFSSL_TICKET_IV_SZ - GCM_IV_LEN);
        memcpy(key_name, k->name, WOLFSSL_TICKET_NAME_SZ);
        memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
        memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, GCM_IV_LEN);
        memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
        if (wc_AesGcmEncrypt(&k->aes, ticket, ticket, (word32)in_len, iv, GCM_IV_LEN, mac,
                             GCM_TAG_LEN, aad, sizeof aad) != 0)
            return WOLFSSL_TICKET_RET_FATAL;
        *out_len = in_len;
        T.stats.issued++;
        return WOLFSSL_TICKET_RET_OK;
    }
    for (int64_t e = now + 1; e >= now - 2; e--) {
        struct period_key *k = key_for(sc, e);
        if (!k || memcmp(k->name, key_name, WOLFSSL_TICKET_NAME_SZ) != 0)
            continue;
        memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
        memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, GCM_IV_LEN);
        if (wc_AesGcmDecrypt(&k->aes, ticket, ticket, (word32)in_len, iv, GCM_IV_LEN, mac,
                             GCM_TAG_LEN, aad, sizeof aad) != 0)
            break; /* forged or damaged: a full handshake instead */
        *out_len = in_len;
        if (e < now) {
            T.stats.renewed++;
            /* Good, and worth a fresh one. TLS 1.3 hands out a new ticket
             * after every handshake anyway, and wolfSSL's TLS 1.3 server
             * does not resume on RET_CREATE at all: OK there. */
            return wolfSSL_version(ssl) >= TLS13_WIRE_VERSION ? WOLFSSL_TICKET_RET_OK
                                                               : WOLFSSL_TICKET_RET_CREATE;
        }
        T.stats.accepted++;
        return WOLFSSL_TICKET_RET_OK;
    }
    T.stats.rejected++;
    return WOLFSSL_TICKET_RET_REJECT;
}

int gh_tickets_init(const char *key_file, double rotation, char *why, size_t why_len)
{
    memset(&T, 0, sizeof T);
    T.rotation = rotation > 0 ? rotation : 43200.0;
    if (key_file && key_file[0])
        return gh_audit_key_load(key_file, T.secret, &T.secret_len, why, why_len);
    if (getrandom(T.secret, 32, 0) != 32) {
        snprintf(why, why_len, "getrandom failed");
        return -1;
    }
    T.secret_len = 32;
    return 0;
}

struct gh_ticket_scope *gh_tickets_scope_new(const char *id)
{
    struct gh_ticket_scope *sc = calloc(1, sizeof *sc);
    if (sc)
        snprintf(sc->id, sizeof sc->id, "%s", id);
    return sc;
}

void gh_tickets_scope_free(struct gh_ticket_scope *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < PERIODS_ACCEPTED; i++)
        if (sc->keys[i].ready)
            wc_AesFree(&sc->keys[i].aes);
    free(sc);
}

int gh_tickets_install(void *wolfssl_ctx, struct gh_ticket_scope *scope)
{
    WOLFSSL_CTX *ctx = wolfssl_ctx;
    double life = 2 * T.rotation;
    if (life > MAX_LIFETIME)
        life = MAX_LIFETIME;
    if (wolfSSL_CTX_set_TicketEncCb(ctx, ticket_cb) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_TicketEncCtx(ctx, scope) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_TicketHint(ctx, (int)life) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}

int gh_tickets_disable(void *wolfssl_ctx)
{
    WOLFSSL_CTX *ctx = wolfssl_ctx;
    if (wolfSSL_CTX_NoTicketTLSv12(ctx) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_no_ticket_TLSv13(ctx) != 0 || /* 0, not WOLFSSL_SUCCESS */
        wolfSSL_CTX_set_num_tickets(ctx, 0) != WOLFSSL_SUCCESS)
        return -1;
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
    return 0;
}

void gh_tickets_stats(struct gh_ticket_stats *out) { *out = T.stats; }
