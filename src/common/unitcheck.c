/* unitcheck.c - the rules a stored unit obeys (ids, kinds, languages, sizes). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "od.h"

#define ACRONYM_MAX 32
#define URL_MAX 2048

orgdir_code
od_check_text(const char *what, const char *s, size_t max, bool lines, orgdir_status *st)
{
	size_t n = strlen(s);
	if (n > max) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s is %zu bytes long; the limit is %zu", what, n, max);
	}
	if (!od_utf8_valid(s, n)) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s is not valid UTF-8", what);
	}
	const unsigned char *bad = od_control_char(s, lines);
	if (bad != NULL) {
		unsigned cp = *bad == 0xc2 ? bad[1] : *bad;
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s holds the control character U+%04X at byte %zu%s", what, cp,
		    (size_t) (bad - (const unsigned char *) s),
		    lines ? "" : " (a single line: no tabs or line breaks)");
	}
	return ORGDIR_OK;
}

static orgdir_code
check_str(const char *what, const char *s, size_t max, orgdir_status *st)
{
	return od_check_text(what, s, max, false, st);
}

/* An address people write to: local@domain, one '@', something on each
 * side, and none of the characters that would make it several addresses or
 * a header (space, control, < > , ; " ( ) [ ] \). Non-ASCII is allowed
 * (internationalised addresses). Empty is "none". */
static orgdir_code
check_email(const char *what, const char *s, orgdir_status *st)
{
	orgdir_code c = check_str(what, s, OD_SHORT_MAX, st);
	if (c != ORGDIR_OK || s[0] == '\0') {
		return c;
	}
	/* check_str refused control characters and invalid UTF-8 already. */
	const char *at = strchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strpbrk(s, " <>,;\"()[]\\") != NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s '%.64s' is not an address like name@example.org", what, s);
	}
	return ORGDIR_OK;
}

/* A link an intranet page can show: http:// or https:// and a host, no
 * space, control character, quote or angle bracket (so never javascript:
 * or data:). Empty is "none". */
static orgdir_code
check_url(const char *what, const char *s, orgdir_status *st)
{
	orgdir_code c = check_str(what, s, URL_MAX, st);
	if (c != ORGDIR_OK || s[0] == '\0') {
		return c;
	}
	size_t scheme = strncasecmp(s, "https://", 8) == 0 ? 8
	    : strncasecmp(s, "http://", 7) == 0            ? 7
	                                                   : 0;
	if (scheme == 0 || s[scheme] == '\0' || s[scheme] == '/' || strpbrk(s, " \"<>") != NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s '%.64s' is not an http:// or https:// address without spaces or quotes",
		    what, s);
	}
	return ORGDIR_OK;
}

orgdir_code
od_check_localized(const char *what, Orgdir__V1__LocalizedString *const *v, size_t n, size_t max,
    bool required, bool lines, orgdir_status *st)
{
	char field[96];
	if (required && n == 0) {
		return od_status_set(
		    st, ORGDIR_INVALID_ARGUMENT, "%s is required (in at least one language)", what);
	}
	if (n > OD_LANGS_MAX) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s has %zu languages; the limit is %d", what, n, OD_LANGS_MAX);
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] == NULL || !od_lang_valid(v[i]->lang)) {
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "%s: '%.40s' is not a BCP 47 language tag (e.g. en, fr, es, pt-BR)",
			    what,
			    v[i] != NULL && od_utf8_valid(v[i]->lang, strlen(v[i]->lang))
			        ? v[i]->lang
			        : "?");
		}
		/* The field's name only for a message (this runs for every text
		 * of every unit an import writes). */
		orgdir_code c = od_check_text("", v[i]->text, max, lines, st);
		if (c != ORGDIR_OK) {
			snprintf(field, sizeof(field), "%s[%s]", what, v[i]->lang);
			return od_check_text(field, v[i]->text, max, lines, st);
		}
		if (v[i]->text[0] == '\0') {
			snprintf(field, sizeof(field), "%s[%s]", what, v[i]->lang);
			return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
			    "%s is empty: omit the language instead", field);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(v[j]->lang, v[i]->lang) == 0) {
				return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
				    "%s has language '%s' twice", what, v[i]->lang);
			}
		}
	}
	return ORGDIR_OK;
}

