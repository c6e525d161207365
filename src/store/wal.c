/*
 * wal.c - the write-ahead log (DATA/orgdird.wal) in front of LMDB.
 *
 * Why: a synced LMDB commit writes each page it dirtied where LMDB's free
 * list puts it, scattered over the data file, and this disk costs a
 * request per scattered page (docs/PERFORMANCE.md, "Writes"). With the
 * log, a write batch is acknowledged once its changes (the puts and
 * deletes it made, by database) are appended to the log in one record
 * and that is synced: one sequential write. LMDB commits without a sync
 * (MDB_NOSYNC), and a checkpoint syncs its file now and then.
 *
 * How it stays safe:
 *  - A checkpoint syncs the data file, reads LMDB's two meta pages (the
 *    snapshot T that is now durable) and keeps a read transaction open on
 *    T (the pin), so that LMDB reuses none of T's pages; then it writes T's
 *    meta pages, its txn id and the last log record it includes into one
 *    of the log's two header slots, synced, and only then lets go of the
 *    pin on the checkpoint before. Records after T start at the front of
 *    the log again.
 *  - After a crash (of orgdird, or of the system: then LMDB's latest meta
 *    page may name pages that never reached the disk), T's meta pages are
 *    written back over the file's first two pages, the environment opens
 *    at T (checked: T's txn id, and the log position LMDB holds, meta key
 *    wal_lsn, written in each logged batch), and every record after T is
 *    applied again in one transaction, before any migration runs. Only
 *    pages that were free at T are written meanwhile. After a clean stop
 *    the last checkpoint is the last commit: nothing to do.
 *  - A record is a header (magic, CRC-32C, lsn, length) and its changes,
 *    padded to 4 KiB so that writing one never rewrites a page of the
 *    record before it. Recovery stops at the first record whose magic,
 *    lsn or CRC is not the next one's: a torn write was never
 *    acknowledged.
 *  - A transaction too large for the log (an import) is committed and
 *    followed by a checkpoint (which syncs it) before it is answered.
 *
 * Only the serving orgdird logs (od_store_opts.exclusive, without no_sync
 * or no_wal; with either, a log left by a crash is applied and removed:
 * od_wal_retire). Everything here runs on the one thread that writes.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

#define WAL_FILE OD_WAL_FILE
#define WAL_SIZE ((uint64_t) 64 << 20)
#define SLOT_SIZE 16384u
#define REC_START (2 * SLOT_SIZE)
#define REC_ALIGN 4096u
#define HEAD_MAGIC 0x4844574fu /* "OWDH" */
#define REC_MAGIC 0x5244574fu /* "OWDR" */
#define WAL_VERSION 1u
/*
 * A checkpoint is due this long after the last one, or once the log holds
 * this much, or once the data file has grown by this many pages (the pin
 * keeps every page freed since the checkpoint from reuse: the file grows
 * by what one interval writes, ~60 MiB at 64 writers here; a shorter one
 * syncs the data file more often).
 */
#define CKPT_MS 250u
#define CKPT_LOG_BYTES ((uint64_t) 16 << 20)
#define CKPT_PAGES 16384u
#define META_WAL_LSN "wal_lsn"

struct wal_head {
	uint32_t magic;
	uint32_t crc; /* of the slot after this field, metas included */
	uint32_t version;
	uint32_t psize;
	uint64_t seq; /* checkpoints made: the valid slot with the larger wins */
	uint64_t lsn; /* the last record the snapshot holds */
	uint64_t txnid; /* LMDB's id of the snapshot's transaction */
	uint64_t data_dev, data_ino; /* the data file the log belongs to */
	uint64_t data_size; /* its size then: LMDB never makes it smaller */
	/* then the two meta pages, 2 * psize bytes */
};

struct wal_rec {
	uint32_t magic;
	uint32_t crc; /* of lsn .. the end of the changes */
	uint64_t lsn;
	uint32_t len; /* bytes of changes after this header */
	uint32_t spare;
};

/* A change: op, database slot, key length, value length, key, value. */
struct wal_op {
	uint8_t op;
	uint8_t db;
	uint16_t klen;
	uint32_t vlen;
};

