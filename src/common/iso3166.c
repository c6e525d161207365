/*
 * iso3166.c - ISO 3166-1 from iso-codes: the JSON through jansson, the
 * translations by parsing gettext .mo catalogues here.
 *
 * Why not dgettext: it answers in the language of the process locale
 * (LANGUAGE, LC_ALL, LC_MESSAGES) and only under a UTF-8 locale, and it is
 * one language at a time; a server answers many languages at once.
 *
 * Every file is read whole into a capped buffer and treated as hostile: a
 * .mo is checked entirely (tables and strings inside the file, strings
 * NUL-terminated, kept texts valid UTF-8) before any of it is applied, so a
 * damaged catalogue is dropped whole, never half-used. Integers are read
 * byte by byte, so no alignment is assumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "iso3166.h"

#define ISO_JSON_MAX (4u << 20) /* 43 KB in iso-codes 4.15 */
#define ISO_MO_MAX (4u << 20) /* 24-30 KB each */
#define ISO_COUNTRIES_MAX 1000u /* 249 today */
#define ISO_ARENA_MAX (16u << 20) /* everything a table holds */
#define ISO_PATH_MAX 4096u
#define MO_MAGIC 0x950412deu
#define MO_HEADER_SIZE 28u
#define MO_STRINGS_MAX 1000000u

struct od_iso3166 {
	od_arena arena; /* every string and array below */
	od_iso_country *countries; /* sorted by alpha2 */
	const od_iso_country **by_alpha3; /* sorted by alpha3 */
	size_t n;
	const char *langs[OD_ISO3166_LANGS_MAX];
	size_t lang_names[OD_ISO3166_LANGS_MAX];
	size_t n_langs;
};

/* The catalogues: BCP 47 tag and directory under locale_dir. */
static const struct {
	const char *lang;
	const char *dir;
} iso_catalogues[] = {
    {"fr", "fr"},
    {"es", "es"},
    {"ar", "ar"},
    {"ru", "ru"},
    {"zh", "zh_CN"},
};

/* --- small helpers (ASCII only: tolower() would follow the locale) --------- */

static char
ascii_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char) (c - 'a' + 'A') : c;
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

static bool
ascii_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Copies exactly n ASCII letters of s, upper-cased, into dst[n+1]; false if
 * s is not exactly n letters. */
static bool
copy_code(char *dst, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!ascii_alpha(s[i])) {
			return false;
		}
		dst[i] = ascii_upper(s[i]);
	}
	if (s[n] != '\0') {
		return false;
	}
	dst[n] = '\0';
	return true;
}

/*
 * Reads a regular file whole, at most `cap` bytes, NUL-terminated (the NUL
 * not counted in *len). Returns 0, or an errno value (EFBIG when over cap,
 * EINVAL when not a regular file). The caller frees *out.
 */
