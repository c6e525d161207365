/*
 * iso3166.h - ISO 3166-1 reference data (the country list) as shipped by
 * Debian's iso-codes package, with country names in several languages.
 *
 * Sources, read directly and never through the process locale:
 *  - <json_path> (default /usr/share/iso-codes/json/iso_3166-1.json): codes,
 *    English names, English official and common names;
 *  - <locale_dir>/<dir>/LC_MESSAGES/iso_3166-1.mo (default locale_dir
 *    /usr/share/locale): the gettext catalogues of the languages below,
 *    parsed here (no setlocale, no dgettext, so LANG, LC_ALL and LANGUAGE
 *    change nothing). Their msgids are the English `name` values.
 *
 * Languages: "en" (the JSON names, always present) then "fr", "es", "ar",
 * "ru", "zh" (from the zh_CN catalogue, Simplified Chinese). A catalogue that
 * is missing is skipped silently; one that is damaged in any way (bad magic
 * or revision, a table or string outside the file, a string without its
 * terminating NUL, a kept translation that is not UTF-8 or longer than
 * OD_NAME_MAX, a charset other than UTF-8) is skipped as a whole with a
 * warning through od_log, never half-applied. A country whose English name
 * a catalogue does not translate (or translates as "") has no name in that
 * language; od_iso3166_name() then falls back to English.
 * gettext details handled: both byte orders; revisions 0.x and 1.x; a
 * msgid with a context ("ctx\x04msgid") matches msgid only when the
 * catalogue has no context-less entry for it; a plural entry matches on
 * its singular and gives its first form.
 *
 * Ownership and threads: a table owns everything it hands out (countries,
 * codes, names); pointers stay valid until od_iso3166_free(). After
 * od_iso3166_load() returns, the table is never written again, so any number
 * of threads may read it at once without locking.
 */
#ifndef OD_ISO3166_H
#define OD_ISO3166_H

#include <stddef.h>

#include "od.h"

#define OD_ISO3166_JSON_DEFAULT "/usr/share/iso-codes/json/iso_3166-1.json"
#define OD_ISO3166_LOCALE_DIR_DEFAULT "/usr/share/locale"
/* Languages a table can hold: "en" and the five catalogues. */
#define OD_ISO3166_LANGS_MAX 6

typedef struct od_iso_name {
	const char *lang; /* "en", "fr", "es", "ar", "ru", "zh" */
	const char *text; /* UTF-8, never NULL or empty */
} od_iso_name;

typedef struct od_iso_country {
	char alpha2[3]; /* "FR" (upper case) */
	char alpha3[4]; /* "FRA" (upper case) */
	char numeric[4]; /* "250" (kept as the 3-digit string) */
	/* names[0] is English; then one per loaded language that translates
	 * this country, in the order of od_iso3166_lang_at(). */
	const od_iso_name *names;
	size_t n_names;
	/* English only, from the JSON; NULL when iso-codes has none. */
	const char *official_name; /* "French Republic" */
	const char *common_name; /* "Bolivia" for BO; rare */
} od_iso_country;

typedef struct od_iso3166 od_iso3166;

/*
 * Loads the table. json_path NULL = OD_ISO3166_JSON_DEFAULT, locale_dir
 * NULL = OD_ISO3166_LOCALE_DIR_DEFAULT. Both are borrowed.
 * On success returns ORGDIR_OK and *out owns a new table (free it with
 * od_iso3166_free). On failure *out is NULL and st says why:
 *  - FAILED_PRECONDITION: the JSON file is missing, unreadable, larger than
 *    4 MiB, not JSON, or malformed (not {"3166-1": [...]}, an entry without
 *    a valid alpha_2/alpha_3/numeric/name, a code given twice, more than
 *    1,000 entries); the message names the file and what is wrong, and
 *    says "install the iso-codes package";
 *  - RESOURCE_EXHAUSTED: out of memory;
 *  - INVALID_ARGUMENT: out is NULL.
 * Catalogue problems never fail the load (see above).
 * Cost: 1.2-1.8 ms here (RelWithDebInfo) for 249 countries and five
 * catalogues, about 1.2 ms of it jansson parsing the 43 KB JSON.
 */
orgdir_code od_iso3166_load(
    const char *json_path, const char *locale_dir, od_iso3166 **out, orgdir_status *st);

/* Frees the table and everything it handed out. NULL is a no-op. */
void od_iso3166_free(od_iso3166 *t);

/* Number of countries (249 with Debian 12's iso-codes 4.15); 0 for NULL. */
size_t od_iso3166_count(const od_iso3166 *t);

/* The i-th country in strictly increasing alpha2 order; NULL when i is out
 * of range. Borrowed from t. */
const od_iso_country *od_iso3166_at(const od_iso3166 *t, size_t i);

/*
 * The country with this alpha-2 or alpha-3 code, ASCII case-insensitive
 * ("fr", "FRA", "Fra"); NULL for anything else (NULL, "", "F", "FRAN",
 * "XX", numeric codes). Binary search: O(log n). Borrowed from t.
 */
const od_iso_country *od_iso3166_find(const od_iso3166 *t, const char *code);

/*
 * The country's name in `lang`: an exact tag match (ASCII case-insensitive),
 * else a match on the primary subtag ("fr-CA" and "fr_CA" give "fr"; note
 * "zh-TW" gives the Simplified "zh" names), else English. NULL or "" lang
 * gives English. Returns NULL only when c is NULL. Borrowed from the table.
 */
const char *od_iso3166_name(const od_iso_country *c, const char *lang);

/* Languages actually loaded, "en" first (at most OD_ISO3166_LANGS_MAX). */
size_t od_iso3166_lang_count(const od_iso3166 *t);
/* The i-th loaded language tag, or NULL when out of range; when n_names is
 * not NULL it receives how many countries have a name in that language. */
const char *od_iso3166_lang_at(const od_iso3166 *t, size_t i, size_t *n_names);

#endif
