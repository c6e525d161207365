/* defer.c - puts held back and written in key order.
 *
 * An import creates its units one by one through units.c, and each new unit
 * adds entries to indexes keyed far apart (its parent's children, its
 * change-log entry by resource, a few dozen search words). Put at once,
 * each lands on a random page of a large transaction; held back here and
 * written sorted, neighbouring entries share pages, and entries beyond the
 * end of a database are appended (MDB_APPEND). Only databases nothing
 * reads back during the import are held back (import.c chooses them). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define DBS_MAX 8
/* Written in key order per chunk: 4M entries (an import of ~150,000 units
 * with their search words) take ~100 MB here. */
#define CHUNK_ENTRIES ((size_t) 1 << 22)
#define DATA_MAX ((size_t) 1 << 30)
#define PREFETCH 16 /* entries ahead */

struct dput {
	uint64_t prefix; /* first 8 key bytes, big-endian, zero-padded */
	uint64_t prefix2; /* the next 8: most keys differ in their first 16 bytes,
	                   * compared here without reading data at random */
	uint32_t off; /* key then value, in data */
	uint16_t kl, vl;
	uint32_t seq; /* the order of the puts: a later put of a key wins */
	uint8_t db;
	bool dup;
};

struct od_deferred {
	MDB_dbi dbi[DBS_MAX];
	bool dup[DBS_MAX];
	size_t n_dbi;
	struct dput *e, *tmp;
	size_t n, cap;
	uint32_t seq;
	uint8_t *data;
	size_t data_len, data_cap;
};

struct od_deferred *
od_deferred_new(void)
{
	return calloc(1, sizeof(struct od_deferred));
}

void
od_deferred_free(struct od_deferred *d)
{
	if (d != NULL) {
		free(d->e);
		free(d->tmp);
		free(d->data);
		free(d);
	}
}

bool
od_deferred_add_db(struct od_deferred *d, MDB_dbi dbi, bool dupsort)
{
	if (d->n_dbi == DBS_MAX) {
		return false;
	}
	d->dbi[d->n_dbi] = dbi;
	d->dup[d->n_dbi++] = dupsort;
	return true;
}

static int
memn(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c != 0 ? c : (an < bn ? -1 : an > bn);
}

/* LMDB's default order (memcmp, then length) on keys, then on values for
 * DUPSORT databases; otherwise the later put last. */
static int
dput_cmp(const uint8_t *data, const struct dput *x, const struct dput *y)
{
	if (x->db != y->db) {
		return x->db < y->db ? -1 : 1;
	}
	if (x->prefix != y->prefix) {
		return x->prefix < y->prefix ? -1 : 1;
	}
	if (x->prefix2 != y->prefix2) {
		return x->prefix2 < y->prefix2 ? -1 : 1;
	}
	int c = memn(data + x->off, x->kl, data + y->off, y->kl);
	if (c == 0 && x->dup) {
		c = memn(data + x->off + x->kl, x->vl, data + y->off + y->kl, y->vl);
	}
	return c != 0 ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Insertion sort of a run that shares (db, prefix): short in practice. */
static void
sort_run(const uint8_t *data, struct dput *e, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct dput x = e[i];
		size_t j = i;
		while (j > 0 && dput_cmp(data, &x, &e[j - 1]) < 0) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = x;
	}
}

/* Natural merge sort of a long run, through tmp (as long as the run): the
 * puts of one word arrive mostly in order already (units are created by
 * depth, then id), so the run is a few ascending runs, merged pairwise. */
static void
sort_long_run(const uint8_t *data, struct dput *e, struct dput *tmp, size_t n)
{
	struct dput *from = e, *to = tmp;
	for (;;) {
		size_t runs = 0;
		for (size_t lo = 0; lo < n;) {
			size_t mid = lo + 1;
			while (mid < n && dput_cmp(data, &from[mid - 1], &from[mid]) <= 0) {
				mid++;
			}
			size_t hi = mid < n ? mid + 1 : n;
			while (hi < n && dput_cmp(data, &from[hi - 1], &from[hi]) <= 0) {
				hi++;
			}
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi) {
				to[k++] =
				    dput_cmp(data, &from[j], &from[i]) < 0 ? from[j++] : from[i++];
			}
			while (i < mid) {
				to[k++] = from[i++];
			}
			while (j < hi) {
				to[k++] = from[j++];
			}
			runs++;
			lo = hi;
		}
		struct dput *t = from;
		from = to;
		to = t;
		if (runs <= 1) {
			break;
		}
	}
	if (from != e) {
		memcpy(e, from, n * sizeof(*e));
	}
}

