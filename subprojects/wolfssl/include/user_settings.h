/* user_settings.h - wolfSSL build configuration for gatehouse.
 *
 * Included by wolfssl/wolfcrypt/settings.h (and by wolfSSL's .S files) when
 * WOLFSSL_USER_SETTINGS is defined. Must contain preprocessor directives only.
 *
 * Architecture-dependent settings (WOLFSSL_X86_64_BUILD, WOLFSSL_AESNI,
 * USE_INTEL_SPEEDUP, WOLFSSL_SP_X86_64_ASM, ...) are NOT set here: they come
 * from subprojects/wolfssl/meson.build as compile args that are given to the
 * library and, through wolfssl_dep, to every consumer, so struct layouts
 * always agree. The checks at the bottom catch a consumer that includes
 * wolfSSL headers without those args.
 */
#ifndef GATEHOUSE_WOLFSSL_USER_SETTINGS_H
#define GATEHOUSE_WOLFSSL_USER_SETTINGS_H

/* ---- Platform (what wolfSSL's configure would detect on Linux/glibc) --- */
#define HAVE_PTHREAD
#define HAVE_THREAD_LS
#define HAVE_C___ATOMIC 1
#define WOLFSSL_HAVE_ATOMIC_H
#define HAVE_GMTIME_R           /* thread-safe cert date checks */
#define HAVE_GETADDRINFO        /* OCSP/CRL HTTP lookups in wolfio.c */
#define HAVE_ERRNO_H
#define HAVE_SYS_TIME_H
#define HAVE_NETDB_H
#define HAVE_SYS_IOCTL_H
#define HAVE_LIMITS_H
#define WOLFSSL_USE_ALIGN
#if defined(__SIZEOF_LONG__) && defined(__SIZEOF_LONG_LONG__)
    #define SIZEOF_LONG      __SIZEOF_LONG__
    #define SIZEOF_LONG_LONG __SIZEOF_LONG_LONG__
#endif
#if defined(__SIZEOF_INT128__)
    #define HAVE___UINT128_T 1
#endif
#define ERROR_QUEUE_PER_THREAD

/* ---- TLS protocol ------------------------------------------------------ */
#define WOLFSSL_TLS13
#define NO_OLD_TLS              /* no SSLv3 / TLS 1.0 / TLS 1.1 */
#define HAVE_TLS_EXTENSIONS
#define HAVE_SUPPORTED_CURVES
#define HAVE_SNI
#define WOLFSSL_ALWAYS_KEEP_SNI /* the audit log records the name a client asked for */
#define HAVE_ALPN
#define HAVE_SESSION_TICKET
#define HAVE_EXTENDED_MASTER
#define HAVE_ENCRYPT_THEN_MAC
#define HAVE_SERVER_RENEGOTIATION_INFO
#define HAVE_HKDF
/* Client side is kept (NO_WOLFSSL_CLIENT not set) for test/bench tools. */

/* Session cache: 1055 sessions (TLS 1.2 session-ID resumption; TLS 1.3 and
 * ticket-capable clients resume via session tickets instead). The cache is
 * one per process; each listener's contexts carry a session ID context
 * (src/tls_context.c), and a session resumes only where the context is the
 * same. wolfSSL 5.7.2 keeps the context under WOLFSSL_SESSION_ID_CTX but
 * compares it on the server's lookup only under OPENSSL_EXTRA: our patch
 * patches/0001-check-session-id-context-without-openssl-extra.patch makes
 * it compare under WOLFSSL_SESSION_ID_CTX too. */
#define MEDIUM_SESSION_CACHE
#define WOLFSSL_SESSION_ID_CTX

/* ---- Certificates ------------------------------------------------------ */
#define KEEP_PEER_CERT
#define WOLFSSL_ALWAYS_VERIFY_CB /* client certificate allow-lists are checked on success too */
#define WOLFSSL_ALT_NAMES
#define WOLFSSL_CERT_EXT
#define HAVE_OCSP
#define HAVE_CERTIFICATE_STATUS_REQUEST
#define HAVE_CERTIFICATE_STATUS_REQUEST_V2
#define HAVE_CRL                /* no HAVE_CRL_MONITOR */

/* ---- Public key -------------------------------------------------------- */
#define HAVE_ECC
#define ECC_USER_CURVES         /* only the curves below */
#define HAVE_ECC256
#define HAVE_ECC384
#define HAVE_ECC521
#define ECC_SHAMIR
#define ECC_TIMING_RESISTANT
#define HAVE_CURVE25519
#define WC_RSA_PSS
#define WOLFSSL_PSS_LONG_SALT   /* as configure: allow PSS salt > hash length */
#define WC_RSA_BLINDING
#define TFM_TIMING_RESISTANT

/* SP math: generic sp_int plus the optimised fixed-size SP code for
 * RSA 2048/3072/4096 and ECC P-256/P-384/P-521. */
#define WOLFSSL_SP_MATH_ALL
#define WOLFSSL_HAVE_SP_RSA
#define WOLFSSL_HAVE_SP_ECC
#define WOLFSSL_SP_384
#define WOLFSSL_SP_521
#define WOLFSSL_SP_4096
#define SP_INT_BITS 4096

/* ---- Symmetric / hashes ------------------------------------------------ */
#define HAVE_AESGCM
#define GCM_TABLE_4BIT          /* C fallback when AES-NI is absent */
#define HAVE_CHACHA
#define HAVE_POLY1305
#define WOLFSSL_SHA384
#define WOLFSSL_SHA512
/* Random bytes straight from the kernel's CSPRNG, getrandom(2), one call
 * per request (gatehouse_random.c), instead of a Hash-DRBG per session:
 * wolfSSL instantiates and health-tests a new DRBG in every wolfSSL_new,
 * which was 7 % of a full handshake's instructions. getrandom needs no file
 * descriptor (it cannot fail with EMFILE near the descriptor limit). */
#define CUSTOM_RAND_GENERATE_BLOCK gatehouse_random_block
#ifndef __ASSEMBLER__
int gatehouse_random_block(unsigned char *output, unsigned int size);
#endif
#define WOLFSSL_NO_SHAKE128
#define WOLFSSL_NO_SHAKE256

/* ---- Things gatehouse does not want ------------------------------------ */
#define NO_DH                   /* PFS comes from ECDHE / X25519 only */
#define NO_DSA
#define NO_RC4
#define NO_MD4
#define NO_MD5
#define NO_DES3
#define NO_PSK
#define NO_PWDBASED

/* ---- Consistency checks ------------------------------------------------ */
#if defined(WOLFSSL_X86_64_BUILD) && !defined(__x86_64__)
    #error "WOLFSSL_X86_64_BUILD set but not compiling for x86_64"
#endif
#if !defined(GATEHOUSE_WOLFSSL_ARCH_ARGS)
    #error "wolfSSL headers used without wolfssl_dep compile args (see subprojects/wolfssl/meson.build)"
#endif

#endif /* GATEHOUSE_WOLFSSL_USER_SETTINGS_H */
