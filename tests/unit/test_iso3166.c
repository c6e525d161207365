/*
 * test_iso3166.c - ISO 3166-1 reference data (src/common/iso3166.c).
 *
 * The values asserted are those of Debian 12's iso-codes 4.15 as installed
 * here (checked against the files with Python before writing them down):
 * 249 countries, French CI "Côte d'Ivoire" with an ASCII apostrophe, and
 * so on. Hand-made catalogues (both byte orders, contexts, plurals) and
 * damaged ones (truncated, bad magic, offsets and lengths past the end,
 * random byte flips) are written into a temporary locale directory; a
 * damaged one must be skipped whole without a crash, so run this under
 * valgrind and under ASan. ctest runs it three times: with the default
 * environment, with LANG=C, and with LANGUAGE=fr under C.UTF-8, and one
 * test switches the process locale itself: the results never change.
 */
#include <locale.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iso3166.h"
#include "testutil.h"

#define FR_MO "/usr/share/locale/fr/LC_MESSAGES/iso_3166-1.mo"
#define CI_EN "C\xc3\xb4te d'Ivoire" /* U+00F4, then U+0027 APOSTROPHE */

/* --- helpers --------------------------------------------------------------- */

static od_iso3166 *
load_default(void)
{
	od_iso3166 *t = NULL;
	orgdir_status st;
	orgdir_code rc = od_iso3166_load(NULL, NULL, &t, &st);
	if (rc != ORGDIR_OK) {
		fail_msg("load failed: %s", st.message);
	}
	return t;
}

static const char *
name_of(const od_iso3166 *t, const char *code, const char *lang)
{
	const od_iso_country *c = od_iso3166_find(t, code);
	assert_non_null(c);
	return od_iso3166_name(c, lang);
}

/* The entry for exactly `lang`, or NULL: no fallback. */
static const char *
entry_of(const od_iso_country *c, const char *lang)
{
	for (size_t i = 0; i < c->n_names; i++) {
		if (strcmp(c->names[i].lang, lang) == 0) {
			return c->names[i].text;
		}
	}
	return NULL;
}

static void
write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void
write_text(const char *path, const char *s)
{
	write_bytes(path, s, strlen(s));
}

static unsigned char *
read_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	unsigned char *p = malloc((size_t) size);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t) size, f), (size_t) size);
	fclose(f);
	*n = (size_t) size;
	return p;
}

/* Catalogue warnings go to stderr through od_log: capture them, to keep
 * the output readable and to check that each refusal is reported. */
static int saved_stderr = -1;
static char capture_path[4096];

static void
capture_begin(const char *dir)
{
	snprintf(capture_path, sizeof(capture_path), "%s/stderr.txt", dir);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	FILE *f = fopen(capture_path, "w");
	assert_non_null(f);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	fclose(f);
}

/* Restores stderr; returns what was written (caller frees). */
static char *
capture_end(void)
{
	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	saved_stderr = -1;
	FILE *f = fopen(capture_path, "rb");
	assert_non_null(f);
	char *text = calloc(1, 65536);
	assert_non_null(text);
	size_t n = fread(text, 1, 65535, f);
	text[n] = '\0';
	fclose(f);
	remove(capture_path);
	return text;
}

static size_t
count_lines(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
		n++;
	}
	return n;
}

/* <dir>/<sub>/LC_MESSAGES/iso_3166-1.mo, creating the directories. */
static void
mo_path(char *out, size_t n, const char *dir, const char *sub)
{
	snprintf(out, n, "%s/%s", dir, sub);
	mkdir(out, 0700);
	snprintf(out, n, "%s/%s/LC_MESSAGES", dir, sub);
	mkdir(out, 0700);
	snprintf(out, n, "%s/%s/LC_MESSAGES/iso_3166-1.mo", dir, sub);
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	    (uint32_t) p[3] << 24;
}

static void
put32(unsigned char *p, uint32_t v, bool big)
{
	for (int i = 0; i < 4; i++) {
		p[big ? 3 - i : i] = (unsigned char) (v >> (8 * i));
	}
}

/* A .mo writer for hand-made catalogues. Strings are given with explicit
 * lengths so they may hold \x04 (context) and \0 (plural). */
typedef struct mo_entry {
	const char *id;
	size_t id_len;
	const char *str;
	size_t str_len;
} mo_entry;

#define MO_E(id, str) \
	{ \
		id, sizeof(id) - 1, str, sizeof(str) - 1 \
	}