/* Sorts n entries by (db, prefix) with an LSD radix sort on 16-bit digits
 * (stable: the puts' order is kept among equals; a digit all entries share
 * is skipped), then each run of equal (db, prefix) by whole key. a holds
 * them, b is as long; count has 65,536 places. Returns a or b, whichever
 * holds the result. */
static struct dput *
sort_span(const uint8_t *data, struct dput *a, struct dput *b, size_t n, size_t *count)
{
	for (int pass = 0; pass < 5; pass++) {
		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < n; i++) {
			count[pass < 4 ? (uint16_t) (a[i].prefix >> (16 * pass)) : a[i].db]++;
		}
		size_t first = pass < 4 ? (uint16_t) (a[0].prefix >> (16 * pass)) : a[0].db;
		if (count[first] == n) {
			continue; /* one value: nothing moves */
		}
		size_t sum = 0;
		for (size_t k = 0; k < 65536; k++) {
			size_t c = count[k];
			count[k] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			b[count[pass < 4 ? (uint16_t) (a[i].prefix >> (16 * pass)) : a[i].db]++] =
			    a[i];
		}
		struct dput *t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && a[j].prefix == a[i].prefix && a[j].db == a[i].db) {
			j++;
		}
		if (j - i > 32) {
			sort_long_run(data, a + i, b + i, j - i);
		} else if (j - i > 1) {
			sort_run(data, a + i, j - i);
		}
		i = j;
	}
	return a;
}

/*
 * The sort, overlapped with the puts. One counting pass groups the entries
 * by (db, first two key bytes), which is also their final order between
 * groups; the groups are cut into about PARTS spans, and a thread of the
 * sorter's own sorts span after span in place while the writer puts the
 * entries sorted so far (entry_at waits at one not sorted yet). Sorted,
 * the entries' bytes lie all over `data`, a cache miss each for the
 * writer; so the thread also copies them, in order, into chunks of at
 * most CHUNK_BYTES, in a ring of SLOTS buffers, each reused once the
 * writer is past its chunk. Sorting and copying take less than the puts,
 * so past the first span the writer does not wait. Below SORT_SPLIT_MIN
 * entries the writer sorts everything first and reads the bytes where
 * they are.
 */
#define SORT_SPLIT_MIN ((size_t) 1 << 18)
#define GROUPS ((size_t) DBS_MAX << 16)
#define PARTS 64
#define SLOTS 4
#define CHUNK_BYTES ((size_t) 4 << 20) /* > any entry (511 + 65,535 bytes) */

struct sorter {
	const uint8_t *data;
	struct dput *e, *tmp; /* the entries, grouped, sorted span by span in e */
	size_t n;
	size_t *bounds; /* span k is [bounds[k], bounds[k + 1]) */
	size_t n_spans;
	size_t *count; /* 65,536 places for sort_span */
	uint8_t *slot[SLOTS]; /* chunk c's bytes in slot[c % SLOTS]; none: in data */
	size_t *chunk_end; /* under mu: chunk c is e[chunk_end[c - 1], chunk_end[c]) */
	pthread_t thread;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t db_at[DBS_MAX + 1]; /* database k's entries: e[db_at[k], db_at[k + 1]) */
	size_t sorted; /* under mu: e[0, sorted) is sorted (and copied) */
	size_t released; /* under mu: chunks the writer is past */
	bool stop; /* under mu: the writer wants no more */
	/* The writer's own: */
	size_t ready; /* e[0, ready) is sorted: its copy of `sorted` */
	size_t chunk; /* the chunk of the entry it reads */
};

static size_t
group_of(const struct dput *x)
{
	return (size_t) x->db << 16 | (size_t) (x->prefix >> 48);
}

