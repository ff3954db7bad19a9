/*
 * ws_echo_server - plaintext single-threaded epoll echo backend for the
 * frame-validation benchmark (bench/frames.sh).
 *
 * Default (WebSocket) mode: reads an HTTP/1.1 upgrade request, answers
 *   HTTP/1.1 101 Switching Protocols
 *   Upgrade: websocket / Connection: Upgrade / Sec-WebSocket-Accept: <SHA-1>
 * (RFC 6455 4.2.2), then reads client frames (which must be masked) and
 * echoes each one unmasked: a text/binary/continuation frame goes back as the
 * same frame (same FIN and opcode, minimal length encoding), a ping is
 * answered with a pong carrying its payload, a pong is ignored, a close is
 * answered with a close carrying the same status code, after which the
 * server shuts down its sending side and closes on EOF. An unmasked client
 * frame, a reserved opcode, RSV bits or a frame over 16 MiB get a close 1002
 * (1009 for the size) and the connection closes.
 *
 * An upgrade request for /split/N (N bytes, 0..65535) changes how data is
 * echoed on that connection: each message is collected whole (at most
 * 16 MiB) and echoed once its last frame is in, as fragments of N bytes
 * (N = 0: one frame), all queued at once. The small-frame streaming rows
 * use it to put many small frames on one direction only: /split/64 for a
 * message sent as one frame (server-to-client small frames), /split/0 for a
 * message sent in small fragments (client-to-server small frames).
 *
 * --line: every newline-terminated line is echoed as soon as its '\n'
 * arrives (a partial line is held); no HTTP. Used for the line-vs-raw
 * comparison: the same backend sits behind gatehouse framing=line and
 * framing=raw.
 *
 * No output per connection; on SIGTERM/SIGINT one summary line on stderr:
 *   echo_server mode=ws conns=N frames=N bytes_in=N bad=N
 *
 * Build: cc -O2 -o ws_echo_server ws_echo_server.c -lcrypto
 * Usage: ws_echo_server -p PORT [-h 127.0.0.1] [--line] [-b BACKLOG]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#define MAX_HEAD 16384
#define MAX_FRAME (16u << 20)       /* payload limit per frame */
#define MAX_LINE (16u << 20)        /* partial-line limit */
#define OUT_HIGH (4u << 20)         /* stop reading while this much is unsent */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { C_HEAD, C_WS, C_LINE, C_CLOSING };

struct buf {
	unsigned char *p;
	size_t off, len, cap; /* data is p[off .. off+len) */
};

struct conn {
	int fd;
	int state;
	unsigned events;
	struct buf in, out;
	int shut_wr_pending; /* shutdown(SHUT_WR) once out is flushed */
	long split;          /* /split/N: fragment size of the echo, 0 one frame; -1 frame by frame */
	struct buf msg;      /* /split/N: the message being collected */
	unsigned char msg_op;
};

static int g_line;
static int g_ep;
static volatile sig_atomic_t g_stop;
static unsigned long long n_conns, n_frames, n_bytes_in, n_bad;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->off + b->len + more <= b->cap)
		return 0;
	if (b->off) { /* compact first */
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
		if (b->len + more <= b->cap)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more)
		cap *= 2;
	unsigned char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_put(struct buf *b, const void *d, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->p + b->off + b->len, d, n);
	b->len += n;
	return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

static void ep_set(struct conn *c, unsigned ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
	c->events = ev;
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	free(c->in.p);
	free(c->out.p);
	free(c->msg.p);
	free(c);
}

/* one frame header (server side: never masked) */
static int put_frame_head(struct buf *o, unsigned char b0, uint64_t n)
{
	unsigned char h[10];
	size_t hl;
	h[0] = b0;
	if (n < 126) {
		h[1] = (unsigned char)n;
		hl = 2;
	} else if (n <= 0xFFFF) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)(n >> (56 - 8 * i));
		hl = 10;
	}
	return buf_put(o, h, hl);
}

static void send_close(struct conn *c, unsigned code)
{
	unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
	put_frame_head(&c->out, 0x88, 2);
	buf_put(&c->out, p, 2);
	c->state = C_CLOSING;
	c->shut_wr_pending = 1;
}

