/* tls_context.c - a listener's TLS contexts: its certificates (one wolfSSL
 * context each), choosing one for a ClientHello, and checking client
 * certificates against the listener's CA and allow-lists; see tls.h.
 *
 * Built once per listener at start-up and on reload, never on the data
 * path. Start-up errors name the config line and key. */
#include "tls_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "gatehouse/cert_info.h"
#include "gatehouse/client_hello.h"
#include "gatehouse/log.h"
#include "gatehouse/span.h"
#include "gatehouse/tickets.h"

#define PEM_FILE_MAX (1u << 20)  /* a certificate chain file larger than this is refused */
#define CHAIN_MAX 8              /* certificates in one chain file */
#define DER_MAX 16384            /* one certificate */

static const char *wolf_error_text(int err, char *buf, size_t n)
{
    wolfSSL_ERR_error_string_n((unsigned long)err, buf, (unsigned long)n);
    return buf;
}

/* Every name in a ':'-list must be one this wolfSSL knows: wolfSSL accepts
 * a list when any one name matches, which would hide a typo. */
static int check_suite_names(WOLFSSL_CTX *scratch, const char *list, int line, const char *key,
                             struct gh_config_errors *errs)
{
    char name[128];
    struct gh_list_walk w = gh_list_start(list, ':', GH_LIST_KEEP_SPACES);
    const char *p;
    size_t len;
    int rc = 0;
    while (gh_list_next(&w, &p, &len)) {
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            if (wolfSSL_CTX_set_cipher_list(scratch, name) != WOLFSSL_SUCCESS) {
                gh_config_error_add(errs, line, key,
                                    "'%s' is not a cipher suite the linked wolfSSL supports", name);
                rc = -1;
            }
        }
    }
    return rc;
}

static int group_id(enum gh_group g)
{
    switch (g) {
    case GH_GROUP_X25519: return WOLFSSL_ECC_X25519;
    case GH_GROUP_P256: return WOLFSSL_ECC_SECP256R1;
    case GH_GROUP_P384: return WOLFSSL_ECC_SECP384R1;
    }
    return 0;
}

