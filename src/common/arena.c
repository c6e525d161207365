/* arena.c - bump allocator used to decode requests and replies. */
#include <stdlib.h>
#include <string.h>

#include "od.h"

#define ARENA_CHUNK_MIN (16u * 1024u)

/* The head chunk's free bytes are the arena's bump..bump + room. */
struct od_arena_chunk {
	struct od_arena_chunk *next;
	size_t size; /* usable bytes in data */
	_Alignas(OD_ARENA_ALIGN) unsigned char data[];
};

void *
od_arena_pb_alloc(void *ad, size_t n)
{
	return od_arena_alloc(ad, n);
}

/* Makes c the chunk allocations come from, from byte `used` on. room
 * stops at the cap too, so od_arena_alloc checks one bound. */
static void
use_chunk(od_arena *a, struct od_arena_chunk *c, size_t used)
{
	a->bump = c != NULL ? c->data + used : NULL;
	a->room = c != NULL ? c->size - used : 0;
	if (a->room > a->cap - a->used_total) {
		a->room = a->cap - a->used_total;
	}
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
	a->pb.alloc = od_arena_pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
}

/* A new head chunk of `size` usable bytes, allocations from its start. */
static bool
push_chunk(od_arena *a, size_t size)
{
	struct od_arena_chunk *nc = malloc(sizeof(*nc) + size);
	if (nc == NULL) {
		a->exhausted = true;
		return false;
	}
	nc->size = size;
	nc->next = a->head;
	a->head = nc;
	if (a->first == NULL) {
		a->first = nc;
	}
	a->bump = nc->data;
	return true;
}

void *
od_arena_alloc_chunk(od_arena *a, size_t n)
{
	struct od_arena_chunk *c = a->head;
	size_t need = (n + OD_ARENA_ALIGN - 1) & ~(size_t) (OD_ARENA_ALIGN - 1);

	if (n == 0) {
		need = OD_ARENA_ALIGN;
	}
	if (need < n || a->used_total + need > a->cap || a->used_total + need < need) {
		a->exhausted = true;
		return NULL;
	}
	if (c == NULL || (size_t) (c->data + c->size - a->bump) < need) {
		/* Reuse the kept first chunk after a reset before allocating. */
		size_t size = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
		if (c != NULL && c->size >= ARENA_CHUNK_MIN) {
			size = c->size * 2 > size ? c->size * 2 : size;
		}
		if (!push_chunk(a, size)) {
			return NULL;
		}
		c = a->head;
	}
	void *p = a->bump;
	a->used_total += need;
	use_chunk(a, c, (size_t) (a->bump - c->data) + need);
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
		a->first->next = NULL;
	}
	a->used_total = 0;
	use_chunk(a, a->first, 0);
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
		keep->next = NULL;
	}
	a->used_total = 0;
	use_chunk(a, keep, 0);
	a->exhausted = false;
}

od_arena_chunk *
od_arena_take_chunk(od_arena *a, size_t min, size_t max)
{
	od_arena_reset_keep(a, max);
	struct od_arena_chunk *c = a->first;
	if (c != NULL && c->size < min) {
		free(c);
		c = NULL;
	}
	a->head = a->first = NULL;
	use_chunk(a, NULL, 0);
	return c;
}

void
od_arena_give_chunk(od_arena *a, od_arena_chunk *c)
{
	c->next = NULL;
	a->head = a->first = c;
	use_chunk(a, c, 0);
}

size_t
od_arena_chunk_size(const od_arena_chunk *c)
{
	return c->size;
}

void
od_arena_chunk_free(od_arena_chunk *c)
{
	free(c);
}

bool
od_arena_reserve(od_arena *a, size_t n)
{
	size_t left = a->cap - a->used_total;
	if (n > left) {
		n = left;
	}
	n = (n + OD_ARENA_ALIGN - 1) & ~(size_t) (OD_ARENA_ALIGN - 1);
	if (a->room >= n || n == 0) {
		return true;
	}
	bool exhausted = a->exhausted;
	if (!push_chunk(a, n)) {
		a->exhausted = exhausted; /* nothing was refused yet */
		return false;
	}
	use_chunk(a, a->head, 0);
	return true;
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
	use_chunk(a, NULL, 0);
}

void
od_arena_move(od_arena *dst, od_arena *src)
{
	*dst = *src;
	dst->pb.allocator_data = dst;
	od_arena_init(src, dst->cap);
}