static int
read_file(const char *path, size_t cap, char **out, size_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno;
	}
	if (fstat(fd, &sb) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return EINVAL;
	}
	if (sb.st_size < 0 || (uint64_t) sb.st_size > cap) {
		close(fd);
		return EFBIG;
	}
	/* The file may grow under us: read up to cap + 1 bytes to notice. */
	size_t alloc = (size_t) sb.st_size + 2; /* one byte more, and the NUL */
	size_t n = 0;
	char *buf = malloc(alloc);
	if (buf == NULL) {
		close(fd);
		return ENOMEM;
	}
	for (;;) {
		if (n + 1 == alloc) {
			if (n > cap) {
				break;
			}
			size_t na = alloc <= (cap + 2) / 2 ? alloc * 2 : cap + 2;
			char *nb = realloc(buf, na);
			if (nb == NULL) {
				free(buf);
				close(fd);
				return ENOMEM;
			}
			buf = nb;
			alloc = na;
		}
		ssize_t r = read(fd, buf + n, alloc - 1 - n);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			int e = errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0) {
			break;
		}
		n += (size_t) r;
	}
	close(fd);
	if (n > cap) {
		free(buf);
		return EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* strerror() may share a buffer between threads; the XSI strerror_r does
 * not. */
static const char *
errno_text(int e, char *buf, size_t n)
{
	if (strerror_r(e, buf, n) != 0) {
		snprintf(buf, n, "error %d", e);
	}
	return buf;
}

/* --- the JSON -------------------------------------------------------------- */

static int
cmp_alpha2(const void *a, const void *b)
{
	return strcmp(((const od_iso_country *) a)->alpha2, ((const od_iso_country *) b)->alpha2);
}

static int
cmp_alpha3(const void *a, const void *b)
{
	const od_iso_country *x = *(const od_iso_country *const *) a;
	const od_iso_country *y = *(const od_iso_country *const *) b;
	return strcmp(x->alpha3, y->alpha3);
}

static const char iso_oom[] = "out of memory";

/* A string member that must be (when `required`) or may be present: valid
 * UTF-8, 1..OD_NAME_MAX bytes. Sets *out to an arena copy or NULL. */
static bool
json_text(
    od_iso3166 *t, json_t *e, const char *key, bool required, const char **out, const char **why)
{
	json_t *v = json_object_get(e, key);
	*out = NULL;
	if (v == NULL) {
		*why = "is missing";
		return !required;
	}
	if (!json_is_string(v)) {
		*why = "is not a string";
		return false;
	}
	size_t len = json_string_length(v);
	const char *s = json_string_value(v);
	if (len == 0 || len > OD_NAME_MAX || !od_utf8_valid(s, len)) {
		*why = "is empty, longer than 512 bytes or not UTF-8";
		return false;
	}
	*out = od_arena_strndup(&t->arena, s, len);
	if (*out == NULL) {
		*why = iso_oom;
		return false;
	}
	return true;
}

static orgdir_code
json_bad(orgdir_status *st, const char *path, const char *what)
{
	return od_status_set(st, ORGDIR_FAILED_PRECONDITION,
	    "ISO 3166-1 data %s: %s (install the iso-codes package)", path, what);
}

static orgdir_code
load_json(od_iso3166 *t, const char *path, orgdir_status *st)
{
	char *text = NULL;
	size_t len = 0;
	char msg[320];
	char ebuf[128];
	int e = read_file(path, ISO_JSON_MAX, &text, &len);
	if (e == ENOMEM) {
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
	}
	if (e != 0) {
		return json_bad(st, path,
		    e == EFBIG        ? "larger than 4 MiB"
		        : e == EINVAL ? "not a regular file"
		                      : errno_text(e, ebuf, sizeof(ebuf)));
	}

	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (root == NULL) {
		snprintf(msg, sizeof(msg), "not valid JSON at line %d: %s", je.line, je.text);
		return json_bad(st, path, msg);
	}
	json_t *arr = json_object_get(root, "3166-1");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > ISO_COUNTRIES_MAX) {
		json_decref(root);
		return json_bad(st, path, "expected {\"3166-1\": [ 1 to 1000 entries ]}");
	}

	size_t n = json_array_size(arr);
	t->countries = od_arena_alloc(&t->arena, n * sizeof(*t->countries));
	t->by_alpha3 = od_arena_alloc(&t->arena, n * sizeof(*t->by_alpha3));
	od_iso_name *slots = od_arena_alloc(&t->arena, n * OD_ISO3166_LANGS_MAX * sizeof(*slots));
	if (t->countries == NULL || t->by_alpha3 == NULL || slots == NULL) {
		json_decref(root);
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory loading %s", path);
	}
	memset(t->countries, 0, n * sizeof(*t->countries));

	for (size_t i = 0; i < n; i++) {
		json_t *ent = json_array_get(arr, i);
		od_iso_country *c = &t->countries[i];
		const char *why = NULL;
		const char *field = NULL;
		const char *name = NULL;
		json_t *a2 = json_object_get(ent, "alpha_2");
		json_t *a3 = json_object_get(ent, "alpha_3");
		json_t *num = json_object_get(ent, "numeric");

		if (!json_is_object(ent)) {
			field = "entry";
			why = "is not an object";
		} else if (!json_is_string(a2) || !copy_code(c->alpha2, json_string_value(a2), 2)) {
			field = "alpha_2";
			why = "is not two letters";
		} else if (!json_is_string(a3) || !copy_code(c->alpha3, json_string_value(a3), 3)) {
			field = "alpha_3";
			why = "is not three letters";
		} else if (!json_is_string(num) || json_string_length(num) != 3 ||
		    strspn(json_string_value(num), "0123456789") != 3) {
			field = "numeric";
			why = "is not three digits";
		} else if (!json_text(t, ent, "name", true, &name, &why)) {
			field = "name";
		} else if (!json_text(t, ent, "official_name", false, &c->official_name, &why)) {
			field = "official_name";
		} else if (!json_text(t, ent, "common_name", false, &c->common_name, &why)) {
			field = "common_name";
		}
		if (field != NULL) {
			if (why == iso_oom) {
				json_decref(root);
				return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
				    "out of memory loading %s", path);
			}
			snprintf(msg, sizeof(msg), "entry %zu: %s %s", i, field, why);
			json_decref(root);
			return json_bad(st, path, msg);
		}
		memcpy(c->numeric, json_string_value(num), 4);
		slots[i * OD_ISO3166_LANGS_MAX].lang = "en";
		slots[i * OD_ISO3166_LANGS_MAX].text = name;
		c->names = &slots[i * OD_ISO3166_LANGS_MAX];
		c->n_names = 1;
	}
	json_decref(root);
	t->n = n;

	qsort(t->countries, n, sizeof(*t->countries), cmp_alpha2);
	for (size_t i = 0; i < n; i++) {
		t->by_alpha3[i] = &t->countries[i];
	}
	qsort(t->by_alpha3, n, sizeof(*t->by_alpha3), cmp_alpha3);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(t->countries[i - 1].alpha2, t->countries[i].alpha2) == 0) {
			snprintf(
			    msg, sizeof(msg), "alpha_2 %s given twice", t->countries[i].alpha2);
			return json_bad(st, path, msg);
		}
		if (strcmp(t->by_alpha3[i - 1]->alpha3, t->by_alpha3[i]->alpha3) == 0) {
			snprintf(
			    msg, sizeof(msg), "alpha_3 %s given twice", t->by_alpha3[i]->alpha3);
			return json_bad(st, path, msg);
		}
	}
	return ORGDIR_OK;
}