struct od_wal {
	int fd;
	uint64_t lsn; /* last record logged and committed */
	uint64_t pos; /* where the next record goes */
	uint64_t seq;
	unsigned slot; /* the slot the next checkpoint writes */
	MDB_txn *pin; /* read transaction on the checkpoint's snapshot */
	uint64_t pin_pages; /* me_last_pgno when pinned */
	uint64_t ckpt_ms; /* when it was made (od_mono_ms) */
	uint64_t fail_ms; /* when a failed one was last logged; 0: none since */
	bool need_ckpt; /* writes wait for a checkpoint (after a failed one) */
	bool failed; /* the log could not be written: no more writes */
	/* Recovery, between od_wal_prepare and od_wal_recover. */
	bool have_head, restored, recovered;
	struct wal_head head;
	uint8_t *metas; /* the head's meta pages, then the file's own */
	/* The current write transaction's record: a header, then the changes
	 * (overflow: past OD_WAL_CAPTURE_MAX or out of memory: committed with
	 * a commit and a checkpoint instead). */
	od_buf rec;
	/* An MDB_RESERVE put whose value is written after it: copied from
	 * `ptr` into buf at `off` before the next change or the commit. */
	uint8_t *pend_ptr;
	size_t pend_off, pend_len;
	/* MDB_dbi -> 1 + its place in env.c's table (0: not a database of ours). */
	uint8_t slot_of[64];
	char path[sizeof(((struct od_store *) 0)->path) + 16];
};

/* --- helpers ---------------------------------------------------------------- */

/* All n bytes at off, written (write) or read; false with errno set (EIO
 * for a write that wrote nothing, ENODATA for a read past the end). */
static bool
full_io(int fd, void *p, size_t n, uint64_t off, bool write)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t k = write ? pwrite(fd, b, n, (off_t) off) : pread(fd, b, n, (off_t) off);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			if (k == 0) {
				errno = write ? EIO : ENODATA;
			}
			return false;
		}
		b += k;
		n -= (size_t) k;
		off += (uint64_t) k;
	}
	return true;
}

static bool
full_pwrite(int fd, const void *p, size_t n, uint64_t off)
{
	return full_io(fd, (void *) p, n, off, true);
}

static bool
full_pread(int fd, void *p, size_t n, uint64_t off)
{
	return full_io(fd, p, n, off, false);
}

static orgdir_code
io_status(struct od_store *s, int err, const char *what, orgdir_status *st)
{
	if (od_space_status(err, what, s->path, st)) {
		return ORGDIR_RESOURCE_EXHAUSTED;
	}
	return od_status_set(st, ORGDIR_INTERNAL, "%s: %s", what, strerror(err));
}

/* The data file's first two pages (LMDB's meta pages). */
static bool
read_metas(int fd, uint8_t *to, uint32_t psize)
{
	return full_pread(fd, to, 2 * (size_t) psize, 0);
}

/* Reads slot i; true when it is valid. */
static bool
read_slot(struct od_wal *w, unsigned i, struct wal_head *h, uint8_t *metas)
{
	uint8_t *slot = malloc(SLOT_SIZE);
	if (slot == NULL || !full_pread(w->fd, slot, SLOT_SIZE, (uint64_t) i * SLOT_SIZE)) {
		free(slot);
		return false;
	}
	memcpy(h, slot, sizeof(*h));
	bool ok = h->magic == HEAD_MAGIC && h->version == WAL_VERSION && h->psize >= 512 &&
	    sizeof(*h) + 2 * (size_t) h->psize <= SLOT_SIZE &&
	    od_crc32c(slot + 8, sizeof(*h) - 8 + 2 * (size_t) h->psize) == h->crc;
	if (ok && metas != NULL) {
		memcpy(metas, slot + sizeof(*h), 2 * (size_t) h->psize);
	}
	free(slot);
	return ok;
}

/* --- capture (od_mdb_put and its kin, env.c) ------------------------------------ */

/* Room for `more` bytes of changes; false (and the record given up) past
 * OD_WAL_CAPTURE_MAX. The buffer's cap keeps room for the padding. */
static bool
reserve(struct od_wal *w, size_t more)
{
	if (!w->rec.overflow && w->rec.len + more > OD_WAL_CAPTURE_MAX) {
		w->rec.overflow = true; /* committed, then a checkpoint syncs it */
	}
	return od_buf_reserve(&w->rec, more);
}

static void
flush_pending(struct od_wal *w)
{
	if (w->pend_ptr != NULL) {
		if (!w->rec.overflow) {
			memcpy(w->rec.data + w->pend_off, w->pend_ptr, w->pend_len);
		}
		w->pend_ptr = NULL;
	}
}