orgdir_code
od_check_id(const char *what, const char *id, orgdir_status *st)
{
	if (id == NULL || id[0] == '\0') {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "%s is required", what);
	}
	if (!od_id_valid(id)) {
		size_t n = strlen(id);
		bool printable = n <= 80 && od_utf8_valid(id, n);
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "%s '%s' is not a valid id: use 1-64 characters a-z, 0-9 and '-', starting "
		    "with a "
		    "letter or digit",
		    what, printable ? id : "(too long or not text)");
	}
	return ORGDIR_OK;
}

/* Drops unknown fields so nothing we did not validate is ever stored. */
static void
strip_unknown(ProtobufCMessage *m)
{
	if (m != NULL) {
		m->n_unknown_fields = 0;
		m->unknown_fields = NULL;
	}
}

orgdir_code
od_unit_check(Orgdir__V1__Unit *u, orgdir_status *st)
{
	orgdir_code c;
	if ((c = od_check_id("unit id", u->id, st)) != ORGDIR_OK) {
		return c;
	}
	if (u->parent_id[0] != '\0' &&
	    (c = od_check_id("parent id", u->parent_id, st)) != ORGDIR_OK) {
		return c;
	}
	if (u->kind <= ORGDIR__V1__UNIT__KIND__KIND_UNSPECIFIED ||
	    u->kind > ORGDIR__V1__UNIT__KIND__OTHER) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "unit '%s': kind is required (ORGANIZATION, EXECUTIVE_OFFICE, DEPUTY_OFFICE, "
		    "OFFICE, "
		    "DEPARTMENT, DIVISION, UNIT, REGIONAL_OFFICE, COUNTRY_OFFICE, SUB_OFFICE, "
		    "LIAISON_OFFICE or OTHER)",
		    u->id);
	}
	strip_unknown(&u->base);
	for (size_t i = 0; i < u->n_name; i++) {
		strip_unknown(&u->name[i]->base);
	}
	for (size_t i = 0; i < u->n_description; i++) {
		strip_unknown(&u->description[i]->base);
	}
	if ((c = od_check_localized("name", u->name, u->n_name, OD_NAME_MAX, true, false, st)) !=
	        ORGDIR_OK ||
	    (c = od_check_localized("description", u->description, u->n_description, OD_TEXT_MAX,
	         false, true, st)) != ORGDIR_OK ||
	    (c = check_str("acronym", u->acronym, ACRONYM_MAX, st)) != ORGDIR_OK) {
		return c;
	}
	if (u->head != NULL) {
		Orgdir__V1__Head *h = u->head;
		strip_unknown(&h->base);
		for (size_t i = 0; i < h->n_title; i++) {
			strip_unknown(&h->title[i]->base);
		}
		if ((c = od_check_localized("head title", h->title, h->n_title, OD_NAME_MAX, false,
		         false, st)) != ORGDIR_OK ||
		    (c = check_str("head name", h->name, OD_NAME_MAX, st)) != ORGDIR_OK ||
		    (c = check_email("head email", h->email, st)) != ORGDIR_OK ||
		    (c = check_str("head phone", h->phone, OD_SHORT_MAX, st)) != ORGDIR_OK) {
			return c;
		}
	}
	if (u->location != NULL) {
		Orgdir__V1__Location *l = u->location;
		strip_unknown(&l->base);
		char *cc = l->country_code;
		size_t n = strlen(cc);
		if (n != 0) {
			/* Lower case is accepted and stored upper case (docs/PROTOCOL.md). */
			bool ok = n == 2;
			for (size_t i = 0; ok && i < 2; i++) {
				char ch = cc[i];
				ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
			}
			if (!ok) {
				return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
				    "location.country_code '%.16s' is not an ISO 3166-1 alpha-2 "
				    "code (two letters, "
				    "e.g. CH)",
				    od_utf8_valid(cc, n) ? cc : "?");
			}
			for (size_t i = 0; i < 2; i++) {
				if (cc[i] >= 'a' && cc[i] <= 'z') {
					cc[i] = (char) (cc[i] - 'a' + 'A');
				}
			}
		}
		if ((c = check_str("location city", l->city, OD_SHORT_MAX, st)) != ORGDIR_OK) {
			return c;
		}
	}
	if (u->contact != NULL) {
		Orgdir__V1__Contact *k = u->contact;
		strip_unknown(&k->base);
		if ((c = check_email("contact email", k->email, st)) != ORGDIR_OK ||
		    (c = check_str("contact phone", k->phone, OD_SHORT_MAX, st)) != ORGDIR_OK ||
		    (c = check_url("contact url", k->url, st)) != ORGDIR_OK) {
			return c;
		}
	}
	return ORGDIR_OK;
}
