/*
 * bench_util.h - what the benchmark load clients (handshake_client.c,
 * ws_load.c) share.
 *
 * Owns: the monotonic clock in ns, the target address from -h/-p, the
 * descriptor limit, the stop signals, the OpenSSL client context (no
 * certificate check: the bench certificates are self-signed), the
 * non-blocking TCP connect, a connection's epoll registration, closing a
 * TLS connection (gracefully: close_notify and the unread bytes drained,
 * so close() sends FIN and not RST), and percentiles of a latency
 * histogram. Each client keeps its own connection states and output.
 *
 * Build: cc -O2 -o NAME NAME.c bench_util.c -lssl -lcrypto (bench/run.sh and
 * bench/frames.sh do this when meson did not build them: -Dbench=true).
 */
#ifndef GATEHOUSE_BENCH_UTIL_H
#define GATEHOUSE_BENCH_UTIL_H

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* HOST (dotted IPv4) and PORT into *addr; -1 (and a message on stderr)
 * when HOST is no IPv4 address or PORT is out of range. */
int bench_parse_addr(const char *host, int port, struct sockaddr_in *addr);

/* Raises the open-file limit to its hard limit; -1 (and a message) when
 * that is still below NEED descriptors (0: no need checked). */
int bench_raise_nofile(long need);

/* SIGPIPE ignored; SIGTERM and SIGINT set *stop. */
void bench_stop_on_signals(volatile sig_atomic_t *stop);

/* A TLS client context: no certificate check, an unexpected EOF is a
 * plain close, MIN_VERSION / MAX_VERSION (TLS1_2_VERSION ...; 0: the
 * library's choice). With RESUMPTION 0 every handshake is a full one: no
 * session cache, no tickets asked. NULL (errors printed) on failure. */
SSL_CTX *bench_tls_client_ctx(int min_version, int max_version, int resumption);

/* A non-blocking TCP socket (TCP_NODELAY) connecting to ADDR: its fd, with
 * the connect in progress; -1 when socket() failed (perror'd), -2 when
 * connect() failed at once (the socket is closed). */
int bench_tcp_connect(const struct sockaddr_in *addr);

/* The outcome of FD's non-blocking connect once it is writable: 0, or
 * its errno (SO_ERROR). */
int bench_connect_error(int fd);

/* A client TLS connection over FD for CTX, sending SNI unless NULL or "";
 * exits when OpenSSL cannot allocate it. */
SSL *bench_tls_new(SSL_CTX *ctx, int fd, const char *sni);

/* Registers FD in epoll EP for EVENTS with SLOT as its data, unless
 * *REGISTERED (the events it has now, 0: none) says so already; exits on
 * an epoll error. */
void bench_ep_set(int ep, int fd, uint32_t slot, unsigned *registered, unsigned events);

/* Frees *SSL and closes *FD (each set to NULL / -1). GRACEFUL: a
 * close_notify first (after a finished handshake; its answer is not
 * waited for) and the unread bytes (TLS 1.3 tickets) drained, so close()
 * sends a FIN rather than a RST. */
void bench_tls_close(SSL **ssl, int *fd, int graceful);

/* The P quantile (nearest rank) of a histogram of BUCKETS buckets of
 * BUCKET_MS each plus OVER samples beyond them, in ms: the upper edge of
 * its bucket; BEYOND_MS when it lies beyond them; 0 without samples. */
double bench_hist_pct(const uint32_t *hist, long buckets, long over, double p, double bucket_ms,
                      double beyond_ms);

#endif