/* Reads a whole (small) file. Returns its length, or -1 with an error. */
static long read_file(const char *path, uint8_t **out, int line, const char *key,
                      struct gh_config_errors *errs)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n = -1;
    if (!f) {
        gh_config_error_add(errs, line, key, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    buf = malloc(PEM_FILE_MAX);
    if (!buf) {
        gh_config_error_add(errs, line, key, "out of memory");
        goto out;
    }
    n = (long)fread(buf, 1, PEM_FILE_MAX, f);
    if (ferror(f) || n == (long)PEM_FILE_MAX) {
        gh_config_error_add(errs, line, key, "%s: %s", path,
                            ferror(f) ? strerror(errno) : "larger than 1 MiB");
        n = -1;
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return n;
}

/* Splits a PEM chain into DER certificates (leaf first). Returns the count. */
static int pem_chain(const uint8_t *pem, long len, uint8_t der[][DER_MAX], int der_len[],
                     int max)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    const char *p = (const char *)pem, *stop = p + len;
    int n = 0;
    while (n < max) {
        const char *b = memmem(p, (size_t)(stop - p), begin, sizeof begin - 1);
        const char *e;
        if (!b)
            break;
        e = memmem(b, (size_t)(stop - b), end, sizeof end - 1);
        if (!e)
            break;
        e += sizeof end - 1;
        der_len[n] = wc_CertPemToDer((const unsigned char *)b, (int)(e - b), der[n], DER_MAX,
                                     CERT_TYPE);
        if (der_len[n] <= 0)
            return -1;
        n++;
        p = e;
    }
    return n;
}

/* The chain file must hold a chain: each certificate signed by the next.
 * Expiry is only a warning: an operator reloading a renewed certificate
 * should not be stopped by the old one's last day. */
static void check_chain(const char *path, int line, const char *key, const char *label,
                        struct gh_config_errors *errs)
{
    uint8_t *pem = NULL;
    uint8_t (*der)[DER_MAX] = NULL;
    int der_len[CHAIN_MAX];
    long len = read_file(path, &pem, line, key, errs);
    int n;
    time_t now = time(NULL);

    if (len < 0)
        return;
    der = malloc(sizeof(uint8_t[DER_MAX]) * CHAIN_MAX);
    if (!der) {
        gh_config_error_add(errs, line, key, "out of memory");
        goto out;
    }
    n = pem_chain(pem, len, der, der_len, CHAIN_MAX);
    if (n <= 0) {
        gh_config_error_add(errs, line, key, "%s: no PEM certificate in it", path);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        struct gh_cert_info ci;
        char why[160];
        if (gh_cert_info_parse(der[i], (size_t)der_len[i], &ci, why, sizeof why) < 0) {
            gh_config_error_add(errs, line, key, "%s: certificate %d: %s", path, i + 1, why);
            goto out;
        }
        if (ci.not_after < now)
            gh_log(GH_LOG_WARN, "certificate_expired", " file=%s certificate=%d cert=%s subject=\"%s\"",
                   path, i + 1, label, ci.subject);
        else if (ci.not_before > now)
            gh_log(GH_LOG_WARN, "certificate_not_yet_valid", " file=%s certificate=%d cert=%s",
                   path, i + 1, label);
        if (i + 1 < n) {
            WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
            int rc = cm ? wolfSSL_CertManagerLoadCABuffer(cm, der[i + 1], der_len[i + 1],
                                                          WOLFSSL_FILETYPE_ASN1)
                        : -1;
            if (rc == WOLFSSL_SUCCESS)
                rc = wolfSSL_CertManagerVerifyBuffer(cm, der[i], der_len[i], WOLFSSL_FILETYPE_ASN1);
            /* only the signature matters here: dates were warned about */
            if (rc != WOLFSSL_SUCCESS && rc != ASN_AFTER_DATE_E && rc != ASN_BEFORE_DATE_E)
                gh_config_error_add(errs, line, key,
                                    "%s: certificate %d is not signed by certificate %d of the "
                                    "file (the chain does not verify: %s)",
                                    path, i + 1, i + 2, wolf_error_text(rc, why, sizeof why));
            wolfSSL_CertManagerFree(cm);
        }
    }
out:
    free(der);
    free(pem);
}

/* Names and key type of the leaf: the config's names when given, else the
 * certificate's DNS SANs (its CN when it has none). */
static int describe_cert(struct gh_tls_cert *c, const char *path, const char *names, int line,
                         const char *key, struct gh_config_errors *errs)
{
    struct gh_cert_info *ci = calloc(1, sizeof *ci);
    char why[160];
    int rc = -1;

    if (!ci) {
        gh_config_error_add(errs, line, key, "out of memory");
        return -1;
    }
    if (gh_cert_info_from_pem_file(path, ci, why, sizeof why) < 0) {
        gh_config_error_add(errs, line, key, "%s: %s", path, why);
        goto out;
    }
    c->ecdsa = ci->key_type == GH_CERT_KEY_EC_P256 || ci->key_type == GH_CERT_KEY_EC_P384 ||
               ci->key_type == GH_CERT_KEY_EC_P521;
    c->n_names = 0;
    if (names && names[0]) {
        struct gh_list_walk w = gh_list_start(names, ',', GH_LIST_KEEP_SPACES);
        const char *p;
        size_t len;
        while (gh_list_next(&w, &p, &len))
            if (c->n_names < GH_CERT_NAMES_MAX && len <= GH_DNS_NAME_MAX)
                snprintf(c->names[c->n_names++], GH_DNS_NAME_MAX + 1, "%.*s", (int)len, p);
    } else {
        for (size_t i = 0; i < ci->n_dns && c->n_names < GH_CERT_NAMES_MAX; i++)
            snprintf(c->names[c->n_names++], GH_DNS_NAME_MAX + 1, "%s", ci->dns[i]);
        if (c->n_names == 0 && ci->cn[0])
            snprintf(c->names[c->n_names++], GH_DNS_NAME_MAX + 1, "%.253s", ci->cn);
    }
    rc = 0;
out:
    free(ci);
    return rc;
}

/* TLS 1.2 session IDs. wolfSSL's session cache is one per process, shared
 * by every context of every listener and kept across reloads. A session
 * records the session ID context of the context that made it, and the
 * server resumes a session ID only where the context is the same: each
 * listener's contexts get a prefix of its resumption scope (name and TLS
 * policy), so a session resumes on its own listener, after a reload that
 * changed no TLS setting, and nowhere else.
 * wolfSSL 5.7.2 compares the contexts on that lookup (CheckSessionMatch in
 * ssl_sess.c) only under OPENSSL_EXTRA; our patch
 * subprojects/wolfssl/patches/0001-check-session-id-context-without-
 * openssl-extra.patch makes it compare under WOLFSSL_SESSION_ID_CTX too,
 * and the subproject's meson.build refuses a tree without it. A system
 * wolfSSL (-Dsystem_wolfssl=true) may lack the check: the cache is off
 * there, and TLS 1.2 clients without tickets do full handshakes. */
#ifdef GH_WOLFSSL_SYSTEM
static int scope_session_ids(WOLFSSL_CTX *ctx, const uint8_t scope[WC_SHA256_DIGEST_SIZE])
{
    (void)scope; /* unused: no session IDs to scope */
    if (wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}
#else
#ifndef WOLFSSL_SESSION_ID_CTX
#error "the wolfSSL subproject must define WOLFSSL_SESSION_ID_CTX (include/user_settings.h)"
#endif
/* wolfSSL holds up to ID_LEN (32) bytes of context but copies it into the
 * session it caches only when shorter than that (SetupSession in
 * ssl_sess.c): a 32-byte context would never resume. 16 bytes, 128 bits,
 * keep listeners apart: the scopes come from the operator's own
 * configuration, no one chooses them to collide. */
#define SESSION_ID_CONTEXT_LEN 16
_Static_assert(SESSION_ID_CONTEXT_LEN < 32 && SESSION_ID_CONTEXT_LEN <= WC_SHA256_DIGEST_SIZE,
               "session ID context: shorter than wolfSSL's ID_LEN, a prefix of the scope");
static int scope_session_ids(WOLFSSL_CTX *ctx, const uint8_t scope[WC_SHA256_DIGEST_SIZE])
{
    if (wolfSSL_CTX_set_session_id_context(ctx, scope, SESSION_ID_CONTEXT_LEN) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}
#endif

/* Everything but the certificate, the same for each of a listener's contexts. */
static void configure(WOLFSSL_CTX *ctx, WOLFSSL_CTX *scratch, const struct gh_listener_config *l,
                      struct gh_ticket_scope *tickets,
                      const uint8_t scope[WC_SHA256_DIGEST_SIZE], bool first,
                      struct gh_config_errors *errs)
{
    char suites[2 * GH_CIPHERS_MAX + 2];
    int groups[GH_GROUPS_MAX];
    int line_cipher = gh_config_key_line(&l->key_lines, "ciphers");
    int line_suites = gh_config_key_line(&l->key_lines, "ciphersuites");
    char why[128];
    int rc = 0;

    if (!line_cipher) /* the default: the listener's header */
        line_cipher = l->line;
    if (!line_suites)
        line_suites = l->line;
    if (wolfSSL_CTX_SetMinVersion(ctx, l->tls_min_version == 13 ? WOLFSSL_TLSV1_3
                                                                : WOLFSSL_TLSV1_2) !=
        WOLFSSL_SUCCESS) {
        gh_config_error_add(errs, l->line, "tls_min_version",
                            "the linked wolfSSL refuses this minimum version");
        return;
    }
    if (first) { /* name checks once per listener, not per certificate */
        rc = check_suite_names(scratch, l->ciphersuites, line_suites, "ciphersuites", errs);
        if (l->tls_min_version == 12)
            rc |= check_suite_names(scratch, l->ciphers, line_cipher, "ciphers", errs);
    }
    if (rc == 0) {
        if (l->tls_min_version == 12)
            snprintf(suites, sizeof suites, "%s:%s", l->ciphersuites, l->ciphers);
        else
            snprintf(suites, sizeof suites, "%s", l->ciphersuites);
        if (wolfSSL_CTX_set_cipher_list(ctx, suites) != WOLFSSL_SUCCESS && first)
            gh_config_error_add(errs, line_suites, "ciphersuites",
                                "the linked wolfSSL rejects the suite list");
    }
    for (size_t i = 0; i < l->n_groups; i++)
        groups[i] = group_id(l->groups[i]);
    if (wolfSSL_CTX_set_groups(ctx, groups, (int)l->n_groups) != WOLFSSL_SUCCESS && first)
        gh_config_error_add(errs, l->line, "groups", "the linked wolfSSL rejects the group list");
    /* One write (one TCP segment) per handshake flight instead of one per
     * message: on a full TLS 1.3 handshake that is four sends fewer. */
    if (wolfSSL_CTX_set_group_messages(ctx) != WOLFSSL_SUCCESS && first)
        gh_config_error_add(errs, l->line, "", "the linked wolfSSL cannot group handshake messages");
    if ((tickets ? gh_tickets_install(ctx, tickets) : gh_tickets_disable(ctx)) < 0 && first)
        gh_config_error_add(errs, l->line, "", "cannot set up session resumption");
    /* Session IDs resume only on this listener with this TLS policy (on
     * listeners that verify clients the cache is off: gh_tickets_disable). */
    if (scope_session_ids(ctx, scope) < 0 && first)
        gh_config_error_add(errs, l->line, "", "cannot scope TLS 1.2 session IDs to the listener");

    if (l->client_verify == GH_VERIFY_OFF) {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
        return;
    }
#ifndef WOLFSSL_ALWAYS_VERIFY_CB
    /* Without it wolfSSL calls the verify callback on failures only: the
     * allow-lists and the identity passed on would be skipped silently. */
    if (first)
        gh_config_key_error(errs, &l->key_lines, "client_ca",
                            "the linked wolfSSL was built without WOLFSSL_ALWAYS_VERIFY_CB: "
                            "client certificates cannot be checked");
    return;
#endif
    rc = wolfSSL_CTX_load_verify_locations(ctx, l->client_ca, NULL);
    if (rc != WOLFSSL_SUCCESS) {
        if (first)
            gh_config_key_error(errs, &l->key_lines, "client_ca",
                                "%s: cannot load CA certificates (%s)", l->client_ca,
                                wolf_error_text(rc, why, sizeof why));
        return;
    }
    if (l->crl[0]) {
        if (wolfSSL_CTX_EnableCRL(ctx, WOLFSSL_CRL_CHECK) != WOLFSSL_SUCCESS ||
            (rc = wolfSSL_CTX_LoadCRLFile(ctx, l->crl, WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS) {
            if (first)
                gh_config_key_error(errs, &l->key_lines, "crl", "%s: cannot load the CRL (%s)",
                                    l->crl, wolf_error_text(rc, why, sizeof why));
            return;
        }
    }
    wolfSSL_CTX_set_verify(ctx,
                           WOLFSSL_VERIFY_PEER | (l->client_verify == GH_VERIFY_REQUIRED
                                                      ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                      : 0),
                           gh_tls_verify_client);
}

static bool file_readable(const char *path, int line, const char *key,
                          struct gh_config_errors *errs)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gh_config_error_add(errs, line, key, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    fclose(f);
    return true;
}

/* ---- OCSP stapling --------------------------------------------------- */

/* wolfSSL asks for a response when its cache holds none still valid; the
 * "fetch" is a copy of the file read at start-up (or reload). wolfSSL then
 * verifies it (signer, this certificate, dates) before stapling: an expired
 * or foreign response is never stapled. */
static int ocsp_from_file(void *ctx, const char *url, int url_len, unsigned char *request,
                          int request_len, unsigned char **response)
{
    const struct gh_tls_cert *c = ctx;
    (void)url;
    (void)url_len;
    (void)request;
    (void)request_len;
    *response = NULL;
    if (!c->ocsp_der || c->ocsp_len == 0)
        return -1;
    *response = malloc(c->ocsp_len);
    if (!*response)
        return -1;
    memcpy(*response, c->ocsp_der, c->ocsp_len);
    return (int)c->ocsp_len;
}

static void ocsp_free(void *ctx, unsigned char *response)
{
    (void)ctx;
    free(response);
}

static int file_mtime(const char *path, struct timespec *out)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    *out = st.st_mtim;
    return 0;
}

static void setup_ocsp(struct gh_tls_cert *c, const char *chain, const char *ocsp, int line,
                       const char *key, struct gh_config_errors *errs)
{
    uint8_t *pem = NULL;
    uint8_t (*der)[DER_MAX] = NULL;
    int der_len[CHAIN_MAX], n;
    long len;

    c->ocsp_path = ocsp;
    if (file_mtime(ocsp, &c->ocsp_mtime) < 0) {
        gh_config_error_add(errs, line, key, "cannot read %s: %s", ocsp, strerror(errno));
        return;
    }
    if ((len = read_file(ocsp, &c->ocsp_der, line, key, errs)) < 0)
        return; /* read_file recorded why */
    c->ocsp_len = (size_t)len;
    if (len == 0) {
        gh_config_error_add(errs, line, key, "%s is empty (a DER OCSP response was expected)", ocsp);
        return;
    }
    /* The response is signed by the certificate's issuer (or a responder
     * it certified): wolfSSL must know the issuer to check it. */
    len = read_file(chain, &pem, line, key, errs);
    der = malloc(sizeof(uint8_t[DER_MAX]) * CHAIN_MAX);
    if (len < 0 || !der)
        goto out;
    n = pem_chain(pem, len, der, der_len, CHAIN_MAX);
    if (n < 2) {
        gh_config_error_add(errs, line, key,
                            "stapling needs the issuer: put it after the certificate in %s", chain);
        goto out;
    }
    for (int i = 1; i < n; i++)
        if (wolfSSL_CTX_load_verify_buffer(c->ctx, der[i], der_len[i], WOLFSSL_FILETYPE_ASN1) !=
            WOLFSSL_SUCCESS)
            gh_config_error_add(errs, line, key, "%s: certificate %d cannot be used to check "
                                "OCSP responses", chain, i + 1);
    /* The certificate's own responder URL does not matter: the response
     * comes from the file (the override makes wolfSSL ask even without one). */
    if (wolfSSL_CTX_EnableOCSPStapling(c->ctx) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_EnableOCSP(c->ctx, WOLFSSL_OCSP_URL_OVERRIDE) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_SetOCSP_OverrideURL(c->ctx, "file") != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_SetOCSP_Cb(c->ctx, ocsp_from_file, ocsp_free, c) != WOLFSSL_SUCCESS)
        gh_config_error_add(errs, line, key, "the linked wolfSSL cannot staple OCSP responses");
out:
    free(der);
    free(pem);
}

bool gh_tls_context_stale(const struct gh_tls_context *tc)
{
    for (size_t i = 0; tc && i < tc->n_certs; i++) {
        struct timespec now;
        const struct gh_tls_cert *c = &tc->certs[i];
        if (!c->ocsp_path)
            continue;
        if (file_mtime(c->ocsp_path, &now) < 0)
            continue; /* gone for a moment (being replaced): keep what we have */
        if (now.tv_sec != c->ocsp_mtime.tv_sec || now.tv_nsec != c->ocsp_mtime.tv_nsec)
            return true;
    }
    return false;
}

bool gh_tls_context_staples(const struct gh_tls_context *tc)
{
    for (size_t i = 0; tc && i < tc->n_certs; i++)
        if (tc->certs[i].ocsp_path)
            return true;
    return false;
}

/* ---- resumption scope ------------------------------------------------ */

_Static_assert(sizeof ((struct gh_tls_context *)0)->scope == WC_SHA256_DIGEST_SIZE, "scope");
_Static_assert(2 * WC_SHA256_DIGEST_SIZE <= GH_TICKET_SCOPE_MAX, "ticket scope id fits");

/* One field into the digest, its length first, so no two different
 * settings hash alike by running into each other. */
static int digest_field(wc_Sha256 *h, const void *p, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    if (wc_Sha256Update(h, len, sizeof len) != 0)
        return -1;
    return n ? wc_Sha256Update(h, p, (word32)n) : 0;
}

static int digest_str(wc_Sha256 *h, const char *s) { return digest_field(h, s, strlen(s)); }

/* SHA-256 over the listener's name and every setting that decides what a
 * handshake on it may agree to or must check: versions, suites, groups,
 * ALPN, client certificate checks, certificates. Timeouts, backends and
 * the like are not in it: a reload that changes only those keeps
 * sessions. A digest, not a counter, so the same configuration gives the
 * same scope in every worker, after every reload and on other instances. */
static int resumption_scope(const struct gh_config *cfg, const struct gh_listener_config *l,
                            uint8_t out[WC_SHA256_DIGEST_SIZE])
{
    wc_Sha256 h;
    char num[32];
    int rc = 0;
    if (wc_InitSha256(&h) != 0)
        return -1;
    rc |= digest_str(&h, "gatehouse resumption scope 1");
    rc |= digest_str(&h, l->name);
    snprintf(num, sizeof num, "%d %d %d", l->tls_min_version, (int)l->client_verify,
             (int)l->sni_unknown);
    rc |= digest_str(&h, num);
    rc |= digest_str(&h, l->tls_min_version == 12 ? l->ciphers : "");
    rc |= digest_str(&h, l->ciphersuites);
    for (size_t i = 0; i < l->n_groups; i++) {
        snprintf(num, sizeof num, "%d", (int)l->groups[i]);
        rc |= digest_str(&h, num);
    }
    rc |= digest_str(&h, l->alpn);
    rc |= digest_str(&h, l->client_ca);
    rc |= digest_str(&h, l->crl);
    rc |= digest_str(&h, l->client_allow_cn);
    rc |= digest_str(&h, l->client_allow_dns);
    rc |= digest_str(&h, l->client_allow_uri);
    rc |= digest_str(&h, l->client_allow_sha256);
    rc |= digest_str(&h, l->cert);
    rc |= digest_str(&h, l->key);
    for (size_t i = 0; i < l->n_certs; i++) {
        const struct gh_cert_config *cc = &cfg->certs[l->certs[i]];
        rc |= digest_str(&h, cc->name);
        rc |= digest_str(&h, cc->cert);
        rc |= digest_str(&h, cc->key);
        rc |= digest_str(&h, cc->names);
    }
    if (wc_Sha256Final(&h, out) != 0)
        rc = -1;
    wc_Sha256Free(&h);
    return rc ? -1 : 0;
}

/* One certificate to load: a listener's own cert/key/ocsp or a [cert:NAME]
 * section's, with the key lines of the section that names them. */
struct cert_source {
    const char *label; /* "default" or the section's NAME */
    const char *cert, *key, *ocsp;
    const char *names; /* NULL: the certificate's own */
    const struct gh_key_lines *lines;
};

static void load_cert(struct gh_tls_context *tc, WOLFSSL_CTX *scratch,
                      const struct cert_source *src, struct gh_config_errors *errs)
{
    const char *label = src->label, *cert = src->cert, *key = src->key, *ocsp = src->ocsp;
    const char *names = src->names;
    int cert_line = gh_config_key_line(src->lines, "cert");
    int key_line = gh_config_key_line(src->lines, "key");
    int ocsp_line = gh_config_key_line(src->lines, "ocsp");
    struct gh_tls_cert *c = &tc->certs[tc->n_certs];
    size_t errors_before = errs->count;
    char why[128];
    int rc;

    c->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (!c->ctx) {
        gh_config_error_add(errs, cert_line, "cert", "cannot create a TLS context (out of memory)");
        return;
    }
    tc->n_certs++; /* freed with the context from here on */
    snprintf(c->label, sizeof c->label, "%s", label);
    configure(c->ctx, scratch, tc->cfg, tc->tickets, tc->scope, tc->n_certs == 1, errs);
    if (file_readable(cert, cert_line, "cert", errs)) {
        rc = wolfSSL_CTX_use_certificate_chain_file(c->ctx, cert);
        if (rc != WOLFSSL_SUCCESS)
            gh_config_error_add(errs, cert_line, "cert", "%s: not a PEM certificate chain (%s)",
                                cert, wolf_error_text(rc, why, sizeof why));
        else
            check_chain(cert, cert_line, "cert", label, errs);
    }
    if (file_readable(key, key_line, "key", errs)) {
        rc = wolfSSL_CTX_use_PrivateKey_file(c->ctx, key, WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS)
            gh_config_error_add(errs, key_line, "key", "%s: not a PEM private key (%s)", key,
                                wolf_error_text(rc, why, sizeof why));
        else if (errs->count == errors_before &&
                 wolfSSL_CTX_check_private_key(c->ctx) != WOLFSSL_SUCCESS)
            gh_config_error_add(errs, key_line, "key", "%s does not match the certificate in %s",
                                key, cert);
    }
    if (errs->count == errors_before)
        (void)describe_cert(c, cert, names, cert_line, "cert", errs);
    if (ocsp && ocsp[0] && errs->count == errors_before) {
        if (tc->verify_clients)
            /* wolfSSL checks staples and client certificates with one trust
             * store: the issuer loaded for the staple would be trusted for
             * client certificates too. */
            gh_config_error_add(errs, ocsp_line, "ocsp",
                                "OCSP stapling and client_ca on one listener are not supported "
                                "(the linked wolfSSL has one trust store for both)");
        else
            setup_ocsp(c, cert, ocsp, ocsp_line, "ocsp", errs);
    }
}

struct gh_tls_context *gh_tls_context_new(const struct gh_config *cfg,
                                          const struct gh_listener_config *l,
                                          struct gh_config_errors *errs)
{
    struct gh_tls_context *tc = calloc(1, sizeof *tc);
    WOLFSSL_CTX *scratch = wolfSSL_CTX_new(wolfSSLv23_server_method());
    size_t errors_before = errs->count;

    if (!tc || !scratch) {
        gh_config_error_add(errs, l->line, "", "cannot create a TLS context (out of memory)");
        goto fail;
    }
    tc->cfg = l;
    snprintf(tc->alpn, sizeof tc->alpn, "%s", l->alpn);
    tc->verify_clients = l->client_verify != GH_VERIFY_OFF;
    if (resumption_scope(cfg, l, tc->scope) < 0) {
        gh_config_error_add(errs, l->line, "", "cannot compute the resumption scope");
        goto fail;
    }
    /* tickets: the scope in hex names the ticket keys (tickets.h) */
    char scope_id[2 * WC_SHA256_DIGEST_SIZE + 1];
    gh_hex_encode(scope_id, tc->scope, sizeof tc->scope, GH_HEX_LOWER);
    scope_id[sizeof scope_id - 1] = '\0';
    if (!tc->verify_clients && !(tc->tickets = gh_tickets_scope_new(scope_id))) {
        gh_config_error_add(errs, l->line, "", "out of memory");
        goto fail;
    }
    load_cert(tc, scratch,
              &(struct cert_source){"default", l->cert, l->key, l->ocsp, NULL, &l->key_lines},
              errs);
    for (size_t i = 0; i < l->n_certs; i++) {
        const struct gh_cert_config *cc = &cfg->certs[l->certs[i]];
        load_cert(tc, scratch,
                  &(struct cert_source){cc->name, cc->cert, cc->key, cc->ocsp, cc->names,
                                        &cc->key_lines},
                  errs);
    }
    if (errs->count != errors_before)
        goto fail;
    wolfSSL_CTX_free(scratch);
    return tc;
fail:
    if (scratch)
        wolfSSL_CTX_free(scratch);
    gh_tls_context_free(tc);
    return NULL;
}

void gh_tls_context_free(struct gh_tls_context *tc)
{
    if (!tc)
        return;
    /* wolfSSL counts the sessions using a context: one freed here stays
     * alive until the last session made from it is freed (reload). */
    for (size_t i = 0; i < tc->n_certs; i++) {
        wolfSSL_CTX_free(tc->certs[i].ctx);
        free(tc->certs[i].ocsp_der);
    }
    gh_tickets_scope_free(tc->tickets);
    free(tc);
}

/* ---- choosing a certificate ----------------------------------------- */

/* 2: an exact name covers sni, 1: a *.wildcard does, 0: none. */
static int best_match(const struct gh_tls_cert *c, const char *sni, size_t len)
{
    struct gh_hello_span name = {(const uint8_t *)sni, len};
    int best = 0;
    for (size_t i = 0; i < c->n_names; i++) {
        if (!gh_sni_matches(c->names[i], name))
            continue;
        if (c->names[i][0] != '*')
            return 2;
        best = 1;
    }
    return best;
}

static bool same_names(const struct gh_tls_cert *a, const struct gh_tls_cert *b)
{
    if (a->n_names != b->n_names)
        return false;
    for (size_t i = 0; i < a->n_names; i++)
        if (strcasecmp(a->names[i], b->names[i]) != 0)
            return false;
    return true;
}

/* Among candidates, the key type the client can use: ECDSA first (faster
 * handshakes), RSA for clients without ECDSA. */
static int pick_key_type(const struct gh_tls_context *tc, const bool *candidate,
                         const struct gh_tls_hello *hello)
{
    int first = -1, ecdsa = -1, rsa = -1;
    for (size_t i = 0; i < tc->n_certs; i++) {
        if (!candidate[i])
            continue;
        if (first < 0)
            first = (int)i;
        if (tc->certs[i].ecdsa && ecdsa < 0)
            ecdsa = (int)i;
        if (!tc->certs[i].ecdsa && rsa < 0)
            rsa = (int)i;
    }
    if (hello && ecdsa >= 0 && hello->ecdsa_ok)
        return ecdsa;
    if (hello && rsa >= 0 && hello->rsa_ok)
        return rsa;
    return first; /* the client takes neither: let the handshake say so */
}

int gh_tls_choose(const struct gh_tls_context *tc, const struct gh_tls_hello *hello)
{
    bool candidate[GH_LISTENER_CERTS_MAX] = {false};
    int best = 0;

    if (hello && hello->sni) {
        for (size_t i = 0; i < tc->n_certs; i++) {
            int m = best_match(&tc->certs[i], hello->sni, hello->sni_len);
            if (m > best)
                best = m;
        }
        for (size_t i = 0; i < tc->n_certs && best > 0; i++)
            candidate[i] = best_match(&tc->certs[i], hello->sni, hello->sni_len) == best;
    }
    if (best == 0) {
        if (hello && tc->cfg->sni_unknown == GH_SNI_REFUSE)
            return -1;
        for (size_t i = 0; i < tc->n_certs; i++)
            candidate[i] = i == 0 || same_names(&tc->certs[0], &tc->certs[i]);
    }
    return pick_key_type(tc, candidate, hello);
}

const char *gh_tls_cert_label(const struct gh_tls_context *tc, int cert)
{
    if (!tc || cert < 0 || (size_t)cert >= tc->n_certs)
        return "-";
    return tc->certs[cert].label;
}

/* ---- client certificates -------------------------------------------- */

_Static_assert(GH_TLS_DN_MAX == GH_CERT_INFO_NAME_MAX + 1, "tls.h and cert_info.h disagree");
_Static_assert(GH_TLS_DN_ASCII_MAX == GH_CERT_INFO_NAME_ASCII_MAX + 1,
               "tls.h and cert_info.h disagree");
_Static_assert(GH_TLS_URI_LIST_MAX == GH_CERT_INFO_URI_LIST_MAX + 1,
               "tls.h and cert_info.h disagree");

/* Called by wolfSSL for every certificate of the client's chain
 * (WOLFSSL_ALWAYS_VERIFY_CB), leaf last with error_depth 0. The chain is
 * wolfSSL's to verify (preverify); the leaf is ours to check against the
 * allow-lists. Returning 0 makes wolfSSL send a bad_certificate alert. */
int gh_tls_verify_client(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    struct gh_tls_session *s = store ? store->userCtx : NULL;
    const struct gh_listener_config *l;
    struct gh_cert_info *ci;
    char why[160];
    int ok = 0;

    if (!s || !s->tc)
        return 0;
    if (store->error_depth != 0 || !preverify)
        return preverify;
    if (store->totalCerts < 1 || !store->certs)
        return preverify; /* no certificate: wolfSSL applies client_verify */
    l = s->tc->cfg;
    ci = calloc(1, sizeof *ci);
    if (!s->peer)
        s->peer = calloc(1, sizeof *s->peer);
    if (!ci || !s->peer)
        goto out;
    if (gh_cert_info_parse(store->certs[0].buffer, store->certs[0].length, ci, why,
                           sizeof why) < 0)
        goto out;
    snprintf(s->peer->subject, sizeof s->peer->subject, "%s", ci->subject);
    s->peer->subject_truncated = ci->subject_truncated;
    /* both fit by their sizes (asserted above); -1 would leave "" */
    if (gh_cert_info_name_ascii(ci->subject, s->peer->subject_ascii,
                                sizeof s->peer->subject_ascii) < 0 ||
        gh_cert_info_uri_list(ci, s->peer->uri_list, sizeof s->peer->uri_list) < 0)
        goto out;
    s->peer->uris_dropped = ci->uri_dropped > 0;
    snprintf(s->peer->issuer, sizeof s->peer->issuer, "%s", ci->issuer);
    snprintf(s->peer->cn, sizeof s->peer->cn, "%s", ci->cn);
    snprintf(s->peer->serial, sizeof s->peer->serial, "%s", ci->serial_hex);
    snprintf(s->peer->sha256, sizeof s->peer->sha256, "%s", ci->sha256_hex);
    snprintf(s->peer->uri, sizeof s->peer->uri, "%s", ci->n_uri ? ci->uri[0] : "");
    s->peer->verified = true;
    if (!gh_cert_info_allowed(ci, l->client_allow_cn, l->client_allow_dns, l->client_allow_uri,
                              l->client_allow_sha256)) {
        s->peer_denied = true;
        goto out;
    }
    ok = 1;
out:
    free(ci);
    return ok;
}
