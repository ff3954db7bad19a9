/* buffer.h - byte buffers for the data path, and the pool they come from.
 *
 * Owns: memory for bytes in flight. A connection holds a buffer only while
 * the buffer holds data; an idle connection holds none, so thousands of idle
 * TLS connections cost little. Blocks are recycled through a free list: the
 * steady state allocates nothing. The bound of every buffer is the pool's
 * block_size, fixed per listener by buffer_size.
 *
 * The free list does not keep what a burst left behind: the pool tracks the
 * fewest free blocks it had since the last gh_buf_pool_shrink (its
 * low-water mark). Blocks above that mark were not needed during the whole
 * interval, so the owner's periodic shrink gives them back to the allocator
 * while blocks in steady use stay pooled. */
#ifndef GATEHOUSE_BUFFER_H
#define GATEHOUSE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gh_buf_pool {
    uint32_t block_size;   /* capacity of every buffer from this pool */
    uint32_t max_free;     /* free blocks kept for reuse; the rest are freed */
    uint32_t n_free;
    uint32_t low_free;     /* fewest free blocks since the last shrink: unused since */
    void *free_list;       /* singly linked through the first bytes of each block */
    uint64_t in_use;
};

/* Bytes live in data[head, tail); data is NULL while the buffer is empty
 * and released. */
struct gh_buf {
    uint8_t *data;
    uint32_t head;
    uint32_t tail;
};

void gh_buf_pool_init(struct gh_buf_pool *pool, uint32_t block_size, uint32_t max_free);
void gh_buf_pool_destroy(struct gh_buf_pool *pool);

/* Frees the free blocks that stayed unused since the previous call (the
 * low-water mark of the free list), keeping at least keep free blocks, and
 * starts a new interval. Returns how many blocks were freed. Called from a
 * timer, never on the data path. */
uint32_t gh_buf_pool_shrink(struct gh_buf_pool *pool, uint32_t keep);

/* Ensures buf has a block. Returns -1 when memory is exhausted. */
int gh_buf_acquire(struct gh_buf_pool *pool, struct gh_buf *buf);

/* Gives the block back if the buffer holds nothing. */
void gh_buf_release_if_empty(struct gh_buf_pool *pool, struct gh_buf *buf);

/* Discards whatever buf holds and gives its block back. */
void gh_buf_release(struct gh_buf_pool *pool, struct gh_buf *buf);

static inline uint32_t gh_buf_len(const struct gh_buf *b) { return b->tail - b->head; }
static inline bool gh_buf_empty(const struct gh_buf *b) { return b->tail == b->head; }

/* Room at the tail, after moving data to the front if that makes room. */
uint32_t gh_buf_make_room(struct gh_buf_pool *pool, struct gh_buf *b);

/* Drops n bytes from the head; resets to the front once empty. */
void gh_buf_consume(struct gh_buf *b, uint32_t n);

#endif