/* the HTTP upgrade; returns 1 when done (state changed), 0 need more, -1 close */
static int do_head(struct conn *c)
{
	unsigned char *d = c->in.p + c->in.off;
	size_t n = c->in.len;
	unsigned char *end = memmem(d, n, "\r\n\r\n", 4);
	if (!end)
		return n >= MAX_HEAD ? -1 : 0;
	size_t hlen = (size_t)(end - d) + 4;
	char key[128] = "";
	int upgrade = 0;
	/* header lines: "Name: value\r\n" */
	for (unsigned char *p = memmem(d, hlen, "\r\n", 2) + 2; p < end;) {
		unsigned char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		size_t ll = (size_t)(eol - p);
		unsigned char *colon = memchr(p, ':', ll);
		if (colon) {
			size_t nl = (size_t)(colon - p);
			unsigned char *v = colon + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			size_t vl = (size_t)(ve - v);
			if (nl == 17 && strncasecmp((char *)p, "sec-websocket-key", 17) == 0 && vl < sizeof key) {
				memcpy(key, v, vl);
				key[vl] = 0;
			} else if (nl == 7 && strncasecmp((char *)p, "upgrade", 7) == 0 && vl == 9 &&
			           strncasecmp((char *)v, "websocket", 9) == 0) {
				upgrade = 1;
			}
		}
		p = eol + 2;
	}
	c->split = -1;
	if (n > 11 && memcmp(d, "GET /split/", 11) == 0) {
		char *endp;
		long v = strtol((char *)d + 11, &endp, 10);
		if (endp != (char *)d + 11 && *endp == ' ' && v >= 0 && v <= 65535)
			c->split = v;
	}
	if (n < 4 || memcmp(d, "GET ", 4) != 0 || !upgrade || !key[0]) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		buf_put(&c->out, bad, sizeof bad - 1);
		n_bad++;
		c->state = C_CLOSING;
		c->shut_wr_pending = 1;
		buf_consume(&c->in, c->in.len);
		return 1;
	}
	unsigned char sha[SHA_DIGEST_LENGTH], acc[64], cat[200];
	int kl = snprintf((char *)cat, sizeof cat, "%s%s", key, WS_GUID);
	SHA1(cat, (size_t)kl, sha);
	EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
	char resp[256];
	int rl = snprintf(resp, sizeof resp,
	                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	                  acc);
	buf_put(&c->out, resp, (size_t)rl);
	buf_consume(&c->in, hlen);
	c->state = C_WS;
	return 1;
}

/* /split/N: a data frame joins the message; the whole message is echoed
 * in fragments of c->split bytes (0: one frame) once its FIN frame is in. */
static int split_echo(struct conn *c, unsigned char b0, const unsigned char *pl, uint64_t len)
{
	unsigned op = b0 & 0x0F;
	if (op != 0)
		c->msg_op = (unsigned char)op;
	if (c->msg.len + len > MAX_FRAME)
		return -1;
	if (buf_put(&c->msg, pl, (size_t)len) < 0)
		return -1;
	if (!(b0 & 0x80))
		return 0;
	size_t total = c->msg.len, step = c->split ? (size_t)c->split : total, off = 0;
	do {
		size_t part = total - off < step ? total - off : step;
		unsigned char h0 = (unsigned char)((off == 0 ? c->msg_op : 0) | (off + part == total ? 0x80 : 0));
		if (put_frame_head(&c->out, h0, part) < 0 ||
		    buf_put(&c->out, c->msg.p + c->msg.off + off, part) < 0)
			return -1;
		off += part;
	} while (off < total);
	buf_consume(&c->msg, c->msg.len);
	return 0;
}

/* echo every complete frame in c->in; returns -1 on a fatal error */
static int do_frames(struct conn *c)
{
	for (;;) {
		if (c->state != C_WS)
			return 0;
		unsigned char *d = c->in.p + c->in.off;
		size_t n = c->in.len;
		if (n < 2)
			return 0;
		unsigned char b0 = d[0], b1 = d[1];
		uint64_t len = b1 & 0x7F;
		size_t hl = 2;
		if (len == 126) {
			if (n < 4)
				return 0;
			len = ((uint64_t)d[2] << 8) | d[3];
			hl = 4;
		} else if (len == 127) {
			if (n < 10)
				return 0;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | d[2 + i];
			hl = 10;
		}
		unsigned op = b0 & 0x0F;
		if (!(b1 & 0x80) || (b0 & 0x70) || (op > 2 && op < 8) || op > 10) {
			n_bad++;
			send_close(c, 1002);
			buf_consume(&c->in, c->in.len);
			return 0;
		}
		if (len > MAX_FRAME) {
			n_bad++;
			send_close(c, 1009);
			buf_consume(&c->in, c->in.len);
			return 0;
		}
		if (n < hl + 4 + len)
			return 0;
		const unsigned char *mk = d + hl;
		unsigned char *pl = d + hl + 4;
		for (uint64_t i = 0; i < len; i++)
			pl[i] ^= mk[i & 3];
		n_frames++;
		switch (op) {
		case 0x0: case 0x1: case 0x2:
			if (c->split >= 0) {
				if (split_echo(c, b0, pl, len) < 0)
					return -1;
				break;
			}
			if (put_frame_head(&c->out, b0, len) < 0 || buf_put(&c->out, pl, len) < 0)
				return -1;
			break;
		case 0x9: /* ping -> pong */
			if (put_frame_head(&c->out, 0x8A, len) < 0 || buf_put(&c->out, pl, len) < 0)
				return -1;
			break;
		case 0xA:
			break;
		case 0x8: {
			unsigned code = len >= 2 ? ((unsigned)pl[0] << 8 | pl[1]) : 1000;
			buf_consume(&c->in, hl + 4 + len);
			send_close(c, code);
			buf_consume(&c->in, c->in.len);
			return 0;
		}
		}
		buf_consume(&c->in, hl + 4 + (size_t)len);
	}
}

