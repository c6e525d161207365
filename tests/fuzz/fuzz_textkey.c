/*
 * fuzz_textkey.c - libFuzzer target for the search keys (src/common/textkey.c).
 *
 * Feeds arbitrary bytes to od_textkey_words and od_textkey_normalize and
 * checks, for every input:
 *  - the call succeeds exactly when the input is at most 4096 bytes of
 *    valid UTF-8 without NUL; a refused input gets INVALID_ARGUMENT, a
 *    message, and no emit;
 *  - every word is 1..64 bytes of valid UTF-8, NUL-terminated, with no
 *    ASCII byte other than [a-z0-9] (no upper case, spaces, punctuation),
 *    flags 0 or OD_TEXTKEY_JOINED; a joined form follows at least two
 *    plain words;
 *  - every word is its own key (re-keying it gives exactly that word), so
 *    keys are stable under re-normalisation;
 *  - normalize() gives the plain words joined by single spaces, fits in
 *    OD_TEXTKEY_NORMALIZE_SIZE(len), is its own key, and reports the size
 *    it needs (RESOURCE_EXHAUSTED) when the buffer is one byte short;
 *  - pure-ASCII input (the path without utf8proc) gives the same words as
 *    the same text forced through utf8proc (behind a no-break space).
 * Each input is checked as it is and read as code points (3 bytes each),
 * so random bytes reach all of Unicode. A failed check aborts, which
 * libFuzzer reports with the input.
 *
 * In CMake: tests/fuzz/CMakeLists.txt (-DORGDIR_FUZZ=ON, tools/fuzz.sh).
 * By hand with clang, from the repository root, once build-key has
 * generated the protobuf headers od.h pulls in
 * (cmake --build build-key --target od_proto):
 *
 *   mkdir -p build-key-fuzz && clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Isrc/common -Iinclude -Ibuild-key/gen \
 *     tests/fuzz/fuzz_textkey.c src/common/textkey.c src/common/text.c \
 *     src/common/status.c -lutf8proc -lprotobuf-c -o build-key-fuzz/fuzz_textkey
 *   ./build-key-fuzz/fuzz_textkey -max_len=4200 -max_total_time=60 \
 *     build-key-fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "od.h"
#include "textkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_textkey: check failed at line %d: %s\n", __LINE__, \
			    #cond); \
			abort(); \
		} \
	} while (0)

/* Enough for any accepted input: 4096 bytes give at most ~4096 words. */
#define LIST_MAX (OD_TEXTKEY_NORMALIZE_SIZE(OD_TEXTKEY_INPUT_MAX) * 3)

struct list {
	char s[LIST_MAX]; /* "|w" per word, "|+w" for joined ones */
	size_t n;
	size_t calls;
	size_t plain;
	char key[OD_TEXTKEY_NORMALIZE_SIZE(OD_TEXTKEY_INPUT_MAX)]; /* plain words, spaced */
	size_t key_len;
};

struct one {
	size_t calls;
	char last[OD_TEXTKEY_WORD_MAX + 1];
	size_t last_len;
};

static void
check_word(const char *w, size_t len, unsigned flags)
{
	CHECK(len >= 1 && len <= OD_TEXTKEY_WORD_MAX);
	CHECK(w[len] == '\0');
	CHECK(od_utf8_valid(w, len));
	CHECK(flags == 0 || flags == OD_TEXTKEY_JOINED);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) w[i];
		CHECK(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
	}
}

static void
collect(void *arg, const char *w, size_t len, unsigned flags)
{
	struct list *l = arg;
	check_word(w, len, flags);
	l->calls++;
	if (flags & OD_TEXTKEY_JOINED) {
		CHECK(l->plain >= 2);
	} else {
		l->plain++;
		CHECK(l->key_len + len + 2 <= sizeof(l->key));
		if (l->key_len > 0) {
			l->key[l->key_len++] = ' ';
		}
		memcpy(l->key + l->key_len, w, len);
		l->key_len += len;
		l->key[l->key_len] = '\0';
	}
	CHECK(l->n + len + 3 <= sizeof(l->s));
	l->s[l->n++] = '|';
	if (flags & OD_TEXTKEY_JOINED) {
		l->s[l->n++] = '+';
	}
	memcpy(l->s + l->n, w, len);
	l->n += len;
	l->s[l->n] = '\0';
}

static void
collect_one(void *arg, const char *w, size_t len, unsigned flags)
{
	struct one *l = arg;
	check_word(w, len, flags);
	l->calls++;
	memcpy(l->last, w, len);
	l->last[len] = '\0';
	l->last_len = len;
}

/* Each word, keyed again, is exactly itself. */
static void
check_fixed_point(void *arg, const char *w, size_t len, unsigned flags)
{
	(void) arg;
	(void) flags;
	struct one one = {0};
	CHECK(od_textkey_words(w, len, collect_one, &one, NULL) == ORGDIR_OK);
	CHECK(one.calls == 1);
	CHECK(one.last_len == len && memcmp(one.last, w, len) == 0);
}