/* --- gettext .mo catalogues -------------------------------------------------- */

/*
 * Layout (GNU gettext manual, "The Format of GNU MO Files"): u32 magic,
 * revision, N, offset of the originals table, offset of the translations
 * table, hash size, hash offset; each table holds N (length, offset)
 * pairs; each string is `length` bytes followed by a NUL. The hash table is
 * not used: we match every msgid against our own sorted index instead.
 */
typedef struct mo_file {
	const unsigned char *p;
	size_t size;
	bool big_endian;
} mo_file;

static uint32_t
mo_u32(const mo_file *m, size_t off)
{
	const unsigned char *b = m->p + off;
	if (m->big_endian) {
		return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
	}
	return (uint32_t) b[3] << 24 | (uint32_t) b[2] << 16 | (uint32_t) b[1] << 8 | b[0];
}

/* The string of table entry i (table at `table`), checked against the file:
 * sets *s to its first byte; the string is NUL-terminated at s[*len]. */
static bool
mo_string(const mo_file *m, uint32_t table, uint32_t i, const char **s, size_t *len)
{
	size_t d = (size_t) table + (size_t) i * 8u;
	uint64_t l = mo_u32(m, d);
	uint64_t off = mo_u32(m, d + 4);
	if (off + l >= m->size || m->p[off + l] != '\0') {
		return false;
	}
	*s = (const char *) m->p + off;
	*len = (size_t) l;
	return true;
}

