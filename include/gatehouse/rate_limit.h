/* rate_limit.h - rate_limit: a token bucket of one second's worth of bytes.
 *
 * Owns: how many bytes a client may send now, and how long to wait when it
 * may send none. I/O-free; the connection pauses reading and sets its
 * timer. */
#ifndef GATEHOUSE_RATE_LIMIT_H
#define GATEHOUSE_RATE_LIMIT_H

#include <stdint.h>

struct gh_rate_bucket {
    double rate;                 /* bytes per second; 0 = no limit */
    double tokens;               /* bytes the client may still send now */
    double stamp;                /* when tokens was last topped up */
};

void gh_rate_init(struct gh_rate_bucket *b, uint64_t rate, double now);

/* How many of room bytes may be read now. 0: none; *wait is how long
 * until a useful amount (not every single byte) is allowed. */
uint32_t gh_rate_allowance(struct gh_rate_bucket *b, double now, uint32_t room, double *wait);

/* n bytes were read. */
static inline void gh_rate_spend(struct gh_rate_bucket *b, uint32_t n)
{
    b->tokens -= (double)n;
}

#endif
