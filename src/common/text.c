/* text.c - validation of the strings we accept: UTF-8, ids, language tags. */
#include <ctype.h>
#include <errno.h>
#include <sys/random.h>
#include <string.h>
#include <strings.h>

#include "od.h"

bool
od_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t i = 0;
	while (i < n) {
		if (n - i >= 8 && od_ascii8(s + i)) {
			i += 8;
			continue;
		}
		unsigned c = s[i];
		if (c < 0x80) {
			if (c == 0) {
				return false; /* NUL inside a string is never text */
			}
			i++;
			continue;
		}
		size_t len;
		unsigned cp;
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len) {
			return false;
		}
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF)) {
			return false;
		}
		i += len;
	}
	return true;
}

bool
od_id_valid(const char *s)
{
	size_t n = 0;
	if (s == NULL) {
		return false;
	}
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && n > 0);
		if (!ok || n >= OD_ID_MAX) {
			return false;
		}
	}
	return n > 0;
}

bool
od_lang_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > OD_LANG_MAX) {
		return false;
	}
	size_t i = 0;
	size_t sub = 0;
	int idx = 0;
	while (i <= n) {
		if (i == n || s[i] == '-') {
			if (sub == 0 || sub > 8 || (idx == 0 && sub < 2)) {
				return false;
			}
			idx++;
			sub = 0;
		} else {
			unsigned char c = (unsigned char) s[i];
			if (idx == 0 ? !isalpha(c) : !isalnum(c)) {
				return false;
			}
			if (c >= 0x80) {
				return false;
			}
			sub++;
		}
		i++;
	}
	return true;
}

bool
od_lang_same_primary(const char *a, const char *b)
{
	while (*a && *a != '-' && *b && *b != '-') {
		if (tolower((unsigned char) *a) != tolower((unsigned char) *b)) {
			return false;
		}
		a++;
		b++;
	}
	return (*a == '\0' || *a == '-') && (*b == '\0' || *b == '-');
}

void
od_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
od_hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

long
od_hex_decode(const char *s, uint8_t *out, size_t out_max)
{
	size_t n = strlen(s);
	if (n % 2 != 0 || n / 2 > out_max) {
		return -1;
	}
	for (size_t i = 0; i < n / 2; i++) {
		int hi = od_hex_value(s[2 * i]);
		int lo = od_hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return -1;
		}
		out[i] = (uint8_t) (hi << 4 | lo);
	}
	return (long) (n / 2);
}

void
od_strlcpy(char *dst, const char *src, size_t dst_size)
{
	size_t n = strlen(src);
	if (dst_size == 0) {
		return;
	}
	if (n >= dst_size) {
		n = dst_size - 1;
		/* Back off to the start of a UTF-8 sequence. */
		while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80) {
			n--;
		}
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

const unsigned char *
od_control_char(const char *s, bool lines)
{
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++) {
		if (*p < 0x20 && !(lines && (*p == '\t' || *p == '\n' || *p == '\r'))) {
			return p;
		}
		if (*p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			return p;
		}
	}
	return NULL;
}

void
od_mask_controls(char *s)
{
	unsigned char *p;
	while ((p = (unsigned char *) od_control_char(s, false)) != NULL) {
		if (*p == 0xc2) {
			p[1] = '?'; /* a C1 character is two bytes */
		}
		*p = '?';
		s = (char *) p + 1;
	}
}

void
od_utf8_repair(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char b = (unsigned char) s[i];
		size_t len = b < 0x80        ? 1
		    : b >= 0xC2 && b <= 0xDF ? 2
		    : b >= 0xE0 && b <= 0xEF ? 3
		    : b >= 0xF0 && b <= 0xF4 ? 4
		                             : 0;
		if (len != 0 && i + len <= n && od_utf8_valid(s + i, len)) {
			i += len;
		} else {
			s[i++] = '?';
		}
	}
}

const char *
orgdir_text_pick(Orgdir__V1__LocalizedString *const *values, size_t n, const char *lang)
{
	if (n == 0) {
		return NULL;
	}
	if (lang != NULL && *lang != '\0') {
		for (size_t i = 0; i < n; i++) {
			if (strcasecmp(values[i]->lang, lang) == 0) {
				return values[i]->text;
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (od_lang_same_primary(values[i]->lang, lang)) {
				return values[i]->text;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (od_lang_same_primary(values[i]->lang, "en")) {
			return values[i]->text;
		}
	}
	return values[0]->text;
}

bool
od_random(void *out, size_t n)
{
	uint8_t *p = out;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return false;
		}
		got += (size_t) r;
	}
	return true;
}

const char *
od_ipc_path(const char *url)
{
	const char *p = NULL;
	if (strncmp(url, "ipc://", 6) == 0) {
		p = url + 6;
	} else if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
	}
	return p != NULL && *p != '\0' ? p : NULL;
}
