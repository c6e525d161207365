/*
 * jtok.h - a strict RFC 8259 JSON tokenizer that a reader pulls values
 * from, one at a time, where it expects them (pbjson.c's input side).
 *
 * There is no tree: the reader asks for the next value, member or element
 * and the tokenizer checks the syntax of exactly that much. Values the
 * reader does not want are its business (it stops), so nothing is ever
 * skipped and nesting costs the tokenizer no stack.
 *
 * Accepted: RFC 8259 and nothing more, except one UTF-8 byte order mark at
 * the start, which is skipped (RFC 8259 section 8.1 allows ignoring it).
 * Refused, each with its position: trailing commas, comments, leading zeros,
 * NaN and Infinity literals, bad escapes, a lone UTF-16 surrogate in a \u
 * escape, control characters and invalid UTF-8 in strings (keys included),
 * anything but whitespace after the top-level value.
 *
 * The text is borrowed; values point into it. Not thread-safe per od_jtok,
 * no global state.
 */
#ifndef OD_JTOK_H
#define OD_JTOK_H

#include <stdbool.h>
#include <stddef.h>

enum od_jtok_kind {
	OD_JTOK_OBJECT, /* '{' consumed: pull its members with od_jtok_member */
	OD_JTOK_ARRAY, /* '[' consumed: pull its elements with od_jtok_element */
	OD_JTOK_STRING,
	OD_JTOK_NUMBER,
	OD_JTOK_TRUE,
	OD_JTOK_FALSE,
	OD_JTOK_NULL,
};

typedef struct od_jtok_value {
	enum od_jtok_kind kind;
	/* STRING: s/n are the raw bytes between the quotes (valid UTF-8, no
	 * control characters); escaped says there are escapes to undo
	 * (od_jtok_unescape), nul that one of them is \u0000. NUMBER: s/n
	 * are its text, checked against the grammar; real says it has a
	 * fraction or an exponent. */
	const char *s;
	size_t n;
	bool escaped;
	bool nul;
	bool real;
} od_jtok_value;

typedef struct od_jtok {
	const char *text; /* after the byte order mark, if any */
	const char *p; /* next byte to read */
	const char *end;
	const char *err_at; /* the first syntax error: where, and why */
	char why[96];
} od_jtok;

/* Starts reading text (len bytes; NULL with len 0 is the empty text). */
void od_jtok_init(od_jtok *t, const char *text, size_t len);

/* Reads the next value into v (an object or array only has its opening
 * bracket consumed). False on a syntax error (see od_jtok_error). */
bool od_jtok_next(od_jtok *t, od_jtok_value *v);

/* Moves to the next member of the object being read (first: right after
 * its '{'): returns 1 with its key in *key and the ':' consumed, so that
 * od_jtok_next reads its value; 0 past the closing '}'; -1 on a syntax
 * error. */
int od_jtok_member(od_jtok *t, bool first, od_jtok_value *key);

/* The same for an array: 1 when an element follows (read it with
 * od_jtok_next), 0 past the closing ']', -1 on a syntax error. */
int od_jtok_element(od_jtok *t, bool first);

/* True when only whitespace is left: the top-level value was the last. */
bool od_jtok_end(od_jtok *t);

/* Writes string v unescaped to out, which has room for v->n bytes (never
 * more is needed); returns its length. Surrogate pairs become one UTF-8
 * sequence. */
size_t od_jtok_unescape(const od_jtok_value *v, char *out);

/* The end of the JSON number at s (before end), or NULL when s does not
 * start one; *real as in od_jtok_next. For numbers written in strings. */
const char *od_jtok_number(const char *s, const char *end, bool *real);

/* Writes "line L, column C: why" for the first syntax error into buf (n
 * bytes, cut to fit, always terminated). Lines count '\n'; columns count
 * characters from 1. */
void od_jtok_error(const od_jtok *t, char *buf, size_t n);

#endif
