/* test_buffer.c - unit tests for the buffer pool (src/buffer.c).
 *
 * Pins the contract of include/gatehouse/buffer.h for giving memory back:
 *  - blocks in steady use stay pooled across shrinks (the steady state
 *    allocates nothing);
 *  - what a burst left in the free list is freed by the first shrink after
 *    a whole interval in which nobody took it, down to the floor asked for;
 *  - an interval that used part of the free list frees only the rest;
 *  - max_free still caps the free list, and the counters (n_free, in_use,
 *    low_free <= n_free) stay consistent throughout. */
#include "check.h"

#include "gatehouse/buffer.h"

#define BLOCK 1024u
#define KEEP 4u
#define BURST 100u

static void take(struct gh_buf_pool *pool, struct gh_buf *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(gh_buf_acquire(pool, &bufs[i]), 0);
        bufs[i].tail = 1; /* holds a byte: release_if_empty keeps it */
    }
}

static void give_back(struct gh_buf_pool *pool, struct gh_buf *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        gh_buf_release(pool, &bufs[i]);
}

static void check_consistent(const struct gh_buf_pool *pool)
{
    unsigned listed = 0;
    for (void *b = pool->free_list; b; b = *(void **)b)
        listed++;
    CHECK(listed == pool->n_free, "free list holds %u, n_free says %u", listed, pool->n_free);
    CHECK(pool->low_free <= pool->n_free, "low_free %u above n_free %u", pool->low_free,
          pool->n_free);
}

static void test_steady_use_stays_pooled(void **state)
{
    struct gh_buf_pool pool;
    struct gh_buf bufs[3] = {0};
    (void)state;
    gh_buf_pool_init(&pool, BLOCK, 1024);
    take(&pool, bufs, 3);
    give_back(&pool, bufs, 3);
    for (int interval = 0; interval < 5; interval++) {
        take(&pool, bufs, 3);      /* the same three blocks, every interval */
        give_back(&pool, bufs, 3);
        CHECK(gh_buf_pool_shrink(&pool, 0) == 0, "interval %d freed blocks in use", interval);
        CHECK(pool.n_free == 3, "interval %d: %u free", interval, pool.n_free);
        check_consistent(&pool);
    }
    gh_buf_pool_destroy(&pool);
    END_CHECKS();
}

static void test_burst_given_back_after_an_idle_interval(void **state)
{
    struct gh_buf_pool pool;
    static struct gh_buf bufs[BURST];
    (void)state;
    memset(bufs, 0, sizeof bufs);
    gh_buf_pool_init(&pool, BLOCK, 1024);
    take(&pool, bufs, BURST);
    give_back(&pool, bufs, BURST);
    check_consistent(&pool);
    /* the burst was inside this interval: nothing idle for a whole one */
    CHECK(gh_buf_pool_shrink(&pool, KEEP) == 0, "freed during the burst's interval");
    CHECK(pool.n_free == BURST, "%u free", pool.n_free);
    /* a whole interval nobody took a block: all but KEEP go */
    CHECK(gh_buf_pool_shrink(&pool, KEEP) == BURST - KEEP, "idle interval");
    CHECK(pool.n_free == KEEP, "%u free", pool.n_free);
    CHECK(pool.in_use == 0, "%llu in use", (unsigned long long)pool.in_use);
    CHECK(gh_buf_pool_shrink(&pool, KEEP) == 0, "below the floor");
    check_consistent(&pool);
    gh_buf_pool_destroy(&pool);
    END_CHECKS();
}

static void test_partly_used_interval_frees_the_rest(void **state)
{
    struct gh_buf_pool pool;
    static struct gh_buf bufs[BURST];
    (void)state;
    memset(bufs, 0, sizeof bufs);
    gh_buf_pool_init(&pool, BLOCK, 1024);
    take(&pool, bufs, BURST);
    give_back(&pool, bufs, BURST);
    CHECK(gh_buf_pool_shrink(&pool, KEEP) == 0, "freed during the burst's interval");
    take(&pool, bufs, 10);                 /* ten at once, then back */
    give_back(&pool, bufs, 10);
    check_consistent(&pool);
    CHECK(gh_buf_pool_shrink(&pool, KEEP) == BURST - 10, "10 were used in the interval");
    CHECK(pool.n_free == 10, "%u free", pool.n_free);
    take(&pool, bufs, 2);                  /* two in use across the next shrink */
    CHECK(gh_buf_pool_shrink(&pool, KEEP) == 4, "8 free, two used: 4 down to the floor");
    CHECK(pool.n_free == KEEP, "%u free", pool.n_free);
    CHECK(pool.in_use == 2, "%llu in use", (unsigned long long)pool.in_use);
    give_back(&pool, bufs, 2);
    check_consistent(&pool);
    gh_buf_pool_destroy(&pool);
    END_CHECKS();
}

static void test_max_free_still_caps(void **state)
{
    struct gh_buf_pool pool;
    static struct gh_buf bufs[BURST];
    (void)state;
    memset(bufs, 0, sizeof bufs);
    gh_buf_pool_init(&pool, BLOCK, 16);
    take(&pool, bufs, BURST);
    give_back(&pool, bufs, BURST);
    CHECK(pool.n_free == 16, "%u free with max_free 16", pool.n_free);
    CHECK(pool.in_use == 0, "%llu in use", (unsigned long long)pool.in_use);
    check_consistent(&pool);
    gh_buf_pool_destroy(&pool);
    CHECK(pool.n_free == 0 && pool.free_list == NULL, "destroy left blocks");
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_use_stays_pooled),
        cmocka_unit_test(test_burst_given_back_after_an_idle_interval),
        cmocka_unit_test(test_partly_used_interval_frees_the_rest),
        cmocka_unit_test(test_max_free_still_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
