/*
 * jtok.c - the strict JSON tokenizer behind the proto3 JSON input (see
 * jtok.h).
 *
 * Speed matters here: an import reads tens of megabytes through it. Most
 * of a document is string bytes, so a string is scanned eight bytes at a
 * time until a quote, a backslash, a control character or a non-ASCII
 * byte; UTF-8 is then checked once per string, by od_utf8_valid, only
 * when the string has non-ASCII bytes. Escapes are checked on the scan
 * and undone only when the reader wants the string (od_jtok_unescape).
 * Line and column are counted only for an error message, from the start.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jtok.h"
#include "od.h"

/* Records the first syntax error only (where, and why: a message that
 * fits t->why) and returns false, so that callers can `return fail_at()`. */
static bool
fail_at(od_jtok *t, const char *at, const char *why)
{
	if (t->err_at == NULL) {
		t->err_at = at;
		snprintf(t->why, sizeof(t->why), "%s", why);
	}
	return false;
}

/* "expected X, got Y": Y names the byte at `at` or the end of the text. */
static bool
fail_got(od_jtok *t, const char *at, const char *expected, const char *hint)
{
	if (t->err_at != NULL) {
		return false;
	}
	t->err_at = at;
	if (at >= t->end) {
		snprintf(t->why, sizeof(t->why), "expected %s, got the end of the text", expected);
		return false;
	}
	unsigned char ch = (unsigned char) *at;
	if (ch > 0x20 && ch < 0x7f) {
		snprintf(t->why, sizeof(t->why), "expected %s, got '%c'%s", expected, ch, hint);
	} else {
		snprintf(
		    t->why, sizeof(t->why), "expected %s, got byte 0x%02x%s", expected, ch, hint);
	}
	return false;
}

static bool
is_ws(char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p)) {
		p++;
	}
	return p;
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

void
od_jtok_init(od_jtok *t, const char *text, size_t len)
{
	static const char bom[] = "\xef\xbb\xbf";

	if (text == NULL) {
		text = "";
		len = 0;
	}
	if (len >= 3 && memcmp(text, bom, 3) == 0) {
		text += 3;
		len -= 3;
	}
	t->text = text;
	t->p = text;
	t->end = text + len;
	t->err_at = NULL;
	t->why[0] = '\0';
}

/* --- strings ------------------------------------------------------------- */

/* The bytes a string scan stops at: '"', '\\', controls and non-ASCII. */
static bool
str_plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

/* The bytes among the 8 at p that str_plain refuses, as their high bits:
 * "has a zero byte" for the quote and the backslash (x ^ c is zero where
 * x is c), "has a byte under 0x20", and the high bits themselves. Borrows
 * can flag a byte above a flagged one too, never one below it: the lowest
 * flag is exact. */
static uint64_t
str_stops8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	uint64_t q = v ^ (ones * '"');
	uint64_t b = v ^ (ones * '\\');
	uint64_t stop = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v) | v;
	return stop & (ones * 0x80);
}

/* The first byte at or after q (before end) that str_plain refuses, or
 * end: eight bytes a step, and on a little-endian machine the lowest flag
 * says which of the eight. */
static const char *
str_skip(const char *q, const char *end)
{
	while (end - q >= 8) {
		uint64_t stops = str_stops8((const unsigned char *) q);
		if (stops != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return q + __builtin_ctzll(stops) / 8;
#else
			break;
#endif
		}
		q += 8;
	}
	while (q < end && str_plain((unsigned char) *q)) {
		q++;
	}
	return q;
}

/* The 4 hex digits at p (before end) as a code unit, or -1. */
static long
hex4(const char *p, const char *end)
{
	long v = 0;
	if (end - p < 4) {
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		int h = od_hex_value(p[i]);
		if (h < 0) {
			return -1;
		}
		v = v << 4 | h;
	}
	return v;
}

/* Checks the escape at *q (its backslash) and moves past it. A high
 * surrogate must be followed by an escaped low one: JSON texts are
 * Unicode, and half a pair is no character. */
static bool
scan_escape(od_jtok *t, const char **q, od_jtok_value *v)
{
	const char *bs = *q;
	const char *p = bs + 1;
	if (p >= t->end) {
		return false; /* the caller reports the unterminated string */
	}
	switch (*p) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		*q = p + 1;
		return true;
	case 'u':
		break;
	default: {
		unsigned char ch = (unsigned char) *p;
		char why[48];
		if (ch > 0x20 && ch < 0x7f) {
			snprintf(why, sizeof(why), "invalid escape '\\%c' in a string", ch);
		} else {
			snprintf(why, sizeof(why), "invalid escape in a string");
		}
		return fail_at(t, bs, why);
	}
	}
	long cu = hex4(p + 1, t->end);
	if (cu < 0) {
		return fail_at(t, bs, "invalid \\u escape: expected 4 hex digits");
	}
	p += 5;
	if (cu >= 0xDC00 && cu <= 0xDFFF) {
		return fail_at(t, bs, "lone low surrogate in a \\u escape");
	}
	if (cu >= 0xD800 && cu <= 0xDBFF) {
		long lo = t->end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2, t->end) : -1;
		if (lo < 0xDC00 || lo > 0xDFFF) {
			return fail_at(t, bs, "lone high surrogate in a \\u escape");
		}
		p += 6;
	}
	if (cu == 0) {
		v->nul = true;
	}
	*q = p;
	return true;
}