void
od_wal_before(od_txn *t)
{
	if (t->capture) {
		flush_pending(t->s->wal);
	}
}

size_t
od_wal_mark(od_txn *t)
{
	return t->capture ? t->s->wal->rec.len : 0;
}

void
od_wal_unmark(od_txn *t, size_t mark)
{
	if (t->capture) {
		t->s->wal->rec.len = mark;
	}
}

void
od_wal_giveup(od_txn *t)
{
	if (t->logged) {
		t->s->wal->rec.overflow = true;
		t->capture = false;
	}
}

void
od_wal_capture(od_txn *t, int op, MDB_dbi dbi, const MDB_val *k, const MDB_val *v, bool later)
{
	struct od_wal *w = t->s->wal;
	if (!t->capture) {
		return;
	}
	size_t kl = k != NULL ? k->mv_size : 0;
	size_t vl = v != NULL ? v->mv_size : 0;
	if (dbi >= sizeof(w->slot_of) || w->slot_of[dbi] == 0 || kl > UINT16_MAX ||
	    vl > UINT32_MAX) {
		od_wal_giveup(t); /* not a change the log can say: do without it */
		return;
	}
	if (!reserve(w, sizeof(struct wal_op) + kl + vl)) {
		t->capture = false; /* too large for the log */
		return;
	}
	struct wal_op o = {(uint8_t) op, w->slot_of[dbi], (uint16_t) kl, (uint32_t) vl};
	memcpy(w->rec.data + w->rec.len, &o, sizeof(o));
	w->rec.len += sizeof(o);
	if (kl > 0) {
		memcpy(w->rec.data + w->rec.len, k->mv_data, kl);
		w->rec.len += kl;
	}
	if (vl > 0 && later) {
		w->pend_ptr = v->mv_data; /* MDB_RESERVE: the caller fills it next */
		w->pend_off = w->rec.len;
		w->pend_len = vl;
	} else if (vl > 0) {
		memcpy(w->rec.data + w->rec.len, v->mv_data, vl);
	}
	w->rec.len += vl;
}

/* --- checkpoints ---------------------------------------------------------------- */

void
od_wal_unpin(struct od_store *s)
{
	struct od_wal *w = s->wal;
	if (w != NULL && w->pin != NULL) {
		mdb_txn_abort(w->pin);
		w->pin = NULL;
		w->need_ckpt = true; /* nothing keeps the last checkpoint's pages now */
	}
}

/*
 * Makes the last commit the checkpoint: the data file synced, its meta
 * pages and the log position in a header slot, synced, a pin on it, the
 * old pin let go and the log begun again. On failure the checkpoint before
 * stays in force (its pin too, if it had one).
 */
orgdir_code
od_wal_checkpoint(struct od_store *s, orgdir_status *st)
{
	struct od_wal *w = s->wal;
	if (w == NULL) {
		return ORGDIR_OK;
	}
	MDB_stat ms;
	MDB_envinfo info;
	int rc = mdb_env_stat(s->env, &ms);
	if (rc == 0 && (sizeof(struct wal_head) + 2 * (size_t) ms.ms_psize > SLOT_SIZE)) {
		rc = EINVAL;
	}
	MDB_txn *pin = NULL;
	int data_fd = -1; /* LMDB's */
	if (rc == 0) {
		rc = mdb_env_get_fd(s->env, &data_fd);
	}
	if (rc == 0) {
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &pin);
	}
	if (rc != 0) {
		return od_mdb_status(NULL, rc, "checkpoint", st);
	}
	/* The pin is on the last commit: sync the file, then read its metas
	 * (a later commit cannot come: this is the writing thread). */
	rc = mdb_env_sync(s->env, 1);
	mdb_env_info(s->env, &info);
	size_t slen = sizeof(struct wal_head) + 2 * (size_t) ms.ms_psize;
	uint8_t *slot = calloc(1, SLOT_SIZE);
	struct wal_head h = {.magic = HEAD_MAGIC,
	    .version = WAL_VERSION,
	    .psize = ms.ms_psize,
	    .seq = w->seq + 1,
	    .lsn = w->lsn,
	    .txnid = mdb_txn_id(pin)};
	struct stat sb;
	if (rc == 0 && (slot == NULL || fstat(data_fd, &sb) != 0)) {
		rc = slot == NULL ? ENOMEM : errno;
	}
	if (rc == 0) {
		h.data_dev = (uint64_t) sb.st_dev;
		h.data_ino = (uint64_t) sb.st_ino;
		h.data_size = (uint64_t) sb.st_size;
		if (!read_metas(data_fd, slot + sizeof(h), ms.ms_psize)) {
			rc = errno;
		}
	}
	if (rc == 0) {
		memcpy(slot, &h, sizeof(h));
		h.crc = od_crc32c(slot + 8, slen - 8);
		memcpy(slot, &h, sizeof(h));
		if (!full_pwrite(w->fd, slot, SLOT_SIZE, (uint64_t) w->slot * SLOT_SIZE) ||
		    fdatasync(w->fd) != 0) {
			rc = errno;
		}
	}
	free(slot);
	if (rc != 0) {
		mdb_txn_abort(pin);
		return io_status(s, rc, "checkpoint", st);
	}
	if (w->pin != NULL) {
		mdb_txn_abort(w->pin);
	}
	w->pin = pin;
	w->pin_pages = info.me_last_pgno;
	w->seq++;
	w->slot ^= 1;
	w->pos = REC_START;
	w->ckpt_ms = od_mono_ms();
	w->need_ckpt = false;
	return ORGDIR_OK;
}

