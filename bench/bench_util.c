/* bench_util.c - see bench_util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bench_parse_addr(const char *host, int port, struct sockaddr_in *addr)
{
	memset(addr, 0, sizeof *addr);
	addr->sin_family = AF_INET;
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "bad port: %d\n", port);
		return -1;
	}
	addr->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address: %s\n", host);
		return -1;
	}
	return 0;
}

int bench_raise_nofile(long need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0; /* nothing known: let the sockets fail */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		perror("setrlimit");
	if (need > 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < need) {
		fprintf(stderr, "RLIMIT_NOFILE %ld < %ld needed\n", (long)rl.rlim_cur, need);
		return -1;
	}
	return 0;
}

static volatile sig_atomic_t *stop_flag;

static void on_stop_signal(int sig)
{
	(void)sig;
	*stop_flag = 1;
}

void bench_stop_on_signals(volatile sig_atomic_t *stop)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};
	stop_flag = stop;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

SSL_CTX *bench_tls_client_ctx(int min_version, int max_version, int resumption)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if ((min_version && !SSL_CTX_set_min_proto_version(ctx, min_version)) ||
	    (max_version && !SSL_CTX_set_max_proto_version(ctx, max_version))) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (!resumption) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
	return ctx;
}

int bench_tcp_connect(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return -1;
	}
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		perror("setsockopt TCP_NODELAY");
	if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -2;
	}
	return fd;
}

int bench_connect_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

SSL *bench_tls_new(SSL_CTX *ctx, int fd, const char *sni)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl) {
		fprintf(stderr, "SSL_new failed\n");
		exit(1);
	}
	SSL_set_fd(ssl, fd);
	SSL_set_connect_state(ssl);
	if (sni && *sni)
		SSL_set_tlsext_host_name(ssl, sni);
	return ssl;
}

void bench_ep_set(int ep, int fd, uint32_t slot, unsigned *registered, unsigned events)
{
	struct epoll_event e = {.events = events, .data.u32 = slot};
	if (*registered == events)
		return;
	if (epoll_ctl(ep, *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
	*registered = events;
}

void bench_tls_close(SSL **ssl, int *fd, int graceful)
{
	if (*ssl) {
		if (graceful && SSL_is_init_finished(*ssl))
			SSL_shutdown(*ssl); /* send close_notify, do not wait */
		SSL_free(*ssl);
		*ssl = NULL;
	}
	if (*fd >= 0) {
		if (graceful) {
			char buf[4096];
			while (recv(*fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
				;
		}
		close(*fd); /* also removes it from epoll */
		*fd = -1;
	}
}

double bench_hist_pct(const uint32_t *hist, long buckets, long over, double p, double bucket_ms,
                      double beyond_ms)
{
	long total = over;
	for (long i = 0; i < buckets; i++)
		total += hist[i];
	if (!total)
		return 0;
	long want = (long)(p * (double)total + 0.999999); /* nearest rank */
	if (want < 1)
		want = 1;
	long acc = 0;
	for (long i = 0; i < buckets; i++) {
		acc += hist[i];
		if (acc >= want)
			return (double)(i + 1) * bucket_ms; /* the bucket's upper edge */
	}
	return beyond_ms;
}