/* Sorts span k of s in place, in s->e. */
static void
sort_one(struct sorter *s, size_t k)
{
	size_t lo = s->bounds[k], n = s->bounds[k + 1] - lo;
	struct dput *out = sort_span(s->data, s->e + lo, s->tmp + lo, n, s->count);
	if (out != s->e + lo) {
		memcpy(s->e + lo, out, n * sizeof(*out));
	}
}

/* Publishes chunk c as ending before entry `end`; under mu. */
static void
chunk_close(struct sorter *s, size_t c, size_t end)
{
	s->chunk_end[c] = end;
	s->sorted = end;
	pthread_cond_broadcast(&s->cv);
}

/* Waits (under mu) until chunk c may be written: the writer is past chunk
 * c - SLOTS. False when asked to stop. */
static bool
slot_wait(struct sorter *s, size_t c)
{
	while (!s->stop && c >= SLOTS && s->released < c - SLOTS + 1) {
		pthread_cond_wait(&s->cv, &s->mu);
	}
	return !s->stop;
}

static void *
sorter_main(void *arg)
{
	struct sorter *s = arg;
	size_t c = 0, at = 0;
	pthread_mutex_lock(&s->mu);
	bool go = slot_wait(s, c);
	pthread_mutex_unlock(&s->mu);
	for (size_t k = 0; go && k < s->n_spans; k++) {
		sort_one(s, k);
		for (size_t i = s->bounds[k]; go && i < s->bounds[k + 1]; i++) {
			size_t len = (size_t) s->e[i].kl + s->e[i].vl;
			if (at + len > CHUNK_BYTES) {
				pthread_mutex_lock(&s->mu);
				chunk_close(s, c++, i);
				go = slot_wait(s, c);
				pthread_mutex_unlock(&s->mu);
				at = 0;
			}
			uint8_t *to = s->slot[c % SLOTS];
			memcpy(to + at, s->data + s->e[i].off, len);
			s->e[i].off = (uint32_t) at;
			at += len;
		}
		/* What is copied of the span is the writer's at once. */
		pthread_mutex_lock(&s->mu);
		if (go && k + 1 < s->n_spans && at > 0) {
			chunk_close(s, c++, s->bounds[k + 1]);
			go = slot_wait(s, c);
			at = 0;
		} else if (go && k + 1 == s->n_spans) {
			chunk_close(s, c, s->n);
		}
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/*
 * Entry i of s, sorted, and its bytes (key then value) in *bytes. Entries
 * are read in order, from 0: this waits until i is sorted, and tells the
 * thread when the writer is past a chunk (its slot is then reused: bytes
 * read from it before are valid no more).
 */
static const struct dput *
entry_at(struct sorter *s, size_t i, const uint8_t **bytes)
{
	const struct dput *x = &s->e[i];
	if (s->slot[0] == NULL) {
		*bytes = s->data + x->off; /* all sorted already */
		return x;
	}
	if (i >= s->ready || i >= s->chunk_end[s->chunk]) {
		pthread_mutex_lock(&s->mu);
		while (s->sorted <= i) {
			pthread_cond_wait(&s->cv, &s->mu);
		}
		s->ready = s->sorted;
		while (i >= s->chunk_end[s->chunk]) {
			s->released = ++s->chunk;
			pthread_cond_broadcast(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
	}
	*bytes = s->slot[s->chunk % SLOTS] + x->off;
	return x;
}

/* Groups d's entries (into d->e, d->tmp as scratch) and starts sorting them
 * into s; false when out of memory (nothing started). */
static bool
sorter_start(struct od_deferred *d, struct sorter *s)
{
	*s = (struct sorter){.data = d->data, .n = d->n};
	size_t *at = calloc(GROUPS, sizeof(*at));
	s->bounds = malloc((PARTS + 2) * sizeof(*s->bounds)); /* spans <= PARTS + 1 */
	s->count = malloc(65536 * sizeof(*s->count));
	if (at == NULL || s->bounds == NULL || s->count == NULL) {
		free(at);
		free(s->bounds);
		free(s->count);
		return false;
	}
	for (size_t i = 0; i < d->n; i++) {
		at[group_of(&d->e[i])]++;
	}
	/* Spans of whole groups, about n / PARTS entries each. */
	size_t want = d->n / PARTS + 1, sum = 0;
	s->bounds[0] = 0;
	s->db_at[DBS_MAX] = d->n;
	for (size_t g = 0; g < GROUPS; g++) {
		size_t c = at[g];
		if ((g & 0xFFFF) == 0) {
			s->db_at[g >> 16] = sum;
		}
		at[g] = sum;
		sum += c;
		size_t from = s->bounds[s->n_spans];
		if (sum - from >= want || (sum == d->n && sum > from)) {
			s->bounds[++s->n_spans] = sum;
		}
	}
	for (size_t i = 0; i < d->n; i++) {
		d->tmp[at[group_of(&d->e[i])]++] = d->e[i];
	}
	free(at);
	struct dput *t = d->e;
	d->e = d->tmp;
	d->tmp = t;
	s->e = d->e;
	s->tmp = d->tmp;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	/* A chunk closes at each span's end, and when full: then holding more
	 * than CHUNK_BYTES / 2 (an entry is smaller than that). */
	bool slots = d->n >= SORT_SPLIT_MIN &&
	    (s->chunk_end = malloc(
	         (2 * d->data_len / CHUNK_BYTES + s->n_spans + 2) * sizeof(*s->chunk_end))) != NULL;
	for (size_t k = 0; slots && k < SLOTS; k++) {
		slots = (s->slot[k] = malloc(CHUNK_BYTES)) != NULL;
	}
	s->threaded = slots && pthread_create(&s->thread, NULL, sorter_main, s) == 0;
	if (!s->threaded) {
		for (size_t k = 0; k < SLOTS; k++) {
			free(s->slot[k]);
			s->slot[k] = NULL;
		}
		for (size_t k = 0; k < s->n_spans; k++) {
			sort_one(s, k);
		}
		s->sorted = d->n;
	}
	return true;
}

/* Stops s's thread and frees s. */
static void
sorter_end(struct sorter *s)
{
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	for (size_t k = 0; k < SLOTS; k++) {
		free(s->slot[k]);
	}
	free(s->chunk_end);
	free(s->bounds);
	free(s->count);
}

/* Existing entries at or past the first held-back key, copied out to be
 * written again among the new ones (struct tail). */
struct old {
	uint32_t off; /* key then value, in tail.data */
	uint32_t kl, vl;
};

struct tail {
	struct old *e;
	size_t n, cap;
	uint8_t *data;
	size_t len, data_cap;
};

static void
tail_free(struct tail *x)
{
	free(x->e);
	free(x->data);
}

static bool
tail_add(struct tail *x, const MDB_val *k, const MDB_val *v)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;
		struct old *ne = realloc(x->e, cap * sizeof(*ne));
		if (ne == NULL) {
			return false;
		}
		x->e = ne;
		x->cap = cap;
	}
	size_t need = k->mv_size + v->mv_size;
	if (need > x->data_cap - x->len) {
		size_t cap = x->data_cap ? x->data_cap * 2 : (size_t) 1 << 16;
		while (cap - x->len < need) {
			cap *= 2;
		}
		uint8_t *nd = realloc(x->data, cap);
		if (nd == NULL) {
			return false;
		}
		x->data = nd;
		x->data_cap = cap;
	}
	memcpy(x->data + x->len, k->mv_data, k->mv_size);
	memcpy(x->data + x->len + k->mv_size, v->mv_data, v->mv_size);
	x->e[x->n++] =
	    (struct old){(uint32_t) x->len, (uint32_t) k->mv_size, (uint32_t) v->mv_size};
	x->len += need;
	return true;
}

/* MDB_APPEND only helps past a database's last key, and a first import
 * into a store finds the search index holding the countries' keys all over
 * its range: each new key would then be put by a search from the root,
 * into pages split in half. When the entries at or past the first new key
 * are few against the new ones (TAIL_SHARE, TAIL_BYTES_MAX), they are
 * copied into *x and deleted, so that everything from there on is
 * appended, old and new merged in key order. Returns 0 (x->n == 0: put as
 * before) or an LMDB status. */
#define TAIL_SHARE 4 /* at most one existing entry per 4 new ones */
#define TAIL_BYTES_MAX ((size_t) 64 << 20)

static int
take_tail(od_txn *t, MDB_cursor *c, MDB_dbi dbi, bool dup, const uint8_t *k0, size_t k0l,
    size_t n_new, struct tail *x)
{
	MDB_val k = {k0l, (void *) k0}, v;
	MDB_val fk, fv;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		return 0; /* nothing at or past it: every put appends already */
	}
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (x->n >= n_new / TAIL_SHARE || x->len > TAIL_BYTES_MAX || !tail_add(x, &k, &v)) {
			x->n = 0; /* too many (or no memory): put among them */
			return 0;
		}
	}
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	/* From the first entry on: the whole database goes, cheaper than one
	 * by one. */
	rc = mdb_cursor_get(c, &fk, &fv, MDB_FIRST);
	if (rc == 0 && memn(fk.mv_data, fk.mv_size, x->data, x->e[0].kl) == 0 &&
	    (!dup || memn(fv.mv_data, fv.mv_size, x->data + x->e[0].kl, x->e[0].vl) == 0)) {
		return od_mdb_drop(t, dbi);
	}
	for (size_t i = 0; i < x->n && rc == 0; i++) {
		MDB_val dk = {x->e[i].kl, x->data + x->e[i].off};
		MDB_val dv = {x->e[i].vl, x->data + x->e[i].off + x->e[i].kl};
		rc = od_mdb_del(t, dbi, &dk, dup ? &dv : NULL);
	}
	return rc;
}