/* --- logged commits ------------------------------------------------------------- */

orgdir_code
od_wal_write_begin(od_txn *t, orgdir_status *st)
{
	struct od_wal *w = t->s->wal;
	if (w == NULL) {
		return ORGDIR_OK;
	}
	if (w->failed) {
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "the write-ahead log %s could not be written (see the server's log): no "
		    "writes until orgdird is restarted",
		    w->path);
	}
	if (w->need_ckpt && od_wal_checkpoint(t->s, st) != ORGDIR_OK) {
		return st->code;
	}
	t->logged = true;
	t->capture = true;
	od_buf_reset(&w->rec);
	if (od_buf_reserve(&w->rec, sizeof(struct wal_rec))) {
		w->rec.len = sizeof(struct wal_rec); /* the header's room */
	}
	w->pend_ptr = NULL;
	return ORGDIR_OK;
}

/* Takes back the record at pos (its first page zeroed, synced); false
 * when even that failed: the log is then out of use. */
static bool
unlog(struct od_wal *w, uint64_t pos)
{
	static const uint8_t zero[REC_ALIGN];
	if (full_pwrite(w->fd, zero, sizeof(zero), pos) && fdatasync(w->fd) == 0) {
		return true;
	}
	od_log("error",
	    "cannot take back a record of %s after a failed commit (%s): no more writes until "
	    "orgdird is restarted",
	    w->path, strerror(errno));
	w->failed = true;
	return false;
}

orgdir_code
od_wal_commit(od_txn *t, bool *map_full, orgdir_status *st)
{
	struct od_store *s = t->s;
	struct od_wal *w = s->wal;
	*map_full = false;
	uint64_t lsn = w->lsn + 1;
	if (!w->rec.overflow) {
		/* The record's position in LMDB itself, for a restart after a
		 * crash of orgdird alone: it goes into the record too. */
		int rc = od_mdb_put(
		    t, s->meta, META_WAL_LSN, strlen(META_WAL_LSN), &lsn, sizeof(lsn), 0);
		if (rc != 0) {
			mdb_txn_abort(t->txn);
			t->txn = NULL;
			*map_full = rc == MDB_MAP_FULL;
			return od_mdb_status(t, rc, "commit", st);
		}
		flush_pending(w);
	}
	size_t padded = (w->rec.len + REC_ALIGN - 1) / REC_ALIGN * REC_ALIGN;
	od_buf_reserve(&w->rec, padded - w->rec.len); /* within the cap; else overflow */
	if (w->rec.overflow) {
		/* Not in the log: durable once a checkpoint holds it (the pin
		 * keeps the last one's pages meanwhile). */
		int rc = mdb_txn_commit(t->txn);
		t->txn = NULL;
		*map_full = rc == MDB_MAP_FULL;
		if (rc != 0) {
			return od_mdb_status(t, rc, "commit", st);
		}
		orgdir_code c = od_wal_checkpoint(s, st);
		if (c != ORGDIR_OK) {
			/* Readers see it, but a restart would go back to the last
			 * checkpoint: it is not acknowledged, and nothing may be
			 * written on top of it. */
			w->failed = true;
			od_log("error",
			    "checkpoint after a write too large for the log failed: %s; no more "
			    "writes until orgdird is restarted (the write is lost then)",
			    st->message);
		}
		return c;
	}
	if (w->pos + padded > WAL_SIZE) {
		/* The log is full: a checkpoint of the last commit (this
		 * transaction is not one yet) empties it. */
		orgdir_code c = od_wal_checkpoint(s, st);
		if (c != ORGDIR_OK) {
			mdb_txn_abort(t->txn);
			t->txn = NULL;
			return c;
		}
	}
	struct wal_rec r = {REC_MAGIC, 0, lsn, (uint32_t) (w->rec.len - sizeof(r)), 0};
	memcpy(w->rec.data, &r, sizeof(r));
	r.crc = od_crc32c(w->rec.data + 8, w->rec.len - 8);
	memcpy(w->rec.data, &r, sizeof(r));
	memset(w->rec.data + w->rec.len, 0, padded - w->rec.len);
	uint64_t pos = w->pos;
	if (!full_pwrite(w->fd, w->rec.data, padded, pos) || fdatasync(w->fd) != 0) {
		int err = errno;
		mdb_txn_abort(t->txn);
		t->txn = NULL;
		unlog(w, pos);
		return io_status(s, err, "write-ahead log", st);
	}
	int rc = mdb_txn_commit(t->txn);
	t->txn = NULL;
	if (rc != 0) {
		unlog(w, pos);
		*map_full = rc == MDB_MAP_FULL;
		return od_mdb_status(t, rc, "commit", st);
	}
	w->lsn = lsn;
	w->pos = pos + padded;
	return ORGDIR_OK;
}

