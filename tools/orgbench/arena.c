/* arena.c - bump allocators for decoding replies, keeping their memory so
 * that decoding the same kind of reply again allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

#define ALIGN 16u
#define EXTRA_MIN (64u << 10)

struct ob_arena_extra {
	struct ob_arena_extra *next;
	size_t size;
	size_t used;
	_Alignas(16) uint8_t data[];
};

static void *
arena_alloc(void *ad, size_t n)
{
	ob_arena *a = ad;
	size_t need = (n + ALIGN - 1) & ~(size_t) (ALIGN - 1);
	if (need < n) {
		return NULL;
	}
	if (a->block != NULL && a->size - a->used >= need) {
		void *p = a->block + a->used;
		a->used += need;
		return p;
	}
	struct ob_arena_extra *x = a->extra;
	if (x == NULL || x->size - x->used < need) {
		size_t size = need > EXTRA_MIN ? need : EXTRA_MIN;
		if (x != NULL && x->size * 2 > size) {
			size = x->size * 2;
		}
		x = malloc(sizeof(*x) + size);
		if (x == NULL) {
			return NULL;
		}
		x->size = size;
		x->used = 0;
		x->next = a->extra;
		a->extra = x;
	}
	void *p = x->data + x->used;
	x->used += need;
	a->extra_bytes += need;
	return p;
}

static void
arena_free(void *ad, void *p)
{
	(void) ad;
	(void) p; /* everything goes at reset */
}

void
ob_arena_init(ob_arena *a, size_t keep_max)
{
	memset(a, 0, sizeof(*a));
	a->keep_max = keep_max;
	a->pb.alloc = arena_alloc;
	a->pb.free = arena_free;
	a->pb.allocator_data = a;
}

void
ob_arena_reset(ob_arena *a)
{
	size_t want = a->used + a->extra_bytes;
	bool grew = a->extra != NULL;
	while (a->extra != NULL) {
		struct ob_arena_extra *next = a->extra->next;
		free(a->extra);
		a->extra = next;
	}
	a->extra_bytes = 0;
	a->used = 0;
	if (grew && want <= a->keep_max) {
		/* One block as large as the last use, plus a quarter. */
		size_t size = want + want / 4;
		uint8_t *b = malloc(size);
		if (b != NULL) {
			free(a->block);
			a->block = b;
			a->size = size;
		}
	}
}

void
ob_arena_destroy(ob_arena *a)
{
	ob_arena_reset(a);
	free(a->block);
	a->block = NULL;
	a->size = 0;
}

int
ob_arena_pool_init(ob_arena_pool *p, size_t cap)
{
	memset(p, 0, sizeof(*p));
	p->free = calloc(cap ? cap : 1, sizeof(*p->free));
	if (p->free == NULL) {
		return -1;
	}
	p->cap = cap;
	pthread_mutex_init(&p->mu, NULL);
	return 0;
}

ob_arena *
ob_arena_pool_take(ob_arena_pool *p)
{
	ob_arena *a = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n_free > 0) {
		a = p->free[--p->n_free];
	} else if (p->created < p->cap) {
		a = malloc(sizeof(*a));
		if (a != NULL) {
			ob_arena_init(a, (size_t) 1 << 30);
			p->created++;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return a;
}

void
ob_arena_pool_give(ob_arena_pool *p, ob_arena *a)
{
	ob_arena_reset(a);
	pthread_mutex_lock(&p->mu);
	p->free[p->n_free++] = a; /* never more than created <= cap */
	pthread_mutex_unlock(&p->mu);
}

void
ob_arena_pool_destroy(ob_arena_pool *p)
{
	for (size_t i = 0; i < p->n_free; i++) {
		ob_arena_destroy(p->free[i]);
		free(p->free[i]);
	}
	free(p->free);
	pthread_mutex_destroy(&p->mu);
	memset(p, 0, sizeof(*p));
}