/* An index of the English names, to match msgids in O(log n). */
typedef struct name_ref {
	const char *name;
	size_t country;
} name_ref;

static int
cmp_name_ref(const void *a, const void *b)
{
	return strcmp(((const name_ref *) a)->name, ((const name_ref *) b)->name);
}

/* What one catalogue gives, before it is applied: per country the text and
 * whether it came from a context-less entry (those win). */
typedef struct mo_pick {
	const char *text;
	size_t len;
	bool with_context;
} mo_pick;

/* "charset=UTF-8" or no charset in the header entry; anything else would
 * need iconv. */
static bool
mo_header_utf8(const char *h)
{
	const char *cs = strstr(h, "charset=");
	if (cs == NULL) {
		return true;
	}
	cs += strlen("charset=");
	char v[16];
	size_t i = 0;
	while (
	    i < sizeof(v) - 1 && cs[i] != '\0' && cs[i] != '\n' && cs[i] != ' ' && cs[i] != ';') {
		v[i] = ascii_lower(cs[i]);
		i++;
	}
	v[i] = '\0';
	return strcmp(v, "utf-8") == 0 || strcmp(v, "utf8") == 0;
}

/*
 * Checks the whole catalogue and fills picks[] (one per country, zeroed by
 * the caller). Returns NULL when it is sound, else what is wrong.
 */
static const char *
mo_parse(const mo_file *m, const name_ref *idx, size_t n_idx, mo_pick *picks)
{
	if (m->size < MO_HEADER_SIZE) {
		return "shorter than a .mo header";
	}
	uint32_t magic = mo_u32(m, 0);
	if (magic != MO_MAGIC) {
		return "bad magic number";
	}
	uint32_t rev = mo_u32(m, 4);
	if ((rev >> 16) > 1) {
		return "unknown major revision";
	}
	uint32_t n = mo_u32(m, 8);
	uint32_t orig = mo_u32(m, 12);
	uint32_t trans = mo_u32(m, 16);
	if (n > MO_STRINGS_MAX) {
		return "too many strings";
	}
	uint64_t tbl = (uint64_t) n * 8u;
	if ((uint64_t) orig + tbl > m->size || (uint64_t) trans + tbl > m->size) {
		return "string table past the end of the file";
	}

	for (uint32_t i = 0; i < n; i++) {
		const char *id;
		const char *tr;
		size_t id_len;
		size_t tr_len;
		if (!mo_string(m, orig, i, &id, &id_len) || !mo_string(m, trans, i, &tr, &tr_len)) {
			return "a string outside the file or not NUL-terminated";
		}
		if (id_len == 0) {
			/* The header entry (msgid ""). */
			if (!mo_header_utf8(tr)) {
				return "charset is not UTF-8";
			}
			continue;
		}
		/* "ctx\x04msgid"; a plural msgid is "singular\0plural" and strcmp
		 * stops at the NUL, so it matches on the singular. */
		const char *key = id;
		const char *eot = memchr(id, '\x04', strlen(id));
		bool ctx = eot != NULL;
		if (ctx) {
			key = eot + 1;
		}
		/* Plural translations: the first form, up to its NUL. */
		tr_len = strlen(tr);
		if (tr_len == 0) {
			continue; /* untranslated */
		}
		name_ref probe = {key, 0};
		const name_ref *hit = bsearch(&probe, idx, n_idx, sizeof(*idx), cmp_name_ref);
		if (hit == NULL) {
			continue; /* an official or common name, or no longer in the data */
		}
		/* Two countries could share an English name: give it to all. */
		while (hit > idx && strcmp(hit[-1].name, key) == 0) {
			hit--;
		}
		for (; hit < idx + n_idx && strcmp(hit->name, key) == 0; hit++) {
			mo_pick *pk = &picks[hit->country];
			if (pk->text != NULL && (ctx || !pk->with_context)) {
				continue; /* the first context-less entry wins */
			}
			if (tr_len > OD_NAME_MAX || !od_utf8_valid(tr, tr_len)) {
				return "a translation longer than 512 bytes or not UTF-8";
			}
			pk->text = tr;
			pk->len = tr_len;
			pk->with_context = ctx;
		}
	}
	return NULL;
}