bool
od_wal_checkpoint_due(struct od_store *s, bool idle)
{
	struct od_wal *w = s->wal;
	/* Nothing logged since the last one: the log is at its start. */
	if (w == NULL || w->failed || (w->pos == REC_START && !w->need_ckpt)) {
		return false;
	}
	MDB_envinfo info;
	return idle || w->need_ckpt || od_mono_ms() - w->ckpt_ms >= CKPT_MS ||
	    w->pos >= CKPT_LOG_BYTES ||
	    (mdb_env_info(s->env, &info) == 0 && info.me_last_pgno > w->pin_pages + CKPT_PAGES);
}

bool
od_store_checkpoint(struct od_store *s, bool idle)
{
	struct od_wal *w = s->wal;
	if (s->env == NULL || !od_wal_checkpoint_due(s, idle)) {
		return false;
	}
	orgdir_status st;
	if (od_wal_checkpoint(s, &st) != ORGDIR_OK) {
		/* Tried again at the next batch: said once a minute. */
		uint64_t now = od_mono_ms();
		if (w->fail_ms == 0 || now - w->fail_ms >= 60000) {
			od_log("warn",
			    "checkpoint failed: %s (the log keeps every write meanwhile)",
			    st.message);
			w->fail_ms = now;
		}
		return false;
	}
	w->fail_ms = 0;
	return true;
}

/* --- open, recovery, close ------------------------------------------------------ */

static void
wal_free(struct od_wal *w)
{
	if (w == NULL) {
		return;
	}
	if (w->fd >= 0) {
		close(w->fd);
	}
	free(w->metas);
	od_buf_free(&w->rec);
	free(w);
}

/* Puts the file's own meta pages back after a restore that did not check
 * out. */
static void
unrestore(struct od_store *s, int fd)
{
	struct od_wal *w = s->wal;
	if (w->restored) {
		uint32_t ps = w->head.psize;
		if (!full_pwrite(fd, w->metas + 2 * (size_t) ps, 2 * (size_t) ps, 0) ||
		    fdatasync(fd) != 0) {
			od_log("error", "cannot put back the meta pages of %s/data.mdb: %s",
			    s->path, strerror(errno));
		}
		w->restored = false;
	}
}

/*
 * Every process that has the environment open holds a read lock on the
 * first byte of lock.mdb (LMDB's own locking): none may, while the meta
 * pages are put back under it (orgdird --check, mdb_stat).
 */
static orgdir_code
not_in_use(struct od_store *s, orgdir_status *st)
{
	char file[sizeof(s->path) + 16];
	snprintf(file, sizeof(file), "%s/lock.mdb", s->path);
	int fd = open(file, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		return ORGDIR_OK; /* no lock file: nobody has it open */
	}
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	int rc = fcntl(fd, F_GETLK, &l);
	close(fd);
	if (rc == 0 && l.l_type != F_UNLCK) {
		return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
		    "%s/data.mdb is open in another process (pid %ld): orgdird must set it back to "
		    "its last checkpoint first; stop that process",
		    s->path, (long) l.l_pid);
	}
	return ORGDIR_OK;
}