static unsigned char *
mo_build(const mo_entry *e, uint32_t n, bool big, uint32_t revision, size_t *size)
{
	size_t strings = 0;
	for (uint32_t i = 0; i < n; i++) {
		strings += e[i].id_len + 1 + e[i].str_len + 1;
	}
	size_t total = 28 + 16 * (size_t) n + strings;
	unsigned char *p = calloc(1, total);
	assert_non_null(p);
	uint32_t orig = 28;
	uint32_t trans = 28 + 8 * n;
	put32(p, 0x950412deu, big);
	put32(p + 4, revision, big);
	put32(p + 8, n, big);
	put32(p + 12, orig, big);
	put32(p + 16, trans, big);
	put32(p + 20, 0, big);
	put32(p + 24, trans + 8 * n, big);
	size_t at = trans + 8 * (size_t) n;
	for (uint32_t i = 0; i < n; i++) {
		put32(p + orig + 8 * i, (uint32_t) e[i].id_len, big);
		put32(p + orig + 8 * i + 4, (uint32_t) at, big);
		memcpy(p + at, e[i].id, e[i].id_len);
		at += e[i].id_len + 1;
		put32(p + trans + 8 * i, (uint32_t) e[i].str_len, big);
		put32(p + trans + 8 * i + 4, (uint32_t) at, big);
		memcpy(p + at, e[i].str, e[i].str_len);
		at += e[i].str_len + 1;
	}
	*size = total;
	return p;
}

#define HEADER_UTF8 "Content-Type: text/plain; charset=UTF-8\n"

/* Three countries, one with a lower-case code (normalised on load). */
static const char small_json[] =
    "{\"3166-1\": ["
    "{\"alpha_2\": \"fr\", \"alpha_3\": \"fra\", \"numeric\": \"250\", \"name\": \"France\"},"
    "{\"alpha_2\": \"DE\", \"alpha_3\": \"DEU\", \"numeric\": \"276\", \"name\": \"Germany\","
    " \"official_name\": \"Federal Republic of Germany\"},"
    "{\"alpha_2\": \"CI\", \"alpha_3\": \"CIV\", \"numeric\": \"384\", \"name\": \"" CI_EN "\"}"
    "]}";

/* --- the installed data ---------------------------------------------------- */