/* Writes one database's entries, s's [base, base + n) (read through
 * entry_at), appending past its last key. */
static int
flush_db(od_txn *t, struct od_deferred *d, size_t db, struct sorter *s, size_t base, size_t n)
{
	MDB_cursor *c;
	MDB_val lk, lv;
	uint8_t last_k[512], last_v[512];
	size_t last_kl = 0, last_vl = 0;
	bool empty = true;
	struct tail x = {0};
	int rc = mdb_cursor_open(t->txn, d->dbi[db], &c);
	if (rc != 0) {
		return rc;
	}
	if (n > 0) {
		const uint8_t *b0;
		const struct dput *e0 = entry_at(s, base, &b0);
		rc = take_tail(t, c, d->dbi[db], d->dup[db], b0, e0->kl, n, &x);
	}
	/* Keys (and, in a DUPSORT database, values) are at most 511 bytes. */
	if (rc == 0 && mdb_cursor_get(c, &lk, &lv, MDB_LAST) == 0) {
		empty = false;
		if (lk.mv_size <= sizeof(last_k) && (!d->dup[db] || lv.mv_size <= sizeof(last_v))) {
			memcpy(last_k, lk.mv_data, lk.mv_size);
			last_kl = lk.mv_size;
			if (d->dup[db]) {
				memcpy(last_v, lv.mv_data, lv.mv_size);
				last_vl = lv.mv_size;
			}
		} else {
			last_kl = sizeof(last_k) + 1; /* cannot compare: never append */
		}
	}
	/* The new entries and the old ones taken out, merged in key order (an
	 * old entry first among equals, so that a new put of its key wins). */
	for (size_t i = 0, j = 0; (i < n || j < x.n) && rc == 0;) {
		const uint8_t *ek, *ev, *nk = NULL;
		const struct dput *ne = i < n ? entry_at(s, base + i, &nk) : NULL;
		size_t kl, vl;
		bool take_old = j < x.n;
		if (take_old && ne != NULL) {
			const uint8_t *ok = x.data + x.e[j].off;
			int kc = memn(ok, x.e[j].kl, nk, ne->kl);
			if (kc == 0 && d->dup[db]) {
				kc = memn(ok + x.e[j].kl, x.e[j].vl, nk + ne->kl, ne->vl);
			}
			take_old = kc <= 0;
		}
		if (take_old) {
			ek = x.data + x.e[j].off;
			kl = x.e[j].kl;
			ev = ek + kl;
			vl = x.e[j++].vl;
		} else {
			ek = nk;
			kl = ne->kl;
			ev = ek + kl;
			vl = ne->vl;
			i++;
			if (s->slot[0] == NULL && i + PREFETCH < n) {
				/* Sorted in place (all of them: no slots), the entries
				 * are read from all over data: a cache (and TLB) miss
				 * each, unless asked for early. */
				const struct dput *pe = &s->e[base + i + PREFETCH];
				const uint8_t *p = s->data + pe->off;
				__builtin_prefetch(p);
				__builtin_prefetch(p + pe->kl + pe->vl - 1);
			}
		}
		MDB_val k = {kl, (void *) ek};
		MDB_val v = {vl, (void *) ev};
		unsigned flags = 0;
		if (last_kl <= sizeof(last_k)) {
			int kc = empty ? 1 : memn(ek, kl, last_k, last_kl);
			if (kc > 0) {
				flags = MDB_APPEND;
			} else if (kc == 0 && d->dup[db] && memn(ev, vl, last_v, last_vl) > 0) {
				flags = MDB_APPENDDUP;
			}
		}
		rc = od_mdb_cursor_put(t, c, &k, &v, flags);
		if (rc == MDB_KEYEXIST && flags != 0) {
			rc = od_mdb_cursor_put(t, c, &k, &v, 0); /* not past the end after all */
		} else if (rc == 0 && flags != 0) {
			empty = false;
			memcpy(last_k, ek, kl);
			last_kl = kl;
			if (d->dup[db]) {
				memcpy(last_v, ev, vl);
				last_vl = vl;
			}
		}
	}
	mdb_cursor_close(c);
	tail_free(&x);
	if (rc == MDB_MAP_FULL) {
		od_mdb_status(t, rc, "deferred put", NULL);
	}
	return rc;
}

