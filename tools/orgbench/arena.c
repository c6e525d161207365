/* arena.c - the arenas replies are decoded into (od_arena, as in
 * liborgdir), keeping their memory so that decoding the same kind of reply
 * again allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

/* No cap beyond memory: a reply is bounded by the socket's receive limit. */
#define ARENA_CAP ((size_t) 1 << 40)

void
ob_arena_init(ob_arena *a, size_t keep_max)
{
	od_arena_init(&a->a, ARENA_CAP);
	a->keep_max = keep_max;
}

void
ob_arena_reset(ob_arena *a)
{
	od_arena_reset_keep(&a->a, a->keep_max);
}

void
ob_arena_destroy(ob_arena *a)
{
	od_arena_destroy(&a->a);
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