static void
test_count_and_sorted(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	assert_int_equal(od_iso3166_count(t), 249);
	for (size_t i = 0; i < od_iso3166_count(t); i++) {
		const od_iso_country *c = od_iso3166_at(t, i);
		assert_non_null(c);
		if (i > 0) {
			assert_true(strcmp(od_iso3166_at(t, i - 1)->alpha2, c->alpha2) < 0);
		}
		assert_int_equal(strlen(c->alpha2), 2);
		assert_int_equal(strlen(c->alpha3), 3);
		assert_int_equal(strspn(c->alpha2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 2);
		assert_int_equal(strspn(c->alpha3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 3);
		assert_int_equal(strspn(c->numeric, "0123456789"), 3);
		assert_int_equal(strlen(c->numeric), 3);
		assert_true(c->n_names >= 1 && c->n_names <= OD_ISO3166_LANGS_MAX);
		assert_string_equal(c->names[0].lang, "en");
		/* Both codes find this very entry. */
		assert_ptr_equal(od_iso3166_find(t, c->alpha2), c);
		assert_ptr_equal(od_iso3166_find(t, c->alpha3), c);
	}
	assert_null(od_iso3166_at(t, 249));
	assert_string_equal(od_iso3166_at(t, 0)->alpha2, "AD");
	assert_string_equal(od_iso3166_at(t, 248)->alpha2, "ZW");
	od_iso3166_free(t);
}

static void
test_france(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	const od_iso_country *fr = od_iso3166_find(t, "FR");
	assert_non_null(fr);
	assert_string_equal(fr->alpha2, "FR");
	assert_string_equal(fr->alpha3, "FRA");
	assert_string_equal(fr->numeric, "250");
	assert_string_equal(od_iso3166_name(fr, "en"), "France");
	assert_string_equal(fr->official_name, "French Republic");
	assert_null(fr->common_name);
	assert_ptr_equal(od_iso3166_find(t, "fr"), fr);
	assert_ptr_equal(od_iso3166_find(t, "Fr"), fr);
	assert_ptr_equal(od_iso3166_find(t, "fra"), fr);
	assert_ptr_equal(od_iso3166_find(t, "FRA"), fr);
	/* Leading zeros of the numeric code are kept. */
	assert_string_equal(od_iso3166_find(t, "AF")->numeric, "004");
	/* A common name where iso-codes has one. */
	assert_string_equal(od_iso3166_find(t, "BO")->common_name, "Bolivia");
	od_iso3166_free(t);
}

static void
test_find_unknown(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	static const char *const bad[] = {"XX", "", "F", "FRAN", "F1", "ZZZ", "fr ", " fr", "250",
	    "F\xc3\x89", "\xc3\x89S", "FR\n", "1", "--"};
	for (size_t i = 0; i < OD_ARRAY_LEN(bad); i++) {
		assert_null(od_iso3166_find(t, bad[i]));
	}
	assert_null(od_iso3166_find(t, NULL));
	assert_null(od_iso3166_find(NULL, "FR"));
	od_iso3166_free(t);
}

static void
test_names_in_languages(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	/* iso-codes 4.15's French for CI is the English text, with U+0027. */
	assert_string_equal(name_of(t, "CI", "fr"), CI_EN);
	assert_string_equal(name_of(t, "CI", "en"), CI_EN);
	assert_string_equal(name_of(t, "CI", "es"), "Costa de Marf\xc3\xadl");
	assert_string_equal(name_of(t, "DE", "fr"), "Allemagne");
	assert_string_equal(name_of(t, "DE", "es"), "Alemania");
	assert_string_equal(name_of(t, "DE", "en"), "Germany");
	assert_string_equal(name_of(t, "DE", "ru"),
	    "\xd0\x93\xd0\xb5\xd1\x80\xd0\xbc\xd0\xb0\xd0\xbd"
	    "\xd0\xb8\xd1\x8f"); /* Германия */
	assert_string_equal(name_of(t, "DE", "ar"),
	    "\xd8\xa3\xd9\x84\xd9\x85\xd8\xa7\xd9\x86"
	    "\xd9\x8a\xd8\xa7"); /* ألمانيا */
	assert_string_equal(name_of(t, "DE", "zh"), "\xe5\xbe\xb7\xe5\x9b\xbd"); /* 德国 */
	assert_string_equal(name_of(t, "FR", "es"), "Francia");
	assert_string_equal(name_of(t, "EG", "fr"), "\xc3\x89gypte"); /* Égypte */
	/* Exact tag case-insensitively, then primary subtag ("-" or "_"). */
	assert_string_equal(name_of(t, "DE", "FR"), "Allemagne");
	assert_string_equal(name_of(t, "DE", "fr-CA"), "Allemagne");
	assert_string_equal(name_of(t, "DE", "fr_FR"), "Allemagne");
	assert_string_equal(name_of(t, "DE", "es-419"), "Alemania");
	assert_string_equal(name_of(t, "DE", "zh-Hans-CN"), "\xe5\xbe\xb7\xe5\x9b\xbd");
	od_iso3166_free(t);
}

static void
test_names_are_utf8(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	size_t non_ascii = 0;
	for (size_t i = 0; i < od_iso3166_count(t); i++) {
		const od_iso_country *c = od_iso3166_at(t, i);
		for (size_t k = 0; k < c->n_names; k++) {
			const char *s = c->names[k].text;
			assert_true(s[0] != '\0');
			assert_true(od_utf8_valid(s, strlen(s)));
			for (const char *q = s; *q; q++) {
				if ((unsigned char) *q >= 0x80) {
					non_ascii++;
					break;
				}
			}
		}
		if (c->official_name != NULL) {
			assert_true(od_utf8_valid(c->official_name, strlen(c->official_name)));
		}
	}
	/* Accented Latin is precomposed: "é" of Égypte is C3 89, not E + U+0301. */
	const char *eg = name_of(t, "EG", "fr");
	assert_memory_equal(eg, "\xc3\x89", 2);
	assert_true(non_ascii > 500); /* ar, ru, zh all non-ASCII, plus accents */
	od_iso3166_free(t);
}

static void
test_name_fallback_to_english(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	static const char *const other[] = {"de", "it", "pt-BR", "x", "zz-ZZ", "", "e", "enx"};
	for (size_t i = 0; i < OD_ARRAY_LEN(other); i++) {
		assert_string_equal(name_of(t, "DE", other[i]), "Germany");
	}
	assert_string_equal(name_of(t, "DE", NULL), "Germany");
	assert_null(od_iso3166_name(NULL, "fr"));
	/* Whatever a language lacks comes back in English. */
	for (size_t i = 0; i < od_iso3166_count(t); i++) {
		const od_iso_country *c = od_iso3166_at(t, i);
		for (size_t l = 0; l < od_iso3166_lang_count(t); l++) {
			const char *lang = od_iso3166_lang_at(t, l, NULL);
			const char *e = entry_of(c, lang);
			assert_string_equal(
			    od_iso3166_name(c, lang), e != NULL ? e : c->names[0].text);
		}
	}
	od_iso3166_free(t);
}

static void
test_languages_loaded(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	static const char *const want[] = {"en", "fr", "es", "ar", "ru", "zh"};
	assert_int_equal(od_iso3166_lang_count(t), OD_ARRAY_LEN(want));
	for (size_t i = 0; i < OD_ARRAY_LEN(want); i++) {
		size_t n = 0;
		assert_string_equal(od_iso3166_lang_at(t, i, &n), want[i]);
		print_message("    %s: %zu names\n", want[i], n);
		assert_true(n >= 240 && n <= 249);
		size_t counted = 0;
		for (size_t c = 0; c < od_iso3166_count(t); c++) {
			counted += entry_of(od_iso3166_at(t, c), want[i]) != NULL;
		}
		assert_int_equal(counted, n);
	}
	assert_null(od_iso3166_lang_at(t, 6, NULL));
	od_iso3166_free(t);
}

/* --- failures of the JSON ---------------------------------------------------- */

static void
test_missing_json(void **state)
{
	(void) state;
	od_iso3166 *t = (od_iso3166 *) &t; /* must be reset to NULL */
	orgdir_status st;
	const char *path = "/nonexistent/iso-codes/iso_3166-1.json";
	assert_int_equal(od_iso3166_load(path, NULL, &t, &st), ORGDIR_FAILED_PRECONDITION);
	assert_int_equal(st.code, ORGDIR_FAILED_PRECONDITION);
	assert_null(t);
	assert_non_null(strstr(st.message, path));
	assert_non_null(strstr(st.message, "install the iso-codes package"));
	assert_non_null(strstr(st.message, "No such file"));
	/* A NULL out is refused, a NULL status is allowed. */
	assert_int_equal(od_iso3166_load(NULL, NULL, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(od_iso3166_load(path, NULL, &t, NULL), ORGDIR_FAILED_PRECONDITION);
}

static void
test_malformed_json(void **state)
{
	(void) state;
	static const struct {
		const char *text;
		const char *why; /* a part of the message */
	} cases[] = {
	    {"", "not valid JSON"}, {"{\"3166-1\": [", "not valid JSON"}, {"[]", "expected"},
	    {"{\"3166-1\": []}", "expected"}, {"{\"3166-1\": {}}", "expected"},
	    {"{\"3166-1\": [1]}", "entry 0: entry is not an object"},
	    {"{\"3166-1\": [{\"alpha_3\": \"FRA\", \"numeric\": \"250\", \"name\": \"France\"}]}",
	        "entry 0: alpha_2"},
	    {"{\"3166-1\": [{\"alpha_2\": \"F1\", \"alpha_3\": \"FRA\", \"numeric\": \"250\","
	     " \"name\": \"France\"}]}",
	        "alpha_2 is not two letters"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRAN\", \"numeric\": \"250\","
	     " \"name\": \"France\"}]}",
	        "alpha_3"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": 250,"
	     " \"name\": \"France\"}]}",
	        "numeric"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": \"25a\","
	     " \"name\": \"France\"}]}",
	        "numeric"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": \"250\"}]}",
	        "name is missing"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": \"250\","
	     " \"name\": \"\"}]}",
	        "name is empty"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": \"250\","
	     " \"name\": \"France\", \"official_name\": 7}]}",
	        "official_name is not a string"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": \"250\","
	     " \"name\": \"France\"}, {\"alpha_2\": \"fr\", \"alpha_3\": \"FRX\", \"numeric\": "
	     "\"251\", \"name\": \"Francia\"}]}",
	        "alpha_2 FR given twice"},
	    {"{\"3166-1\": [{\"alpha_2\": \"FR\", \"alpha_3\": \"FRA\", \"numeric\": \"250\","
	     " \"name\": \"France\"}, {\"alpha_2\": \"FX\", \"alpha_3\": \"fra\", \"numeric\": "
	     "\"251\", \"name\": \"Francia\"}]}",
	        "alpha_3 FRA given twice"},
	    {"{\"3166-1\": [], \"3166-1\": []}", "not valid JSON"}, /* duplicate key */
	};
	char *dir = test_mkdtemp("iso3166-json");
	char path[4096];
	snprintf(path, sizeof(path), "%s/iso_3166-1.json", dir);
	for (size_t i = 0; i < OD_ARRAY_LEN(cases); i++) {
		od_iso3166 *t = NULL;
		orgdir_status st;
		write_text(path, cases[i].text);
		assert_int_equal(od_iso3166_load(path, dir, &t, &st), ORGDIR_FAILED_PRECONDITION);
		assert_null(t);
		if (strstr(st.message, path) == NULL || strstr(st.message, cases[i].why) == NULL ||
		    strstr(st.message, "iso-codes") == NULL) {
			fail_msg("case %zu: unexpected message: %s", i, st.message);
		}
	}
	/* A directory where the file should be. */
	od_iso3166 *t = NULL;
	orgdir_status st;
	assert_int_equal(od_iso3166_load(dir, dir, &t, &st), ORGDIR_FAILED_PRECONDITION);
	assert_non_null(strstr(st.message, "not a regular file"));
	/* The JSON alone, without any catalogue, is a complete English table. */
	write_text(path, small_json);
	assert_int_equal(od_iso3166_load(path, dir, &t, &st), ORGDIR_OK);
	assert_int_equal(od_iso3166_count(t), 3);
	assert_int_equal(od_iso3166_lang_count(t), 1);
	assert_string_equal(od_iso3166_at(t, 0)->alpha2, "CI");
	assert_string_equal(od_iso3166_at(t, 2)->alpha2, "FR"); /* "fr" normalised */
	assert_string_equal(od_iso3166_at(t, 2)->alpha3, "FRA");
	assert_string_equal(name_of(t, "DE", "fr"), "Germany");
	assert_string_equal(
	    od_iso3166_find(t, "DEU")->official_name, "Federal Republic of Germany");
	od_iso3166_free(t);
	test_rmtree(dir);
	free(dir);
}

/* --- hand-made catalogues --------------------------------------------------- */

static void
write_mo(
    const char *dir, const char *sub, const mo_entry *e, uint32_t n, bool big, uint32_t revision)
{
	char path[4096];
	size_t size;
	unsigned char *p = mo_build(e, n, big, revision, &size);
	mo_path(path, sizeof(path), dir, sub);
	write_bytes(path, p, size);
	free(p);
}

static void
test_own_catalogues(void **state)
{
	(void) state;
	char *dir = test_mkdtemp("iso3166-mo");
	char json[4096];
	snprintf(json, sizeof(json), "%s/iso_3166-1.json", dir);
	write_text(json, small_json);

	/* fr, little-endian: Germany only under a context (used, as there is no
	 * context-less entry); CI untranslated (""), so no French entry. */
	static const mo_entry fr[] = {
	    MO_E("", HEADER_UTF8),
	    MO_E("France", "France (fr)"),
	    MO_E("country\x04Germany", "Allemagne (ctx)"),
	    MO_E(CI_EN, ""),
	    MO_E("Federal Republic of Germany",
	        "R\xc3\xa9publique f\xc3\xa9"
	        "d\xc3\xa9rale"),
	    MO_E("Atlantis", "Atlantide"),
	};
	write_mo(dir, "fr", fr, OD_ARRAY_LEN(fr), false, 0);
	/* es, big-endian, revision 1.1: a context entry before the context-less
	 * one (which wins), and a plural entry (matched on its singular, first
	 * form used). */
	static const mo_entry es[] = {
	    MO_E("pais\x04Germany", "WRONG"),
	    MO_E("Germany", "Alemania"),
	    MO_E("France\0Frances", "Francia\0Francias"),
	    MO_E("", "Content-Type: text/plain; charset=utf-8\nPlural-Forms: nplurals=2;\n"),
	};
	write_mo(dir, "es", es, OD_ARRAY_LEN(es), true, 0x00010001u);
	/* ar: not UTF-8, refused whole. */
	static const mo_entry ar[] = {
	    MO_E("", "Content-Type: text/plain; charset=ISO-8859-6\n"),
	    MO_E("Germany", "\xc3\xe4\xe5\xc7\xe6\xea\xc7"),
	};
	write_mo(dir, "ar", ar, OD_ARRAY_LEN(ar), false, 0);
	/* ru: an unknown major revision, refused. */
	static const mo_entry ru[] = {MO_E("Germany", "\xd0\x93\xd0\xb5\xd1\x80\xd0\xbc")};
	write_mo(dir, "ru", ru, OD_ARRAY_LEN(ru), false, 0x00020000u);
	/* zh is read from zh_CN; a "zh" directory is not looked at. */
	static const mo_entry zh[] = {MO_E("Germany", "\xe5\xbe\xb7\xe5\x9b\xbd")};
	write_mo(dir, "zh_CN", zh, OD_ARRAY_LEN(zh), false, 0);
	static const mo_entry zh_wrong[] = {MO_E("Germany", "WRONG")};
	write_mo(dir, "zh", zh_wrong, OD_ARRAY_LEN(zh_wrong), false, 0);

	od_iso3166 *t = NULL;
	orgdir_status st;
	capture_begin(dir);
	orgdir_code rc = od_iso3166_load(json, dir, &t, &st);
	char *log = capture_end();
	assert_int_equal(rc, ORGDIR_OK);
	assert_int_equal(count_lines(log, "damaged catalogue"), 2);
	assert_non_null(strstr(log,
	    "ar/LC_MESSAGES/iso_3166-1.mo: damaged catalogue "
	    "(charset is not UTF-8)"));
	assert_non_null(strstr(log,
	    "ru/LC_MESSAGES/iso_3166-1.mo: damaged catalogue "
	    "(unknown major revision)"));
	free(log);
	assert_int_equal(od_iso3166_lang_count(t), 4);
	size_t n;
	assert_string_equal(od_iso3166_lang_at(t, 0, &n), "en");
	assert_int_equal(n, 3);
	assert_string_equal(od_iso3166_lang_at(t, 1, &n), "fr");
	assert_int_equal(n, 2);
	assert_string_equal(od_iso3166_lang_at(t, 2, &n), "es");
	assert_int_equal(n, 2);
	assert_string_equal(od_iso3166_lang_at(t, 3, &n), "zh");
	assert_int_equal(n, 1);

	assert_string_equal(name_of(t, "FR", "fr"), "France (fr)");
	assert_string_equal(name_of(t, "DE", "fr"), "Allemagne (ctx)");
	assert_null(entry_of(od_iso3166_find(t, "CI"), "fr"));
	assert_string_equal(name_of(t, "CI", "fr"), CI_EN);
	assert_string_equal(name_of(t, "DE", "es"), "Alemania");
	assert_string_equal(name_of(t, "FR", "es"), "Francia");
	assert_string_equal(name_of(t, "DE", "ar"), "Germany");
	assert_string_equal(name_of(t, "DE", "ru"), "Germany");
	assert_string_equal(name_of(t, "DE", "zh"), "\xe5\xbe\xb7\xe5\x9b\xbd");
	/* Names stay in the languages' load order after English. */
	const od_iso_country *de = od_iso3166_find(t, "DE");
	assert_int_equal(de->n_names, 4);
	assert_string_equal(de->names[1].lang, "fr");
	assert_string_equal(de->names[2].lang, "es");
	assert_string_equal(de->names[3].lang, "zh");
	od_iso3166_free(t);
	test_rmtree(dir);
	free(dir);
}

/* --- damaged catalogues ---------------------------------------------------- */

/* Loads small_json with `mo` as the only (fr) catalogue; returns how many
 * French names it got. The load itself must succeed. */
static size_t
load_with_fr(const char *dir, const char *json, const unsigned char *mo, size_t n)
{
	char path[4096];
	mo_path(path, sizeof(path), dir, "fr");
	write_bytes(path, mo, n);
	od_iso3166 *t = NULL;
	orgdir_status st;
	capture_begin(dir);
	orgdir_code rc = od_iso3166_load(json, dir, &t, &st);
	char *log = capture_end();
	if (rc != ORGDIR_OK) {
		fail_msg("load failed: %s", st.message);
	}
	assert_int_equal(od_iso3166_count(t), 3);
	/* A refused catalogue is reported once, by path; a sound one never. */
	size_t warned = count_lines(log, "damaged catalogue");
	assert_int_equal(count_lines(log, path), warned);
	assert_int_equal(warned, od_iso3166_lang_count(t) == 1 ? 1 : 0);
	free(log);
	size_t got = 0;
	if (od_iso3166_lang_count(t) == 2) {
		assert_string_equal(od_iso3166_lang_at(t, 1, &got), "fr");
	} else {
		assert_int_equal(od_iso3166_lang_count(t), 1);
	}
	for (size_t i = 0; i < 3; i++) {
		const od_iso_country *c = od_iso3166_at(t, i);
		for (size_t k = 0; k < c->n_names; k++) {
			assert_true(od_utf8_valid(c->names[k].text, strlen(c->names[k].text)));
		}
	}
	od_iso3166_free(t);
	return got;
}

/* The byte offset of table entry i's (length, offset) pair, and the string
 * offset it names, in the real (little-endian) French catalogue. */
static uint32_t
real_string(const unsigned char *mo, bool translation, uint32_t i, uint32_t *desc)
{
	uint32_t table = get_le32(mo + (translation ? 16 : 12));
	*desc = table + 8 * i;
	return get_le32(mo + *desc + 4);
}

/* Index of msgid `id` in the real catalogue (linear: a test helper). */
static uint32_t
real_index(const unsigned char *mo, const char *id)
{
	uint32_t n = get_le32(mo + 8);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t d;
		uint32_t off = real_string(mo, false, i, &d);
		if (strcmp((const char *) mo + off, id) == 0) {
			return i;
		}
	}
	fail_msg("msgid %s not in the catalogue", id);
	return 0;
}

static void
test_corrupt_catalogues(void **state)
{
	(void) state;
	size_t size;
	unsigned char *orig = read_bytes(FR_MO, &size);
	unsigned char *mo = malloc(size);
	assert_non_null(mo);
	char *dir = test_mkdtemp("iso3166-bad");
	char json[4096];
	snprintf(json, sizeof(json), "%s/iso_3166-1.json", dir);
	write_text(json, small_json);
	assert_int_equal(get_le32(orig), 0x950412deu); /* the real one is little-endian */

	/* The real catalogue as it is gives all three. */
	assert_int_equal(load_with_fr(dir, json, orig, size), 3);

	/* Every truncation is refused: too short, tables cut, last string cut. */
	for (size_t cut = 0; cut < size; cut += (cut < 64 ? 1 : 211)) {
		assert_int_equal(load_with_fr(dir, json, orig, cut), 0);
	}
	assert_int_equal(load_with_fr(dir, json, orig, size - 1), 0);

	/* Bad magic. */
	memcpy(mo, orig, size);
	mo[0] ^= 0x01;
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	/* The right magic, the wrong byte order for the rest. */
	memcpy(mo, orig, size);
	put32(mo, 0x950412deu, true);
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	/* N far past what the file holds, and N at UINT32_MAX. */
	memcpy(mo, orig, size);
	put32(mo + 8, (uint32_t) size, false);
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	put32(mo + 8, UINT32_MAX, false);
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	/* Table offsets past the end and at UINT32_MAX (no wrap-around). */
	for (int which = 12; which <= 16; which += 4) {
		memcpy(mo, orig, size);
		put32(mo + which, (uint32_t) size, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
		put32(mo + which, UINT32_MAX - 4, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	}

	uint32_t de = real_index(orig, "Germany");
	uint32_t desc;
	for (int tr = 0; tr <= 1; tr++) {
		/* A string offset past the end, and one whose end wraps around. */
		memcpy(mo, orig, size);
		real_string(mo, tr, de, &desc);
		put32(mo + desc + 4, (uint32_t) size + 100, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
		put32(mo + desc + 4, UINT32_MAX, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
		/* A length past the end, and UINT32_MAX. */
		memcpy(mo, orig, size);
		put32(mo + desc, (uint32_t) size, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
		put32(mo + desc, UINT32_MAX, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
		/* A string not NUL-terminated where its length says. */
		memcpy(mo, orig, size);
		put32(mo + desc, get_le32(mo + desc) - 1, false);
		assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	}
	/* A string of the header entry cut the same way (not a name we use). */
	memcpy(mo, orig, size);
	put32(mo + 28, 5, false); /* entry 0 is msgid "": claim 5 bytes */
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	/* A translation we keep that is not UTF-8. */
	memcpy(mo, orig, size);
	mo[real_string(mo, true, de, &desc)] = 0xff;
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	/* An over-long UTF-8 form is not UTF-8 either ("A" as C1 81). */
	memcpy(mo, orig, size);
	uint32_t off = real_string(mo, true, de, &desc);
	mo[off] = 0xc1;
	mo[off + 1] = 0x81;
	assert_int_equal(load_with_fr(dir, json, mo, size), 0);
	/* A translation we do not use may be anything. */
	memcpy(mo, orig, size);
	mo[real_string(mo, true, real_index(orig, "Belgium"), &desc)] = 0xff;
	assert_int_equal(load_with_fr(dir, json, mo, size), 3);
	/* A directory in the catalogue's place is skipped. */
	char path[4096];
	mo_path(path, sizeof(path), dir, "fr");
	remove(path);
	mkdir(path, 0700);
	od_iso3166 *t = NULL;
	orgdir_status st;
	capture_begin(dir);
	orgdir_code rc = od_iso3166_load(json, dir, &t, &st);
	char *log = capture_end();
	assert_int_equal(rc, ORGDIR_OK);
	assert_non_null(strstr(log, "not a regular file"));
	free(log);
	assert_int_equal(od_iso3166_lang_count(t), 1);
	od_iso3166_free(t);
	rmdir(path);

	/* Random damage in the header, the tables and the first strings: never
	 * a crash, and never a name that is not UTF-8 (checked inside). A fixed
	 * seed keeps failures reproducible. */
	uint32_t seed = 20240611u;
	size_t hot = 28 + 16 * (size_t) get_le32(orig + 8) + 64;
	size_t refused = 0;
	for (int round = 0; round < 300; round++) {
		memcpy(mo, orig, size);
		int flips = 1 + round % 4;
		for (int k = 0; k < flips; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % (round % 2 ? size : hot);
			seed = seed * 1103515245u + 12345u;
			mo[at] ^= (unsigned char) (1u << ((seed >> 16) % 8));
		}
		refused += load_with_fr(dir, json, mo, size) == 0;
	}
	print_message("    random damage: %zu of 300 catalogues refused\n", refused);
	assert_true(refused > 0);

	test_rmtree(dir);
	free(dir);
	free(mo);
	free(orig);
}

/* --- the locale, threads, speed ---------------------------------------------- */

static void
test_process_locale_has_no_effect(void **state)
{
	(void) state;
	od_iso3166 *before = load_default();
	static const char *const vars[] = {"LANGUAGE", "LC_ALL"};
	char *saved[2];
	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(vars[i]);
		saved[i] = v != NULL ? strdup(v) : NULL;
	}
	setenv("LANGUAGE", "fr", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	assert_non_null(setlocale(LC_ALL, ""));
	od_iso3166 *after = load_default();
	assert_int_equal(od_iso3166_count(after), od_iso3166_count(before));
	for (size_t i = 0; i < od_iso3166_count(before); i++) {
		const od_iso_country *a = od_iso3166_at(before, i);
		const od_iso_country *b = od_iso3166_at(after, i);
		assert_string_equal(a->alpha2, b->alpha2);
		assert_int_equal(a->n_names, b->n_names);
		for (size_t k = 0; k < a->n_names; k++) {
			assert_string_equal(a->names[k].lang, b->names[k].lang);
			assert_string_equal(a->names[k].text, b->names[k].text);
		}
	}
	assert_string_equal(name_of(after, "DE", "en"), "Germany");
	assert_string_equal(name_of(after, "DE", NULL), "Germany");
	assert_string_equal(name_of(after, "DE", "fr"), "Allemagne");
	assert_ptr_equal(od_iso3166_find(after, "ci"), od_iso3166_find(after, "CIV"));
	setlocale(LC_ALL, "C");
	for (size_t i = 0; i < 2; i++) {
		if (saved[i] != NULL) {
			setenv(vars[i], saved[i], 1);
			free(saved[i]);
		} else {
			unsetenv(vars[i]);
		}
	}
	od_iso3166_free(before);
	od_iso3166_free(after);
}

static void *
reader(void *arg)
{
	const od_iso3166 *t = arg;
	static const char *const langs[] = {"en", "fr", "es", "ar", "ru", "zh", "de", NULL};
	uintptr_t bad = 0;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < od_iso3166_count(t); i++) {
			const od_iso_country *c = od_iso3166_at(t, i);
			char lower[4] = {(char) (c->alpha3[0] | 0x20), (char) (c->alpha3[1] | 0x20),
			    (char) (c->alpha3[2] | 0x20), '\0'};
			bad += od_iso3166_find(t, c->alpha2) != c;
			bad += od_iso3166_find(t, lower) != c;
			bad +=
			    od_iso3166_name(c, langs[(size_t) round % OD_ARRAY_LEN(langs)]) == NULL;
		}
	}
	bad += strcmp(name_of(t, "DE", "fr"), "Allemagne") != 0;
	return (void *) bad;
}

static void
test_concurrent_readers(void **state)
{
	(void) state;
	od_iso3166 *t = load_default();
	pthread_t th[4];
	for (size_t i = 0; i < OD_ARRAY_LEN(th); i++) {
		assert_int_equal(pthread_create(&th[i], NULL, reader, t), 0);
	}
	for (size_t i = 0; i < OD_ARRAY_LEN(th); i++) {
		void *bad = NULL;
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_null(bad);
	}
	od_iso3166_free(t);
}

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;
	return (x > y) - (x < y);
}

static void
test_load_time(void **state)
{
	(void) state;
	double ms[15];
	for (size_t i = 0; i < OD_ARRAY_LEN(ms); i++) {
		double t0 = now_ms();
		od_iso3166 *t = load_default();
		ms[i] = now_ms() - t0;
		od_iso3166_free(t);
	}
	qsort(ms, OD_ARRAY_LEN(ms), sizeof(ms[0]), cmp_double);
	print_message("    load: median %.3f ms, min %.3f ms, max %.3f ms\n", ms[7], ms[0], ms[14]);
	/* Generous: valgrind runs this 30-50 times slower. */
	assert_true(ms[0] < 2000.0);
}

static void
test_null_safety(void **state)
{
	(void) state;
	od_iso3166_free(NULL);
	assert_int_equal(od_iso3166_count(NULL), 0);
	assert_null(od_iso3166_at(NULL, 0));
	assert_int_equal(od_iso3166_lang_count(NULL), 0);
	assert_null(od_iso3166_lang_at(NULL, 0, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count_and_sorted),
	    cmocka_unit_test(test_france),
	    cmocka_unit_test(test_find_unknown),
	    cmocka_unit_test(test_names_in_languages),
	    cmocka_unit_test(test_names_are_utf8),
	    cmocka_unit_test(test_name_fallback_to_english),
	    cmocka_unit_test(test_languages_loaded),
	    cmocka_unit_test(test_missing_json),
	    cmocka_unit_test(test_malformed_json),
	    cmocka_unit_test(test_own_catalogues),
	    cmocka_unit_test(test_corrupt_catalogues),
	    cmocka_unit_test(test_process_locale_has_no_effect),
	    cmocka_unit_test(test_concurrent_readers),
	    cmocka_unit_test(test_load_time),
	    cmocka_unit_test(test_null_safety),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