int
od_deferred_flush(od_txn *t)
{
	struct od_deferred *d = t->deferred;
	int rc = 0;
	if (d == NULL || d->n == 0) {
		return 0;
	}
	struct sorter s;
	if (!sorter_start(d, &s)) {
		return ENOMEM;
	}
	/* Grouped, each database's entries are together already (where in e
	 * is known before they are sorted: s.db_at). */
	for (size_t db = 0; db < d->n_dbi && rc == 0; db++) {
		size_t n = s.db_at[db + 1] - s.db_at[db];
		if (n > 0) {
			rc = flush_db(t, d, db, &s, s.db_at[db], n);
		}
	}
	sorter_end(&s);
	d->n = 0;
	d->data_len = 0;
	return rc;
}

bool
od_deferred_put(od_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl, int *rc)
{
	struct od_deferred *d = t->deferred;
	size_t db = 0;
	while (db < d->n_dbi && d->dbi[db] != dbi) {
		db++;
	}
	if (db == d->n_dbi || kl == 0 || kl > 511 || vl > 0xFFFF || (d->dup[db] && vl > 511)) {
		return false;
	}
	if (d->n == CHUNK_ENTRIES) {
		if ((*rc = od_deferred_flush(t)) != 0) {
			return true;
		}
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4096;
		struct dput *ne = realloc(d->e, cap * sizeof(*ne));
		if (ne != NULL) {
			d->e = ne;
		}
		struct dput *nt = realloc(d->tmp, cap * sizeof(*nt));
		if (nt != NULL) {
			d->tmp = nt;
		}
		if (ne == NULL || nt == NULL) {
			return false; /* put it now instead */
		}
		d->cap = cap;
	}
	if (kl + vl > d->data_cap - d->data_len) {
		size_t cap = d->data_cap ? d->data_cap * 2 : (size_t) 1 << 20;
		while (cap - d->data_len < kl + vl) {
			cap *= 2;
		}
		uint8_t *nd = cap <= DATA_MAX ? realloc(d->data, cap) : NULL;
		if (nd == NULL) {
			return false;
		}
		d->data = nd;
		d->data_cap = cap;
	}
	uint8_t *p = d->data + d->data_len;
	memcpy(p, k, kl);
	if (vl > 0) {
		memcpy(p + kl, v, vl);
	}
	struct dput *e = &d->e[d->n++];
	uint64_t prefix = 0, prefix2 = 0;
	for (size_t i = 0; i < 8; i++) {
		prefix = prefix << 8 | (i < kl ? p[i] : 0);
		prefix2 = prefix2 << 8 | (i + 8 < kl ? p[i + 8] : 0);
	}
	*e = (struct dput){.prefix = prefix,
	    .prefix2 = prefix2,
	    .off = (uint32_t) d->data_len,
	    .kl = (uint16_t) kl,
	    .vl = (uint16_t) vl,
	    .seq = d->seq++,
	    .db = (uint8_t) db,
	    .dup = d->dup[db]};
	d->data_len += kl + vl;
	*rc = 0;
	return true;
}