/* Loads one catalogue if present; false only when out of memory. */
static bool
load_catalogue(od_iso3166 *t, const char *locale_dir, const char *lang, const char *dir,
    const name_ref *idx, mo_pick *picks)
{
	char path[ISO_PATH_MAX];
	char *buf = NULL;
	char ebuf[128];
	size_t len = 0;
	int w = snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES/iso_3166-1.mo", locale_dir, dir);
	if (w < 0 || (size_t) w >= sizeof(path)) {
		od_log("warn", "iso3166: locale directory path too long, %s names skipped", lang);
		return true;
	}
	int e = read_file(path, ISO_MO_MAX, &buf, &len);
	if (e == ENOENT) {
		return true;
	}
	if (e == ENOMEM) {
		return false;
	}
	if (e != 0) {
		od_log("warn", "iso3166: %s: %s; %s country names skipped", path,
		    e == EFBIG        ? "larger than 4 MiB"
		        : e == EINVAL ? "not a regular file"
		                      : errno_text(e, ebuf, sizeof(ebuf)),
		    lang);
		return true;
	}

	mo_file m = {(const unsigned char *) buf, len, false};
	if (len >= 4 && mo_u32(&m, 0) != MO_MAGIC) {
		m.big_endian = true;
	}
	memset(picks, 0, t->n * sizeof(*picks));
	const char *why = mo_parse(&m, idx, t->n, picks);
	if (why != NULL) {
		od_log("warn", "iso3166: %s: damaged catalogue (%s); %s country names skipped",
		    path, why, lang);
		free(buf);
		return true;
	}

	size_t got = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (picks[i].text == NULL) {
			continue;
		}
		char *s = od_arena_strndup(&t->arena, picks[i].text, picks[i].len);
		if (s == NULL) {
			free(buf);
			return false;
		}
		od_iso_name *slot = (od_iso_name *) &t->countries[i].names[t->countries[i].n_names];
		slot->lang = lang;
		slot->text = s;
		t->countries[i].n_names++;
		got++;
	}
	free(buf);
	if (got > 0) {
		t->langs[t->n_langs] = lang;
		t->lang_names[t->n_langs] = got;
		t->n_langs++;
	}
	return true;
}

static orgdir_code
load_translations(od_iso3166 *t, const char *locale_dir, orgdir_status *st)
{
	name_ref *idx = malloc(t->n * sizeof(*idx));
	mo_pick *picks = malloc(t->n * sizeof(*picks));
	orgdir_code rc = ORGDIR_OK;
	if (idx == NULL || picks == NULL) {
		rc = od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory loading ISO 3166-1");
		goto out;
	}
	for (size_t i = 0; i < t->n; i++) {
		idx[i].name = t->countries[i].names[0].text;
		idx[i].country = i;
	}
	qsort(idx, t->n, sizeof(*idx), cmp_name_ref);
	for (size_t k = 0; k < OD_ARRAY_LEN(iso_catalogues); k++) {
		if (!load_catalogue(
		        t, locale_dir, iso_catalogues[k].lang, iso_catalogues[k].dir, idx, picks)) {
			rc = od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
			    "out of memory loading ISO 3166-1 names");
			goto out;
		}
	}
out:
	free(idx);
	free(picks);
	return rc;
}

/* --- the API ------------------------------------------------------------------ */