/* Where the first bad UTF-8 sequence of s (n bytes, known to be bad)
 * starts: for the error's column only, so each sequence is handed to
 * od_utf8_valid on its own. */
static const char *
first_bad_utf8(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char b = (unsigned char) s[i];
		size_t len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
		if (len > n - i || !od_utf8_valid(s + i, len)) {
			return s + i;
		}
		i += len;
	}
	return s + n;
}

/* The string starting at t->p (its opening quote). */
static bool
scan_string(od_jtok *t, od_jtok_value *v)
{
	const char *open = t->p;
	const char *q = open + 1;
	const char *end = t->end;
	bool high = false;

	v->kind = OD_JTOK_STRING;
	v->escaped = false;
	v->nul = false;
	for (;;) {
		q = str_skip(q, end);
		if (q >= end) {
			return fail_at(t, open, "unterminated string");
		}
		unsigned char ch = (unsigned char) *q;
		if (ch == '"') {
			break;
		}
		if (ch == '\\') {
			v->escaped = true;
			/* A bad escape has said why; one cut by the end has not. */
			if (!scan_escape(t, &q, v)) {
				return fail_at(t, open, "unterminated string");
			}
			continue;
		}
		if (ch < 0x20) {
			char why[64];
			snprintf(why, sizeof(why),
			    "control character 0x%02x in a string (escape it: \\u%04x)", ch, ch);
			return fail_at(t, q, why);
		}
		high = true;
		q++;
	}
	v->s = open + 1;
	v->n = (size_t) (q - v->s);
	/* Escapes are ASCII, so the raw bytes are valid UTF-8 exactly when
	 * the string is. */
	if (high && !od_utf8_valid(v->s, v->n)) {
		return fail_at(t, first_bad_utf8(v->s, v->n), "invalid UTF-8 in a string");
	}
	t->p = q + 1;
	return true;
}

static size_t
put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char) (0xC0 | cp >> 6);
		o[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char) (0xE0 | cp >> 12);
		o[1] = (char) (0x80 | (cp >> 6 & 0x3F));
		o[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char) (0xF0 | cp >> 18);
	o[1] = (char) (0x80 | (cp >> 12 & 0x3F));
	o[2] = (char) (0x80 | (cp >> 6 & 0x3F));
	o[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Every escape was checked by scan_escape; each one is at least as long
 * as what it stands for (\uXXXX: 6 bytes for at most 3, a pair: 12 for 4),
 * hence room for v->n bytes is enough. */
size_t
od_jtok_unescape(const od_jtok_value *v, char *out)
{
	const char *s = v->s;
	const char *e = s + v->n;
	char *o = out;

	while (s < e) {
		const char *bs = memchr(s, '\\', (size_t) (e - s));
		size_t plain = (size_t) ((bs != NULL ? bs : e) - s);
		memcpy(o, s, plain);
		o += plain;
		s += plain;
		if (s == e) {
			break;
		}
		char ch = s[1];
		s += 2;
		switch (ch) {
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			unsigned long cp = (unsigned long) hex4(s, e);
			s += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned long lo = (unsigned long) hex4(s + 2, e);
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				s += 6;
			}
			o += put_utf8(o, cp);
			break;
		}
		default: /* '"', '\\', '/' */
			*o++ = ch;
			break;
		}
	}
	return (size_t) (o - out);
}

/* --- numbers, literals ---------------------------------------------------- */

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? from s: its end, or NULL
 * with *bad and *why set. */
static const char *
scan_number(const char *s, const char *end, bool *real, const char **bad, const char **why)
{
	const char *p = s;

	*real = false;
	if (p < end && *p == '-') {
		p++;
	}
	if (p >= end || !is_digit(*p)) {
		*bad = p;
		*why = "expected a digit after '-'";
		return NULL;
	}
	if (*p == '0') {
		p++;
		if (p < end && is_digit(*p)) {
			*bad = p - 1;
			*why = "leading zeros are not allowed in a number";
			return NULL;
		}
	} else {
		while (p < end && is_digit(*p)) {
			p++;
		}
	}
	if (p < end && *p == '.') {
		*real = true;
		p++;
		if (p >= end || !is_digit(*p)) {
			*bad = p;
			*why = "expected a digit after '.' in a number";
			return NULL;
		}
		while (p < end && is_digit(*p)) {
			p++;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		*real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-')) {
			p++;
		}
		if (p >= end || !is_digit(*p)) {
			*bad = p;
			*why = "expected a digit in the exponent of a number";
			return NULL;
		}
		while (p < end && is_digit(*p)) {
			p++;
		}
	}
	return p;
}

