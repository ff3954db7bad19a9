/* buffer.c - pooled fixed-size byte buffers; see buffer.h. */
#include "gatehouse/buffer.h"

#include <stdlib.h>
#include <string.h>

void gh_buf_pool_init(struct gh_buf_pool *pool, uint32_t block_size, uint32_t max_free)
{
    memset(pool, 0, sizeof *pool);
    pool->block_size = block_size;
    pool->max_free = max_free;
}

void gh_buf_pool_destroy(struct gh_buf_pool *pool)
{
    while (pool->free_list) {
        void *next = *(void **)pool->free_list;
        free(pool->free_list);
        pool->free_list = next;
    }
    pool->n_free = 0;
    pool->low_free = 0;
}

uint32_t gh_buf_pool_shrink(struct gh_buf_pool *pool, uint32_t keep)
{
    uint32_t idle = pool->low_free, freed = 0;
    while (freed < idle && pool->n_free > keep) {
        void *block = pool->free_list;
        pool->free_list = *(void **)block;
        pool->n_free--;
        free(block);
        freed++;
    }
    pool->low_free = pool->n_free;
    return freed;
}

int gh_buf_acquire(struct gh_buf_pool *pool, struct gh_buf *buf)
{
    if (buf->data)
        return 0;
    if (pool->free_list) {
        buf->data = pool->free_list;
        pool->free_list = *(void **)pool->free_list;
        pool->n_free--;
        if (pool->n_free < pool->low_free)
            pool->low_free = pool->n_free;
    } else {
        buf->data = malloc(pool->block_size);
        if (!buf->data)
            return -1;
    }
    buf->head = buf->tail = 0;
    pool->in_use++;
    return 0;
}

void gh_buf_release_if_empty(struct gh_buf_pool *pool, struct gh_buf *buf)
{
    if (!buf->data || buf->head != buf->tail)
        return;
    if (pool->n_free < pool->max_free) {
        *(void **)buf->data = pool->free_list;
        pool->free_list = buf->data;
        pool->n_free++;
    } else {
        free(buf->data);
    }
    buf->data = NULL;
    buf->head = buf->tail = 0;
    pool->in_use--;
}

void gh_buf_release(struct gh_buf_pool *pool, struct gh_buf *buf)
{
    buf->head = buf->tail = 0;
    gh_buf_release_if_empty(pool, buf);
}

uint32_t gh_buf_make_room(struct gh_buf_pool *pool, struct gh_buf *b)
{
    if (b->tail == pool->block_size && b->head > 0) {
        memmove(b->data, b->data + b->head, b->tail - b->head);
        b->tail -= b->head;
        b->head = 0;
    }
    return pool->block_size - b->tail;
}

void gh_buf_consume(struct gh_buf *b, uint32_t n)
{
    b->head += n;
    if (b->head == b->tail)
        b->head = b->tail = 0;
}