orgdir_code
od_wal_prepare(struct od_store *s, orgdir_status *st)
{
	struct od_wal *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	w->fd = -1;
	od_buf_init(&w->rec, OD_WAL_CAPTURE_MAX + REC_ALIGN); /* + the padding */
	snprintf(w->path, sizeof(w->path), "%s/" WAL_FILE, s->path);
	w->fd = open(w->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat sb;
	if (w->fd < 0 || fstat(w->fd, &sb) != 0) {
		orgdir_code c = io_status(s, errno, "open the write-ahead log", st);
		wal_free(w);
		return c;
	}
	if ((uint64_t) sb.st_size < WAL_SIZE && fallocate(w->fd, 0, 0, (off_t) WAL_SIZE) != 0 &&
	    (errno != EOPNOTSUPP || ftruncate(w->fd, (off_t) WAL_SIZE) != 0)) {
		/* A full disk: LMDB syncs its own commits then (slower, as safe). */
		od_log("warn", "no room for the write-ahead log %s (%s): LMDB syncs each commit",
		    w->path, strerror(errno));
		if (sb.st_size == 0) {
			unlink(w->path);
		}
		wal_free(w);
		return ORGDIR_OK;
	}
	/* The newer valid slot. */
	struct wal_head h[2];
	bool ok[2];
	w->metas = malloc(2 * (size_t) SLOT_SIZE); /* the slot's metas, the file's */
	if (w->metas == NULL) {
		wal_free(w);
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (unsigned i = 0; i < 2; i++) {
		ok[i] = read_slot(w, i, &h[i], NULL);
	}
	int best = ok[0] && (!ok[1] || h[0].seq > h[1].seq) ? 0 : ok[1] ? 1 : -1;
	s->wal = w;
	if (best < 0) {
		return ORGDIR_OK; /* a new log: the first checkpoint writes it */
	}
	read_slot(w, (unsigned) best, &w->head, w->metas);
	w->have_head = true;
	w->seq = w->head.seq;
	w->slot = (unsigned) best ^ 1;
	w->lsn = w->head.lsn;
	char file[sizeof(s->path) + 16];
	snprintf(file, sizeof(file), "%s/data.mdb", s->path);
	int fd = open(file, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0 || (uint64_t) sb.st_dev != w->head.data_dev ||
	    (uint64_t) sb.st_ino != w->head.data_ino || (uint64_t) sb.st_size < w->head.data_size) {
		/* Another data file (a backup put in its place, a new store):
		 * the log says nothing of it. */
		od_log(
		    "warn", "%s belongs to another data file: not replayed, begun again", w->path);
		if (fd >= 0) {
			close(fd);
		}
		w->have_head = false;
		w->lsn = 0;
		return ORGDIR_OK;
	}
	/* Back to the checkpoint's snapshot, unless the data file is there. */
	uint32_t ps = w->head.psize;
	uint8_t *own = w->metas + 2 * (size_t) ps;
	if (!read_metas(fd, own, ps)) {
		orgdir_code c = io_status(s, errno, "read the data file's meta pages", st);
		close(fd);
		return c;
	}
	if (memcmp(own, w->metas, 2 * (size_t) ps) != 0) {
		orgdir_code c = not_in_use(s, st);
		if (c == ORGDIR_OK &&
		    (!full_pwrite(fd, w->metas, 2 * (size_t) ps, 0) || fdatasync(fd) != 0)) {
			c = io_status(s, errno, "restore the checkpoint's meta pages", st);
		}
		if (c != ORGDIR_OK) {
			close(fd);
			return c;
		}
		w->restored = true;
		od_log("info",
		    "orgdird did not stop cleanly: data.mdb set back to the last checkpoint "
		    "(transaction %llu), to apply the log after it",
		    (unsigned long long) w->head.txnid);
	}
	close(fd);
	return ORGDIR_OK;
}

/* Applies one record's changes in txn (dbs: the handles by slot); an
 * LMDB status. */
static int
apply(MDB_txn *txn, const MDB_dbi *dbs, size_t n_dbs, const uint8_t *p, size_t n)
{
	while (n > 0) {
		struct wal_op o;
		if (n < sizeof(o)) {
			return MDB_CORRUPTED;
		}
		memcpy(&o, p, sizeof(o));
		p += sizeof(o);
		n -= sizeof(o);
		if ((size_t) o.klen + o.vlen > n || o.db == 0 || o.db > n_dbs) {
			return MDB_CORRUPTED;
		}
		MDB_dbi dbi = dbs[o.db - 1];
		MDB_val k = {o.klen, (void *) p}, v = {o.vlen, (void *) (p + o.klen)};
		int rc;
		switch (o.op) {
		case OD_WAL_PUT:
			rc = mdb_put(txn, dbi, &k, &v, 0);
			break;
		case OD_WAL_DEL:
			rc = mdb_del(txn, dbi, &k, NULL);
			break;
		case OD_WAL_DEL_DUP:
			rc = mdb_del(txn, dbi, &k, &v);
			break;
		case OD_WAL_DROP:
			rc = mdb_drop(txn, dbi, 0);
			break;
		default:
			rc = MDB_CORRUPTED;
		}
		if (rc != 0) {
			return rc;
		}
		p += (size_t) o.klen + o.vlen;
		n -= (size_t) o.klen + o.vlen;
	}
	return 0;
}

/*
 * In txn (at the checkpoint's snapshot, checked first: *mismatch when it
 * is not), applies the records after the checkpoint in order, up to the
 * first that is not the next one (torn: never acknowledged; or older).
 * *applied: how many. An LMDB status.
 */
static int
replay(struct od_store *s, MDB_txn *txn, bool *mismatch, uint64_t *applied)
{
	struct od_wal *w = s->wal;
	*applied = 0;
	*mismatch = false;
	MDB_dbi dbs[32];
	size_t n_dbs = od_db_count() < OD_ARRAY_LEN(dbs) ? od_db_count() : OD_ARRAY_LEN(dbs);
	int rc = 0;
	for (size_t i = 0; i < n_dbs && rc == 0; i++) {
		unsigned flags;
		const char *name = od_db_def(i, &flags);
		rc = mdb_dbi_open(txn, name, flags | MDB_CREATE, &dbs[i]);
	}
	if (rc != 0) {
		return rc;
	}
	/* The data file is the checkpoint's: its transaction, its record. */
	MDB_val key = {strlen(META_WAL_LSN), META_WAL_LSN}, v;
	uint64_t at = 0;
	if (mdb_get(txn, dbs[0], &key, &v) == 0 && v.mv_size == sizeof(at)) {
		memcpy(&at, v.mv_data, sizeof(at));
	}
	if (at != w->head.lsn || mdb_txn_id(txn) != w->head.txnid + 1) {
		*mismatch = true;
		w->lsn = at;
		return 0;
	}
	uint64_t pos = REC_START;
	w->lsn = w->head.lsn;
	uint8_t *buf = NULL;
	size_t cap = 0;
	while (rc == 0 && pos + sizeof(struct wal_rec) <= WAL_SIZE) {
		struct wal_rec r;
		if (!full_pread(w->fd, &r, sizeof(r), pos) || r.magic != REC_MAGIC ||
		    r.lsn != w->lsn + 1 || r.len > OD_WAL_CAPTURE_MAX ||
		    pos + sizeof(r) + r.len > WAL_SIZE) {
			break;
		}
		size_t n = sizeof(r) + r.len;
		if (n > cap) {
			uint8_t *nb = realloc(buf, n);
			if (nb == NULL) {
				rc = ENOMEM;
				break;
			}
			buf = nb;
			cap = n;
		}
		if (!full_pread(w->fd, buf, n, pos) || od_crc32c(buf + 8, n - 8) != r.crc) {
			break; /* torn: never acknowledged */
		}
		rc = apply(txn, dbs, n_dbs, buf + sizeof(r), r.len);
		w->lsn = r.lsn;
		(*applied)++;
		pos += (n + REC_ALIGN - 1) / REC_ALIGN * REC_ALIGN;
	}
	free(buf);
	return rc;
}

void
od_wal_set_dbs(struct od_store *s)
{
	struct od_wal *w = s->wal;
	if (w == NULL) {
		return;
	}
	memset(w->slot_of, 0, sizeof(w->slot_of));
	for (size_t i = 0; i < od_db_count() && i < 255; i++) {
		MDB_dbi d = *od_db_handle(s, i);
		if (d < sizeof(w->slot_of)) {
			w->slot_of[d] = (uint8_t) (i + 1);
		}
	}
}

orgdir_code
od_wal_recover(struct od_store *s, orgdir_status *st)
{
	struct od_wal *w = s->wal;
	if (w == NULL || w->recovered) {
		return ORGDIR_OK;
	}
	w->recovered = true;
	int fd = -1;
	mdb_env_get_fd(s->env, &fd);
	MDB_txn *txn;
	bool mismatch = false;
	uint64_t applied = 0;
	int rc;
	if (!w->have_head) {
		/* A new log: numbering goes on from the data file's. */
		if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) == 0) {
			MDB_dbi meta;
			MDB_val key = {strlen(META_WAL_LSN), META_WAL_LSN}, v;
			if (mdb_dbi_open(txn, od_db_def(0, NULL), 0, &meta) == 0 &&
			    mdb_get(txn, meta, &key, &v) == 0 && v.mv_size == sizeof(w->lsn)) {
				memcpy(&w->lsn, v.mv_data, sizeof(w->lsn));
			}
			mdb_txn_abort(txn);
		}
		return ORGDIR_OK;
	}
	/* The map grew after the checkpoint, maybe: as large as the file is,
	 * then doubled while the records do not fit. */
	struct stat sb;
	if (fd >= 0 && fstat(fd, &sb) == 0 && (size_t) sb.st_size > s->map_size &&
	    od_env_set_mapsize(s, (size_t) sb.st_size, NULL) == 0) {
		s->map_size = (size_t) sb.st_size;
	}
	for (int grown = 0;; grown++) {
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
			break;
		}
		rc = replay(s, txn, &mismatch, &applied);
		if (rc == 0 && !mismatch && applied > 0) {
			rc = mdb_txn_commit(txn); /* synced by the checkpoint that follows */
		} else {
			mdb_txn_abort(txn);
		}
		if (rc != MDB_MAP_FULL || grown == 10 ||
		    od_env_set_mapsize(s, s->map_size * 2, NULL) != 0) {
			break;
		}
		s->map_size *= 2;
	}
	if (rc != 0 || mismatch) {
		unrestore(s, fd);
		w->failed = true; /* no checkpoint on close: the log stays as it is */
	}
	if (mismatch) {
		return od_status_set(st, ORGDIR_DATA_LOSS,
		    "%s does not match %s/data.mdb (the log's checkpoint is at record %llu, "
		    "transaction %llu; the data file at record %llu): move the log aside to "
		    "start from the data file as it is",
		    w->path, s->path, (unsigned long long) w->head.lsn,
		    (unsigned long long) w->head.txnid, (unsigned long long) w->lsn);
	}
	if (rc != 0) {
		od_txn t = {.s = s};
		return od_mdb_status(&t, rc, "applying the write-ahead log again", st);
	}
	if (applied > 0) {
		od_log("info", "applied %llu records of %s again (through record %llu)",
		    (unsigned long long) applied, w->path, (unsigned long long) w->lsn);
	}
	w->restored = false;
	return ORGDIR_OK;
}

