/* crypto_speed.c - the gatehouse-crypto-speed command: how fast the linked
 * wolfSSL does what a TLS proxy's CPU goes to, on one core.
 *
 *   gatehouse-crypto-speed        print the figures, exit 0 (1 when a
 *                                 wolfCrypt call failed)
 *   gatehouse-crypto-speed -h     this help
 *
 * It prints gatehouse -V's lines (versions, whether assembly is on), then
 * AES-128-GCM and ChaCha20-Poly1305 in MiB/s on 16 KiB blocks, ECDSA P-256
 * signs and P-256 / X25519 ECDHE (a fresh key pair and one shared secret,
 * as a server does per handshake) in operations per second. Each figure
 * runs SPEED_SECONDS of wall-clock time, so a busy CPU lowers it (bench/
 * run.sh pins it to a core and records its CPU time). A tool of its own
 * so the proxy's binary carries no benchmark; it links the same wolfSSL
 * build as gatehouse (through the core library's tls.c). */
#include "gatehouse/tls.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define SPEED_SECONDS 0.5
#define SPEED_BLOCK 16384

static int speed_aes_gcm(FILE *to, uint8_t *block)
{
    Aes aes;
    uint8_t key[16] = {1}, iv[12] = {2}, tag[16];
    double start, elapsed;
    uint64_t bytes = 0;

    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0 || wc_AesGcmSetKey(&aes, key, sizeof key) != 0)
        return -1;
    start = now_seconds();
    do {
        for (int i = 0; i < 64; i++) {
            if (wc_AesGcmEncrypt(&aes, block, block, SPEED_BLOCK, iv, sizeof iv, tag, sizeof tag,
                                 NULL, 0) != 0) {
                wc_AesFree(&aes);
                return -1;
            }
            bytes += SPEED_BLOCK;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < SPEED_SECONDS);
    wc_AesFree(&aes);
    fprintf(to, "AES-128-GCM         %10.0f MiB/s  (16 KiB blocks)\n",
            (double)bytes / elapsed / (1 << 20));
    return 0;
}

static int speed_chacha(FILE *to, uint8_t *block)
{
    uint8_t key[32] = {1}, iv[12] = {2}, tag[16];
    double start, elapsed;
    uint64_t bytes = 0;

    start = now_seconds();
    do {
        for (int i = 0; i < 16; i++) {
            if (wc_ChaCha20Poly1305_Encrypt(key, iv, NULL, 0, block, SPEED_BLOCK, block, tag) != 0)
                return -1;
            bytes += SPEED_BLOCK;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < SPEED_SECONDS);
    fprintf(to, "ChaCha20-Poly1305   %10.0f MiB/s  (16 KiB blocks)\n",
            (double)bytes / elapsed / (1 << 20));
    return 0;
}

static int speed_ecc(FILE *to, WC_RNG *rng)
{
    ecc_key key, peer;
    uint8_t hash[32] = {3}, sig[ECC_MAX_SIG_SIZE], secret[32];
    word32 sig_len, secret_len;
    double start, elapsed;
    uint64_t ops = 0;
    int rc = -1;

    if (wc_ecc_init(&key) != 0)
        return -1;
    if (wc_ecc_init(&peer) != 0)
        goto out_key;
    if (wc_ecc_make_key_ex(rng, 32, &key, ECC_SECP256R1) != 0 ||
        wc_ecc_make_key_ex(rng, 32, &peer, ECC_SECP256R1) != 0)
        goto out;
    start = now_seconds();
    do {
        sig_len = sizeof sig;
        if (wc_ecc_sign_hash(hash, sizeof hash, sig, &sig_len, rng, &key) != 0)
            goto out;
        ops++;
        elapsed = now_seconds() - start;
    } while (elapsed < SPEED_SECONDS);
    fprintf(to, "ECDSA P-256 sign    %10.0f ops/s\n", (double)ops / elapsed);

    /* One ECDHE as a server does it: a fresh key pair and one shared secret. */
    ops = 0;
    start = now_seconds();
    do {
        ecc_key eph;
        if (wc_ecc_init(&eph) != 0)
            goto out;
        wc_ecc_set_rng(&eph, rng);
        secret_len = sizeof secret;
        if (wc_ecc_make_key_ex(rng, 32, &eph, ECC_SECP256R1) != 0 ||
            wc_ecc_shared_secret(&eph, &peer, secret, &secret_len) != 0) {
            wc_ecc_free(&eph);
            goto out;
        }
        wc_ecc_free(&eph);
        ops++;
        elapsed = now_seconds() - start;
    } while (elapsed < SPEED_SECONDS);
    fprintf(to, "ECDHE P-256         %10.0f ops/s  (key pair + shared secret)\n",
            (double)ops / elapsed);
    rc = 0;
out:
    wc_ecc_free(&peer);
out_key:
    wc_ecc_free(&key);
    return rc;
}

static int speed_x25519(FILE *to, WC_RNG *rng)
{
    curve25519_key peer;
    uint8_t secret[32];
    word32 secret_len;
    double start, elapsed;
    uint64_t ops = 0;
    int rc = -1;

    if (wc_curve25519_init(&peer) != 0)
        return -1;
    if (wc_curve25519_make_key(rng, 32, &peer) != 0)
        goto out;
    start = now_seconds();
    do {
        curve25519_key eph;
        if (wc_curve25519_init(&eph) != 0)
            goto out;
        secret_len = sizeof secret;
        if (wc_curve25519_make_key(rng, 32, &eph) != 0 ||
            wc_curve25519_shared_secret(&eph, &peer, secret, &secret_len) != 0) {
            wc_curve25519_free(&eph);
            goto out;
        }
        wc_curve25519_free(&eph);
        ops++;
        elapsed = now_seconds() - start;
    } while (elapsed < SPEED_SECONDS);
    fprintf(to, "X25519 ECDHE        %10.0f ops/s  (key pair + shared secret)\n",
            (double)ops / elapsed);
    rc = 0;
out:
    wc_curve25519_free(&peer);
    return rc;
}

static int crypto_speed(FILE *to)
{
    WC_RNG rng;
    uint8_t *block;
    int rc = -1;

    gh_tls_print_version(to);
    fprintf(to, "one core, %.1f s per figure:\n", SPEED_SECONDS);
    block = calloc(1, SPEED_BLOCK);
    if (!block)
        return -1;
    if (wc_InitRng(&rng) != 0)
        goto out_block;
    if (speed_aes_gcm(to, block) < 0 || speed_chacha(to, block) < 0 || speed_ecc(to, &rng) < 0 ||
        speed_x25519(to, &rng) < 0) {
        fprintf(to, "crypto-speed: a wolfCrypt call failed\n");
        goto out;
    }
    rc = 0;
out:
    wc_FreeRng(&rng);
out_block:
    free(block);
    return rc;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: gatehouse-crypto-speed     print the linked wolfSSL's crypto speed on one core\n"
                "       gatehouse-crypto-speed -h  this help\n");
}

int main(int argc, char **argv)
{
    int rc;

    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 1) { /* it takes no options and no arguments */
        usage(stderr);
        return 2;
    }
    if (gh_tls_global_init() < 0)
        return 1;
    rc = crypto_speed(stdout) == 0 ? 0 : 1;
    gh_tls_global_cleanup();
    return rc;
}
