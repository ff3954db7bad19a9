/* rate_limit.c - the rate_limit token bucket; see rate_limit.h. */
#include "gatehouse/rate_limit.h"

void gh_rate_init(struct gh_rate_bucket *b, uint64_t rate, double now)
{
    b->rate = (double)rate;
    b->tokens = b->rate;
    b->stamp = now;
}

uint32_t gh_rate_allowance(struct gh_rate_bucket *b, double now, uint32_t room, double *wait)
{
    double rate = b->rate;
    if (rate <= 0)
        return room;
    b->tokens += (now - b->stamp) * rate;
    if (b->tokens > rate)
        b->tokens = rate;
    b->stamp = now;
    if (b->tokens >= 1)
        return b->tokens < room ? (uint32_t)b->tokens : room;
    /* wait for a useful amount, not for every single byte */
    double want = rate < 4096 ? rate : 4096;
    *wait = (want - b->tokens) / rate;
    return 0;
}