bool
od_wal_close(struct od_store *s)
{
	struct od_wal *w = s->wal;
	if (w == NULL) {
		return true;
	}
	bool ok = false;
	if (s->env != NULL && !w->failed) {
		orgdir_status st;
		ok = od_wal_checkpoint(s, &st) == ORGDIR_OK;
		if (!ok) {
			od_log("warn",
			    "last checkpoint failed: %s (the log is applied at the next start)",
			    st.message);
		}
	}
	od_wal_unpin(s);
	wal_free(w);
	s->wal = NULL;
	return ok;
}

orgdir_code
od_wal_retire(struct od_store *s, orgdir_status *st)
{
	struct od_wal *w = s->wal;
	if (w == NULL) {
		return ORGDIR_OK;
	}
	char path[sizeof(w->path)];
	memcpy(path, w->path, sizeof(path));
	if (!od_wal_close(s)) {
		/* Writes without the log now could reuse the checkpoint's pages. */
		return od_status_set(st, ORGDIR_UNAVAILABLE,
		    "cannot checkpoint %s before going on without it (see the log)", path);
	}
	mdb_env_set_flags(s->env, MDB_NOSYNC, 0);
	if (unlink(path) != 0) {
		od_log("warn", "cannot remove %s: %s", path, strerror(errno));
	} else {
		od_log("info", "%s applied and removed: LMDB syncs each commit (--no-wal)", path);
	}
	return ORGDIR_OK;
}
