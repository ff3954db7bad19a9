/* tickets.h - session ticket keys shared by workers and instances.
 *
 * TLS 1.2 session tickets and TLS 1.3 resumption tickets are encrypted
 * with AES-256-GCM under a key derived from one secret and the current
 * rotation period:
 *     key(e)  = HMAC-SHA256(secret, "gatehouse ticket key"  || e)
 *     name(e) = HMAC-SHA256(secret, "gatehouse ticket name" || e)[0..16)
 * where e = floor(unix time / ticket_rotation), as 8 bytes big-endian.
 * Every process holding the same secret (ticket_key_file) and a clock
 * within one period derives the same keys with no coordination, so a client
 * resumes on any worker of any instance behind a load balancer. New tickets
 * use key(e); tickets under key(e-1) and key(e-2) are still accepted (and
 * replaced), and key(e+1) too, for clocks a little ahead. Without a key
 * file the secret is random, made once before the workers fork: shared by
 * the workers, not by other instances.
 *
 * Owns: the secret, the derived keys, and the wolfSSL ticket callback. */
#ifndef GATEHOUSE_TICKETS_H
#define GATEHOUSE_TICKETS_H

#include <stddef.h>
#include <stdint.h>

/* Reads key_file ("" = random secret). Returns 0, or -1 with a reason. */
int gh_tickets_init(const char *key_file, double rotation, char *why, size_t why_len);

/* Installs the ticket callback and lifetime hint on a wolfSSL context
 * (a WOLFSSL_CTX *, untyped so this header needs no wolfSSL headers). */
int gh_tickets_install(void *wolfssl_ctx);

/* Tickets issued and accepted by this process, for the shutdown log. */
struct gh_ticket_stats {
    uint64_t issued, accepted, renewed, rejected;
};
void gh_tickets_stats(struct gh_ticket_stats *out);

#endif