const char *
od_jtok_number(const char *s, const char *end, bool *real)
{
	const char *bad;
	const char *why;
	return scan_number(s, end, real, &bad, &why);
}

static bool
scan_literal(od_jtok *t, const char *word, size_t n, enum od_jtok_kind kind, od_jtok_value *v)
{
	if ((size_t) (t->end - t->p) < n || memcmp(t->p, word, n) != 0) {
		return fail_got(t, t->p, "a value", " (JSON's words are true, false and null)");
	}
	t->p += n;
	v->kind = kind;
	return true;
}

/* --- structure ----------------------------------------------------------- */

bool
od_jtok_next(od_jtok *t, od_jtok_value *v)
{
	const char *p = skip_ws(t->p, t->end);

	t->p = p;
	if (p >= t->end) {
		return fail_got(t, p, "a value", "");
	}
	switch (*p) {
	case '{':
		t->p = p + 1;
		v->kind = OD_JTOK_OBJECT;
		return true;
	case '[':
		t->p = p + 1;
		v->kind = OD_JTOK_ARRAY;
		return true;
	case '"':
		return scan_string(t, v);
	case 't':
		return scan_literal(t, "true", 4, OD_JTOK_TRUE, v);
	case 'f':
		return scan_literal(t, "false", 5, OD_JTOK_FALSE, v);
	case 'n':
		return scan_literal(t, "null", 4, OD_JTOK_NULL, v);
	case '/':
		return fail_got(t, p, "a value", " (JSON has no comments)");
	case 'N':
	case 'I':
		return fail_got(t, p, "a value", " (NaN and Infinity are written as strings)");
	default:
		break;
	}
	if (*p != '-' && !is_digit(*p)) {
		return fail_got(t, p, "a value", "");
	}
	const char *bad;
	const char *why;
	const char *e = scan_number(p, t->end, &v->real, &bad, &why);
	if (e == NULL) {
		return fail_at(t, bad, why);
	}
	v->kind = OD_JTOK_NUMBER;
	v->s = p;
	v->n = (size_t) (e - p);
	t->p = e;
	return true;
}

/*
 * The start of an object's member or an array's element (`close` is '}' or
 * ']'; `item` names what comes: "a key", "a value"): 0 past the closing
 * bracket, 1 with t->p at the item, -1 on a syntax error.
 */
static int
item_start(od_jtok *t, bool first, char close, const char *item)
{
	const char *p = skip_ws(t->p, t->end);
	char sep[16];

	if (p < t->end && *p == close) {
		t->p = p + 1;
		return 0;
	}
	if (!first) {
		if (p >= t->end || *p != ',') {
			snprintf(sep, sizeof(sep), "',' or '%c'", close);
			fail_got(t, p, sep, "");
			return -1;
		}
		p = skip_ws(p + 1, t->end);
		if (p < t->end && *p == close) {
			fail_got(t, p, item, " (JSON has no trailing commas)");
			return -1;
		}
	}
	t->p = p;
	return 1;
}

int
od_jtok_member(od_jtok *t, bool first, od_jtok_value *key)
{
	int r = item_start(t, first, '}', "a key");
	if (r != 1) {
		return r;
	}
	const char *p = t->p;
	if (p >= t->end || *p != '"') {
		fail_got(t, p, first ? "a key or '}'" : "a key", "");
		return -1;
	}
	if (!scan_string(t, key)) {
		return -1;
	}
	p = skip_ws(t->p, t->end);
	if (p >= t->end || *p != ':') {
		fail_got(t, p, "':' after the key", "");
		return -1;
	}
	t->p = p + 1;
	return 1;
}

int
od_jtok_element(od_jtok *t, bool first)
{
	return item_start(t, first, ']', "a value");
}

bool
od_jtok_end(od_jtok *t)
{
	const char *p = skip_ws(t->p, t->end);
	if (p < t->end) {
		return fail_got(t, p, "the end of the text after the value", "");
	}
	t->p = p;
	return true;
}

void
od_jtok_error(const od_jtok *t, char *buf, size_t n)
{
	const char *at = t->err_at != NULL ? t->err_at : t->p;
	const char *line_start = t->text;
	unsigned long line = 1;
	unsigned long col = 1;

	if (n == 0) {
		return;
	}
	for (const char *q = t->text; q < at;) {
		const char *nl = memchr(q, '\n', (size_t) (at - q));
		if (nl == NULL) {
			break;
		}
		line++;
		line_start = nl + 1;
		q = nl + 1;
	}
	/* Characters, not bytes: a UTF-8 continuation byte starts none. */
	for (const char *q = line_start; q < at; q++) {
		col += ((unsigned char) *q & 0xC0) != 0x80;
	}
	snprintf(buf, n, "line %lu, column %lu: %s", line, col,
	    t->err_at != NULL ? t->why : "syntax error");
}
