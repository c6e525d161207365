/* derive.c - an import's new units' search keys, derived on a second thread.
 *
 * Deriving a new unit's keys (its texts normalised, sorted, the buckets and
 * hashes made) is a third of what an import of new units costs the writer,
 * and needs nothing from the transaction: only the unit and its depth. So
 * while the writer creates the units, in order, a thread of this file
 * derives their keys, in the same order, a block at a time, at most AHEAD
 * blocks before the writer; the writer takes each unit's keys from it
 * (od_keys_pipe_next) and writes them as it would have, and derives a
 * block itself when it gets there first (the two cores then share the
 * work). What a block holds lives in that block's arena, reused once the
 * writer is past the block. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "store_int.h"

#define BLOCK_UNITS 256
#define AHEAD 4
#define BLOCK_ARENA_KEEP ((size_t) 4 << 20)

struct block {
	od_arena arena;
	od_search_keys keys[BLOCK_UNITS];
	int rc; /* 0, or what deriving its unit n_ok returned */
	size_t n_ok; /* its units derived, from the first */
};

struct od_keys_pipe {
	const Orgdir__V1__Unit *const *units;
	const uint32_t *depths;
	size_t n, blocks;
	struct block slot[AHEAD]; /* block b in slot[b % AHEAD] */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu: */
	size_t claimed; /* blocks taken by the thread or the writer */
	size_t done[AHEAD]; /* 1 + the block a slot holds, once derived */
	size_t released; /* blocks the writer is done with */
	bool stop;
	/* The writer's own: */
	size_t next; /* its next unit */
};

/* Derives block b into its slot, without the lock: the block is the
 * caller's from its claim until it is marked done. */
static void
derive_block(struct od_keys_pipe *p, size_t b)
{
	struct block *k = &p->slot[b % AHEAD];
	od_arena_reset_keep(&k->arena, BLOCK_ARENA_KEEP);
	k->rc = 0;
	k->n_ok = 0;
	size_t first = b * BLOCK_UNITS;
	for (size_t i = first; i < p->n && i < first + BLOCK_UNITS && k->rc == 0; i++) {
		k->rc =
		    od_search_unit_keys(&k->arena, p->units[i], p->depths[i], &k->keys[i - first]);
		k->n_ok += k->rc == 0;
	}
	pthread_mutex_lock(&p->mu);
	p->done[b % AHEAD] = b + 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *
derive_main(void *arg)
{
	struct od_keys_pipe *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->stop && p->claimed < p->blocks && p->claimed - p->released >= AHEAD) {
			pthread_cond_wait(&p->cv, &p->mu);
		}
		if (p->stop || p->claimed == p->blocks) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		size_t b = p->claimed++;
		pthread_mutex_unlock(&p->mu);
		derive_block(p, b);
	}
}

struct od_keys_pipe *
od_keys_pipe_start(
    const Orgdir__V1__Unit *const *units, const uint32_t *depths, size_t n, size_t unit_cap)
{
	struct od_keys_pipe *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	p->units = units;
	p->depths = depths;
	p->n = n;
	p->blocks = (n + BLOCK_UNITS - 1) / BLOCK_UNITS;
	/* A unit may take as much as it would in the writer's own upkeep. */
	size_t cap = (unit_cap != 0 ? unit_cap : OD_SEARCH_UNIT_SCRATCH_MAX) * BLOCK_UNITS;
	for (size_t i = 0; i < AHEAD; i++) {
		od_arena_init(&p->slot[i].arena, cap);
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, derive_main, p) != 0) {
		p->stop = true; /* nothing to join */
		od_keys_pipe_free(p);
		return NULL;
	}
	return p;
}

int
od_keys_pipe_next(struct od_keys_pipe *p, const od_search_keys **out)
{
	size_t b = p->next / BLOCK_UNITS, i = p->next % BLOCK_UNITS;
	if (p->next == p->n) {
		return EINVAL; /* asked for more units than it was given */
	}
	pthread_mutex_lock(&p->mu);
	if (i == 0 && b > 0) {
		/* Past block b - 1: its slot is the thread's again. */
		p->released = b;
		pthread_cond_broadcast(&p->cv);
	}
	while (p->done[b % AHEAD] != b + 1) {
		if (p->claimed == b) {
			/* The thread is behind: the writer derives this block itself
			 * rather than wait for it. */
			p->claimed++;
			pthread_mutex_unlock(&p->mu);
			derive_block(p, b);
			pthread_mutex_lock(&p->mu);
		} else {
			pthread_cond_wait(&p->cv, &p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	struct block *k = &p->slot[b % AHEAD];
	if (i >= k->n_ok) {
		return k->rc;
	}
	p->next++;
	*out = &k->keys[i];
	return 0;
}

void
od_keys_pipe_free(struct od_keys_pipe *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	bool started = !p->stop;
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (started) {
		pthread_join(p->thread, NULL);
	}
	for (size_t i = 0; i < AHEAD; i++) {
		od_arena_destroy(&p->slot[i].arena);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