orgdir_code
od_iso3166_load(const char *json_path, const char *locale_dir, od_iso3166 **out, orgdir_status *st)
{
	if (out == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "od_iso3166_load: out is NULL");
	}
	*out = NULL;
	od_iso3166 *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return od_status_set(
		    st, ORGDIR_RESOURCE_EXHAUSTED, "out of memory loading ISO 3166-1");
	}
	od_arena_init(&t->arena, ISO_ARENA_MAX);
	t->langs[0] = "en";
	t->n_langs = 1;

	orgdir_code rc = load_json(t, json_path != NULL ? json_path : OD_ISO3166_JSON_DEFAULT, st);
	if (rc == ORGDIR_OK) {
		t->lang_names[0] = t->n;
		rc = load_translations(
		    t, locale_dir != NULL ? locale_dir : OD_ISO3166_LOCALE_DIR_DEFAULT, st);
	}
	if (rc != ORGDIR_OK) {
		od_iso3166_free(t);
		return rc;
	}
	od_status_ok(st);
	*out = t;
	return ORGDIR_OK;
}

void
od_iso3166_free(od_iso3166 *t)
{
	if (t == NULL) {
		return;
	}
	od_arena_destroy(&t->arena);
	free(t);
}

size_t
od_iso3166_count(const od_iso3166 *t)
{
	return t != NULL ? t->n : 0;
}

const od_iso_country *
od_iso3166_at(const od_iso3166 *t, size_t i)
{
	return (t != NULL && i < t->n) ? &t->countries[i] : NULL;
}

const od_iso_country *
od_iso3166_find(const od_iso3166 *t, const char *code)
{
	char key[4];
	if (t == NULL || code == NULL) {
		return NULL;
	}
	size_t len = strnlen(code, 4);
	if ((len != 2 && len != 3) || !copy_code(key, code, len)) {
		return NULL;
	}
	size_t lo = 0;
	size_t hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const od_iso_country *c = len == 2 ? &t->countries[mid] : t->by_alpha3[mid];
		int r = strcmp(key, len == 2 ? c->alpha2 : c->alpha3);
		if (r == 0) {
			return c;
		}
		if (r < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return NULL;
}

/* Length of a tag's primary subtag ("fr" in "fr-CA" or "fr_CA"). */
static size_t
primary_len(const char *tag)
{
	size_t n = 0;
	while (tag[n] != '\0' && tag[n] != '-' && tag[n] != '_') {
		n++;
	}
	return n;
}

/* ASCII case-insensitive: a's first n bytes equal the whole of b. */
static bool
tag_equal_n(const char *a, size_t n, const char *b)
{
	size_t i = 0;
	for (; i < n; i++) {
		if (b[i] == '\0' || ascii_lower(a[i]) != ascii_lower(b[i])) {
			return false;
		}
	}
	return b[i] == '\0';
}

const char *
od_iso3166_name(const od_iso_country *c, const char *lang)
{
	if (c == NULL) {
		return NULL;
	}
	if (lang == NULL || lang[0] == '\0') {
		return c->names[0].text;
	}
	size_t full = strlen(lang);
	for (size_t i = 0; i < c->n_names; i++) {
		if (tag_equal_n(lang, full, c->names[i].lang)) {
			return c->names[i].text;
		}
	}
	size_t prim = primary_len(lang);
	for (size_t i = 0; i < c->n_names; i++) {
		if (tag_equal_n(lang, prim, c->names[i].lang)) {
			return c->names[i].text;
		}
	}
	return c->names[0].text;
}

size_t
od_iso3166_lang_count(const od_iso3166 *t)
{
	return t != NULL ? t->n_langs : 0;
}

const char *
od_iso3166_lang_at(const od_iso3166 *t, size_t i, size_t *n_names)
{
	if (t == NULL || i >= t->n_langs) {
		return NULL;
	}
	if (n_names != NULL) {
		*n_names = t->lang_names[i];
	}
	return t->langs[i];
}
