/* arena.c - bump allocator used to decode requests and replies. */
#include <stdlib.h>
#include <string.h>

#include "od.h"

#define ARENA_CHUNK_MIN (16u * 1024u)
#define ARENA_ALIGN 16u

struct od_arena_chunk {
	struct od_arena_chunk *next;
	size_t size; /* usable bytes in data */
	size_t used;
	_Alignas(16) unsigned char data[];
};

static void *
pb_alloc(void *ad, size_t n)
{
	return od_arena_alloc(ad, n);
}

static void
pb_free(void *ad, void *p)
{
	/* Arena memory goes all at once on reset. */
	(void) ad;
	(void) p;
}

void
od_arena_init(od_arena *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->cap = cap;
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
}

void *
od_arena_alloc(od_arena *a, size_t n)
{
	struct od_arena_chunk *c = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);

	if (n == 0) {
		need = ARENA_ALIGN;
	}
	if (need < n || a->used_total + need > a->cap || a->used_total + need < need) {
		a->exhausted = true;
		return NULL;
	}
	if (c == NULL || c->size - c->used < need) {
		/* Reuse the kept first chunk after a reset before allocating. */
		size_t size = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
		if (c != NULL && c->size >= ARENA_CHUNK_MIN) {
			size = c->size * 2 > size ? c->size * 2 : size;
		}
		struct od_arena_chunk *nc = malloc(sizeof(*nc) + size);
		if (nc == NULL) {
			a->exhausted = true;
			return NULL;
		}
		nc->size = size;
		nc->used = 0;
		nc->next = a->head;
		a->head = nc;
		if (a->first == NULL) {
			a->first = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += need;
	a->used_total += need;
	return p;
}

char *
od_arena_strndup(od_arena *a, const char *s, size_t n)
{
	char *p = od_arena_alloc(a, n + 1);
	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void
od_arena_reset(od_arena *a)
{
	struct od_arena_chunk *c = a->head;
	while (c != NULL && c != a->first) {
		struct od_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = a->first;
	if (a->first != NULL) {
		a->first->used = 0;
		a->first->next = NULL;
	}
	a->used_total = 0;
	a->exhausted = false;
}

void
od_arena_reset_keep(od_arena *a, size_t max_keep)
{
	struct od_arena_chunk *keep = NULL;
	for (struct od_arena_chunk *c = a->head; c != NULL; c = c->next) {
		if (c->size <= max_keep && (keep == NULL || c->size > keep->size)) {
			keep = c;
		}
	}
	for (struct od_arena_chunk *c = a->head; c != NULL;) {
		struct od_arena_chunk *next = c->next;
		if (c != keep) {
			free(c);
		}
		c = next;
	}
	a->head = a->first = keep;
	if (keep != NULL) {
		keep->used = 0;
		keep->next = NULL;
	}
	a->used_total = 0;
	a->exhausted = false;
}

void
od_arena_destroy(od_arena *a)
{
	struct od_arena_chunk *c = a->head;
	while (c != NULL) {
		struct od_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = a->first = NULL;
	a->used_total = 0;
}