static int do_lines(struct conn *c)
{
	unsigned char *d = c->in.p + c->in.off;
	size_t n = c->in.len;
	unsigned char *nl = memrchr(d, '\n', n);
	if (!nl)
		return n > MAX_LINE ? -1 : 0;
	size_t take = (size_t)(nl - d) + 1;
	/* count lines for the summary */
	for (unsigned char *p = d; (p = memchr(p, '\n', (size_t)(d + take - p))) != NULL; p++)
		n_frames++;
	if (buf_put(&c->out, d, take) < 0)
		return -1;
	buf_consume(&c->in, take);
	return 0;
}

/* write what is pending; -1 on error */
static int flush_out(struct conn *c)
{
	while (c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out.off, c->out.len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf_consume(&c->out, (size_t)w);
	}
	if (!c->out.len && c->shut_wr_pending) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr_pending = 0;
	}
	return 0;
}

static void update_events(struct conn *c)
{
	unsigned ev = 0;
	if (c->out.len < OUT_HIGH)
		ev |= EPOLLIN;
	if (c->out.len)
		ev |= EPOLLOUT;
	ep_set(c, ev);
}

static void on_event(struct conn *c, unsigned ev)
{
	if (ev & EPOLLOUT) {
		if (flush_out(c) < 0) {
			conn_free(c);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			if (c->out.len >= OUT_HIGH)
				break;
			if (buf_reserve(&c->in, 65536) < 0) {
				conn_free(c);
				return;
			}
			ssize_t r = recv(c->fd, c->in.p + c->in.off + c->in.len, 65536, 0);
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				if (errno == EINTR)
					continue;
				conn_free(c);
				return;
			}
			if (r == 0) { /* EOF: flush what we owe (best effort) and close */
				flush_out(c);
				conn_free(c);
				return;
			}
			c->in.len += (size_t)r;
			n_bytes_in += (unsigned long long)r;
			int rc = 0;
			if (c->state == C_CLOSING) {
				buf_consume(&c->in, c->in.len); /* discard after close */
			} else if (c->state == C_LINE) {
				rc = do_lines(c);
			} else {
				if (c->state == C_HEAD) {
					rc = do_head(c);
					if (rc == 0)
						continue;
				}
				if (rc >= 0)
					rc = do_frames(c);
			}
			if (rc < 0) {
				n_bad++;
				conn_free(c);
				return;
			}
			if (c->out.len && flush_out(c) < 0) {
				conn_free(c);
				return;
			}
			if (r < 65536)
				break; /* drained (saves a recv returning EAGAIN) */
		}
	}
	update_events(c);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s -p PORT [-h 127.0.0.1] [--line] [-b BACKLOG]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, backlog = 4096, opt;
	static const struct option lo[] = {{"line", no_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "p:h:b:", lo, NULL)) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'h': host = optarg; break;
		case 'b': backlog = atoi(optarg); break;
		case 'L': g_line = 1; break;
		default: usage(argv[0]);
		}
	}
	if (port <= 0 || port > 65535)
		usage(argv[0]);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address: %s\n", host);
		return 2;
	}
	if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, backlog) < 0) {
		perror("bind/listen");
		return 1;
	}
	g_ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(g_ep, EPOLL_CTL_ADD, ls, &le);

	struct epoll_event evs[256];
	while (!g_stop) {
		int n = epoll_wait(g_ep, evs, 256, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				for (;;) {
					int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct conn *c = calloc(1, sizeof *c);
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->state = g_line ? C_LINE : C_HEAD;
					c->events = EPOLLIN;
					struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
					if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &e) < 0) {
						close(fd);
						free(c);
						continue;
					}
					n_conns++;
				}
				continue;
			}
			on_event(evs[i].data.ptr, evs[i].events);
		}
	}
	fprintf(stderr, "echo_server mode=%s conns=%llu %s=%llu bytes_in=%llu bad=%llu\n",
	        g_line ? "line" : "ws", n_conns, g_line ? "lines" : "frames", n_frames, n_bytes_in, n_bad);
	return 0;
}