static bool
plain_ascii(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0 || p[i] >= 0x80) {
			return false;
		}
	}
	return true;
}

static void
check_text(const uint8_t *data, size_t size)
{
	static _Thread_local struct list a;
	static _Thread_local struct list b;
	static _Thread_local char out[OD_TEXTKEY_NORMALIZE_SIZE(OD_TEXTKEY_INPUT_MAX)];
	static _Thread_local char again[OD_TEXTKEY_NORMALIZE_SIZE(OD_TEXTKEY_INPUT_MAX)];
	static _Thread_local char shifted[OD_TEXTKEY_INPUT_MAX];
	const char *text = (const char *) data;
	bool valid = size <= OD_TEXTKEY_INPUT_MAX && od_utf8_valid(text, size);
	orgdir_status st;

	a.n = a.calls = a.plain = a.key_len = 0;
	a.s[0] = a.key[0] = '\0';
	orgdir_code rc = od_textkey_words(text, size, collect, &a, &st);
	if (!valid) {
		CHECK(rc == ORGDIR_INVALID_ARGUMENT);
		CHECK(st.code == ORGDIR_INVALID_ARGUMENT && st.message[0] != '\0');
		CHECK(a.calls == 0);
		size_t n = 1;
		out[0] = 'x';
		CHECK(
		    od_textkey_normalize(text, size, out, 64, &n, &st) == ORGDIR_INVALID_ARGUMENT);
		CHECK(out[0] == '\0' && n == 0);
		return;
	}
	CHECK(rc == ORGDIR_OK && st.code == ORGDIR_OK);

	/* Words are fixed points. */
	CHECK(od_textkey_words(text, size, check_fixed_point, NULL, NULL) == ORGDIR_OK);

	/* normalize = the plain words joined by spaces; it fits the documented
	 * size and is its own key. */
	size_t cap = OD_TEXTKEY_NORMALIZE_SIZE(size);
	size_t n = 0;
	CHECK(od_textkey_normalize(text, size, out, cap, &n, &st) == ORGDIR_OK);
	CHECK(n < cap && strlen(out) == n);
	CHECK(n == a.key_len && memcmp(out, a.key, n) == 0);
	if (n <= OD_TEXTKEY_INPUT_MAX) {
		size_t n2 = 0;
		CHECK(od_textkey_normalize(out, n, again, sizeof(again), &n2, &st) == ORGDIR_OK);
		CHECK(n2 == n && memcmp(again, out, n) == 0);
	}
	/* One byte short: the size needed, nothing written. */
	size_t need = 0;
	CHECK(od_textkey_normalize(text, size, out, n, &need, &st) == ORGDIR_RESOURCE_EXHAUSTED);
	CHECK(need == n && (n == 0 || out[0] == '\0'));

	/* The ASCII path agrees with the utf8proc path. */
	if (plain_ascii(data, size) && size + 2 <= OD_TEXTKEY_INPUT_MAX) {
		shifted[0] = '\xC2'; /* U+00A0 no-break space */
		shifted[1] = '\xA0';
		memcpy(shifted + 2, data, size);
		b.n = b.calls = b.plain = b.key_len = 0;
		b.s[0] = b.key[0] = '\0';
		CHECK(od_textkey_words(shifted, size + 2, collect, &b, NULL) == ORGDIR_OK);
		CHECK(a.n == b.n && memcmp(a.s, b.s, a.n) == 0);
	}
}

/* Most random bytes are not UTF-8: also read the input as code points, 3
 * bytes each taken modulo 0x110000 (bytes 0x20..0x7E pass as ASCII, so
 * joiners and spaces stay common), to reach every part of Unicode. */
static size_t
as_code_points(const uint8_t *data, size_t size, char *out, size_t cap)
{
	size_t n = 0;
	size_t i = 0;
	while (i < size && n + 4 <= cap) {
		uint32_t cp;
		if (data[i] >= 0x20 && data[i] < 0x7F) {
			cp = data[i++];
		} else if (size - i >= 3) {
			cp =
			    ((uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8 | data[i + 2]) %
			    0x110000;
			i += 3;
		} else {
			break;
		}
		if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
			continue;
		}
		if (cp < 0x80) {
			out[n++] = (char) cp;
		} else if (cp < 0x800) {
			out[n++] = (char) (0xC0 | cp >> 6);
			out[n++] = (char) (0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			out[n++] = (char) (0xE0 | cp >> 12);
			out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			out[n++] = (char) (0x80 | (cp & 0x3F));
		} else {
			out[n++] = (char) (0xF0 | cp >> 18);
			out[n++] = (char) (0x80 | ((cp >> 12) & 0x3F));
			out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			out[n++] = (char) (0x80 | (cp & 0x3F));
		}
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static _Thread_local char cps[OD_TEXTKEY_INPUT_MAX];
	check_text(data, size);
	size_t n = as_code_points(data, size, cps, sizeof(cps));
	CHECK(od_utf8_valid(cps, n));
	check_text((const uint8_t *) cps, n);
	return 0;
}
