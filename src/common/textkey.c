/*
 * textkey.c - search keys: normalised words (textkey.h has the rules).
 *
 * One pass over the input feeds a small state machine (word characters,
 * joiners, separators) that builds the parts of the current compound back
 * to back in a fixed buffer. ASCII bytes are classified by a table, so
 * pure-ASCII text never reaches utf8proc; other code points go through
 * utf8proc_decompose_char into a stack buffer. utf8proc_map mallocs the
 * whole string and, measured (callgrind) on "Directrice Générale Adjointe",
 * cost 10,200 instructions against 1,850 here for the whole split, and
 * 9,400 against 950 on the ASCII spelling. Validated input is decoded here
 * rather than with utf8proc_iterate (the same cost, one less check).
 */
#include <string.h>

#include <utf8proc.h>

#include "textkey.h"

/* The decomposition of one code point: U+FDFA is the longest (18). */
#define DECOMP_MAX 32

#define DECOMP_OPTS \
	(UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | \
	    UTF8PROC_IGNORE)

/* Hangul (Unicode 15, section 3.12), for the one recomposition we need. */
#define HANGUL_SBASE 0xAC00
#define HANGUL_SCOUNT 11172
#define HANGUL_LBASE 0x1100
#define HANGUL_LCOUNT 19
#define HANGUL_VBASE 0x1161
#define HANGUL_VCOUNT 21
#define HANGUL_TBASE 0x11A7
#define HANGUL_TCOUNT 28

enum cls { C_SEP, C_WORD, C_UPPER, C_JOIN };

/* Classes of ASCII bytes: the same answers utf8proc gives (letters Lu/Ll,
 * digits Nd, the rest P*, S*, Z*, Cc), plus the three ASCII joiners. */
static const unsigned char ascii_class[128] = {
    ['0'] = C_WORD,
    ['1'] = C_WORD,
    ['2'] = C_WORD,
    ['3'] = C_WORD,
    ['4'] = C_WORD,
    ['5'] = C_WORD,
    ['6'] = C_WORD,
    ['7'] = C_WORD,
    ['8'] = C_WORD,
    ['9'] = C_WORD,
    ['a'] = C_WORD,
    ['b'] = C_WORD,
    ['c'] = C_WORD,
    ['d'] = C_WORD,
    ['e'] = C_WORD,
    ['f'] = C_WORD,
    ['g'] = C_WORD,
    ['h'] = C_WORD,
    ['i'] = C_WORD,
    ['j'] = C_WORD,
    ['k'] = C_WORD,
    ['l'] = C_WORD,
    ['m'] = C_WORD,
    ['n'] = C_WORD,
    ['o'] = C_WORD,
    ['p'] = C_WORD,
    ['q'] = C_WORD,
    ['r'] = C_WORD,
    ['s'] = C_WORD,
    ['t'] = C_WORD,
    ['u'] = C_WORD,
    ['v'] = C_WORD,
    ['w'] = C_WORD,
    ['x'] = C_WORD,
    ['y'] = C_WORD,
    ['z'] = C_WORD,
    ['A'] = C_UPPER,
    ['B'] = C_UPPER,
    ['C'] = C_UPPER,
    ['D'] = C_UPPER,
    ['E'] = C_UPPER,
    ['F'] = C_UPPER,
    ['G'] = C_UPPER,
    ['H'] = C_UPPER,
    ['I'] = C_UPPER,
    ['J'] = C_UPPER,
    ['K'] = C_UPPER,
    ['L'] = C_UPPER,
    ['M'] = C_UPPER,
    ['N'] = C_UPPER,
    ['O'] = C_UPPER,
    ['P'] = C_UPPER,
    ['Q'] = C_UPPER,
    ['R'] = C_UPPER,
    ['S'] = C_UPPER,
    ['T'] = C_UPPER,
    ['U'] = C_UPPER,
    ['V'] = C_UPPER,
    ['W'] = C_UPPER,
    ['X'] = C_UPPER,
    ['Y'] = C_UPPER,
    ['Z'] = C_UPPER,
    ['\''] = C_JOIN,
    ['`'] = C_JOIN,
    ['-'] = C_JOIN,
};

/* Word bytes of ASCII, folded; 0 for every other byte (non-ASCII too), so
 * runs of ASCII letters and digits are copied in one tight loop. */
static const char ascii_fold[256] = {
    ['0'] = '0',
    ['1'] = '1',
    ['2'] = '2',
    ['3'] = '3',
    ['4'] = '4',
    ['5'] = '5',
    ['6'] = '6',
    ['7'] = '7',
    ['8'] = '8',
    ['9'] = '9',
    ['a'] = 'a',
    ['b'] = 'b',
    ['c'] = 'c',
    ['d'] = 'd',
    ['e'] = 'e',
    ['f'] = 'f',
    ['g'] = 'g',
    ['h'] = 'h',
    ['i'] = 'i',
    ['j'] = 'j',
    ['k'] = 'k',
    ['l'] = 'l',
    ['m'] = 'm',
    ['n'] = 'n',
    ['o'] = 'o',
    ['p'] = 'p',
    ['q'] = 'q',
    ['r'] = 'r',
    ['s'] = 's',
    ['t'] = 't',
    ['u'] = 'u',
    ['v'] = 'v',
    ['w'] = 'w',
    ['x'] = 'x',
    ['y'] = 'y',
    ['z'] = 'z',
    ['A'] = 'a',
    ['B'] = 'b',
    ['C'] = 'c',
    ['D'] = 'd',
    ['E'] = 'e',
    ['F'] = 'f',
    ['G'] = 'g',
    ['H'] = 'h',
    ['I'] = 'i',
    ['J'] = 'j',
    ['K'] = 'k',
    ['L'] = 'l',
    ['M'] = 'm',
    ['N'] = 'n',
    ['O'] = 'o',
    ['P'] = 'p',
    ['Q'] = 'q',
    ['R'] = 'r',
    ['S'] = 's',
    ['T'] = 't',
    ['U'] = 'u',
    ['V'] = 'v',
    ['W'] = 'w',
    ['X'] = 'x',
    ['Y'] = 'y',
    ['Z'] = 'z',
};

/* Letters utf8proc 2.8 does not take to Latin base letters, after case
 * folding (so only the lower-case forms). An empty `to` drops the letter. */
static const struct {
	int32_t cp;
	char to[3];
} extra_fold[] = {
    {0x00E6, "ae"}, /* æ (Æ) */
    {0x00F0, "d"}, /* ð (Ð) */
    {0x00F8, "o"}, /* ø (Ø) */
    {0x00FE, "th"}, /* þ (Þ) */
    {0x0111, "d"}, /* đ (Đ) */
    {0x0131, "i"}, /* ı dotless i (İ already folds to i) */
    {0x0138, "k"}, /* ĸ kra */
    {0x0142, "l"}, /* ł (Ł) */
    {0x014B, "ng"}, /* ŋ (Ŋ) */
    {0x0153, "oe"}, /* œ (Œ) */
    {0x0640, ""}, /* Arabic tatweel: justification, not a letter */
};
/* Cheap test before the scan: æ .. œ, and tatweel. */
#define EXTRA_FOLD_MAYBE(cp) (((cp) >= 0x00E6 && (cp) <= 0x0153) || (cp) == 0x0640)

/* Non-ASCII joiners; also the compatibility forms reach ASCII ones. ´ is
 * tested before decomposition (it decomposes to a space and a mark), ʼ and
 * ʻ too (they are letters, Lm). */
static bool
is_joiner(int32_t cp)
{
	switch (cp) {
	case 0x00B4: /* ´ acute accent */
	case 0x00B7: /* · middle dot (Catalan l·l) */
	case 0x02BB: /* ʻ modifier letter turned comma (ʻokina) */
	case 0x02BC: /* ʼ modifier letter apostrophe */
	case 0x2010: /* ‐ hyphen */
	case 0x2011: /* ‑ non-breaking hyphen */
	case 0x2012: /* ‒ figure dash */
	case 0x2013: /* – en dash */
	case 0x2018: /* ‘ left single quotation mark */
	case 0x2019: /* ’ right single quotation mark */
		return true;
	default:
		return false;
	}
}

/* Decodes one sequence of already validated UTF-8. */
static inline int32_t
decode(const unsigned char *s, size_t *i)
{
	unsigned c = s[*i];
	if (c < 0xE0) {
		*i += 2;
		return (int32_t) (((c & 0x1F) << 6) | (s[*i - 1] & 0x3F));
	}
	if (c < 0xF0) {
		*i += 3;
		return (
		    int32_t) (((c & 0x0F) << 12) | ((s[*i - 2] & 0x3F) << 6) | (s[*i - 1] & 0x3F));
	}
	*i += 4;
	return (int32_t) (((c & 0x07) << 18) | ((s[*i - 3] & 0x3F) << 12) |
	    ((s[*i - 2] & 0x3F) << 6) | (s[*i - 1] & 0x3F));
}

/* Encodes a valid code point; returns its length. */
static inline size_t
encode(int32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* A word being written: at most OD_TEXTKEY_WORD_MAX bytes at p. Once a
 * character does not fit, the word is cut and takes nothing more. */
struct word {
	char *p;
	size_t len;
	bool cut;
	int32_t last; /* the last code point written (Hangul), or -1 */
};

static inline void
word_put_ascii(struct word *w, char c)
{
	if (w->cut) {
		return;
	}
	if (w->len == OD_TEXTKEY_WORD_MAX) {
		w->cut = true;
		return;
	}
	w->p[w->len++] = c;
	w->last = (unsigned char) c;
}

static void
word_put(struct word *w, int32_t cp)
{
	if (w->cut) {
		return;
	}
	/* L+V and LV+T compose (NFC); all three forms are 3 bytes: in place. */
	int32_t l = w->last;
	int32_t s = -1;
	if (l >= HANGUL_LBASE && l < HANGUL_LBASE + HANGUL_LCOUNT && cp >= HANGUL_VBASE &&
	    cp < HANGUL_VBASE + HANGUL_VCOUNT) {
		s = HANGUL_SBASE +
		    ((l - HANGUL_LBASE) * HANGUL_VCOUNT + (cp - HANGUL_VBASE)) * HANGUL_TCOUNT;
	} else if (l >= HANGUL_SBASE && l < HANGUL_SBASE + HANGUL_SCOUNT &&
	    (l - HANGUL_SBASE) % HANGUL_TCOUNT == 0 && cp > HANGUL_TBASE &&
	    cp < HANGUL_TBASE + HANGUL_TCOUNT) {
		s = l + (cp - HANGUL_TBASE);
	}
	if (s >= 0) {
		encode(s, w->p + w->len - 3);
		w->last = s;
		return;
	}
	char enc[4];
	size_t n = encode(cp, enc);
	if (w->len + n > OD_TEXTKEY_WORD_MAX) {
		w->cut = true;
		return;
	}
	memcpy(w->p + w->len, enc, n);
	w->len += n;
	w->last = cp;
}

struct tk {
	od_textkey_emit emit;
	void *arg;
	/* Parts of the current compound, back to back: part i is
	 * buf[off[i] .. off[i + 1]) and lost characters to the cap if cut[i];
	 * the part being built (cur) starts at off[nparts]. */
	char buf[OD_TEXTKEY_COMPOUND_MAX * OD_TEXTKEY_WORD_MAX];
	size_t off[OD_TEXTKEY_COMPOUND_MAX + 1];
	bool cut[OD_TEXTKEY_COMPOUND_MAX];
	unsigned nparts;
	struct word cur;
	bool in_part; /* cur is being built */
	bool pending; /* a joiner followed the last completed part */
};

static void
emit_word(struct tk *t, const char *p, size_t n, unsigned flags)
{
	char w[OD_TEXTKEY_WORD_MAX + 1];
	memcpy(w, p, n);
	w[n] = '\0';
	t->emit(t->arg, w, n, flags);
}

static void
part_end(struct tk *t)
{
	emit_word(t, t->cur.p, t->cur.len, 0);
	t->cut[t->nparts] = t->cur.cut;
	t->nparts++;
	t->off[t->nparts] = t->off[t->nparts - 1] + t->cur.len;
	t->in_part = false;
}

/* Emits the joined forms of the compound: suffixes of two parts or more,
 * longest first. Each is what the parts give with the joiners removed:
 * written through word_put (Hangul may compose across the joint), and
 * ended at the cap or at a part that was itself cut. */
static void
compound_end(struct tk *t)
{
	const unsigned char *b = (const unsigned char *) t->buf;
	for (unsigned i = 0; i + 1 < t->nparts; i++) {
		char tmp[OD_TEXTKEY_WORD_MAX];
		struct word j = {tmp, 0, false, -1};
		for (unsigned k = i; k < t->nparts && !j.cut; k++) {
			size_t at = t->off[k];
			while (at < t->off[k + 1]) {
				if (b[at] < 0x80) {
					word_put_ascii(&j, (char) b[at++]);
				} else {
					word_put(&j, decode(b, &at));
				}
			}
			j.cut = j.cut || t->cut[k];
		}
		emit_word(t, tmp, j.len, OD_TEXTKEY_JOINED);
	}
	t->nparts = 0;
	t->off[0] = 0;
}

static void
part_start(struct tk *t)
{
	if (t->pending) {
		t->pending = false;
		if (t->nparts == OD_TEXTKEY_COMPOUND_MAX) {
			compound_end(t);
		}
	}
	t->in_part = true;
	t->cur.p = t->buf + t->off[t->nparts];
	t->cur.len = 0;
	t->cur.cut = false;
	t->cur.last = -1;
}

static inline void
word_ascii(struct tk *t, char c)
{
	if (!t->in_part) {
		part_start(t);
	}
	word_put_ascii(&t->cur, c);
}

static void
word_cp(struct tk *t, int32_t cp)
{
	if (!t->in_part) {
		part_start(t);
	}
	word_put(&t->cur, cp);
}

/* Copies the run of ASCII letters and digits at s[i] into the current
 * part; returns the index after it. */
static size_t
word_ascii_run(struct tk *t, const unsigned char *s, size_t len, size_t i)
{
	if (!t->in_part) {
		part_start(t);
	}
	struct word *w = &t->cur;
	size_t room = w->cut ? 0 : OD_TEXTKEY_WORD_MAX - w->len;
	char *d = w->p + w->len;
	size_t k = 0;
	char f;
	while (i < len && (f = ascii_fold[s[i]]) != 0) {
		if (k < room) {
			d[k++] = f;
		} else {
			w->cut = true;
		}
		i++;
	}
	if (k > 0) {
		w->len += k;
		w->last = (unsigned char) d[k - 1];
	}
	return i;
}

static void
joiner(struct tk *t)
{
	if (t->in_part) {
		part_end(t);
		t->pending = true;
	} else if (t->pending) {
		/* Two joiners in a row separate. */
		t->pending = false;
		compound_end(t);
	}
}

static void
separator(struct tk *t)
{
	if (t->in_part) {
		part_end(t);
	}
	t->pending = false;
	if (t->nparts > 0) {
		compound_end(t);
	}
}

static inline void
feed_ascii(struct tk *t, unsigned char c)
{
	switch (ascii_class[c]) {
	case C_WORD:
		word_ascii(t, (char) c);
		break;
	case C_UPPER:
		word_ascii(t, (char) (c + ('a' - 'A')));
		break;
	case C_JOIN:
		joiner(t);
		break;
	default:
		separator(t);
		break;
	}
}

/* One code point of a decomposition (already folded and mark-free). */
static void
feed_folded(struct tk *t, int32_t cp)
{
	if (cp < 0x80) {
		feed_ascii(t, (unsigned char) cp);
		return;
	}
	if (is_joiner(cp)) {
		joiner(t);
		return;
	}
	if (EXTRA_FOLD_MAYBE(cp)) {
		for (size_t i = 0; i < OD_ARRAY_LEN(extra_fold); i++) {
			if (extra_fold[i].cp == cp) {
				for (const char *p = extra_fold[i].to; *p != '\0'; p++) {
					word_ascii(t, *p);
				}
				return;
			}
		}
	}
	utf8proc_category_t cat = utf8proc_category(cp);
	if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
	    (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO)) {
		word_cp(t, cp);
	} else {
		separator(t);
	}
}

/* One non-ASCII code point of the input. */
static void
feed_cp(struct tk *t, int32_t cp)
{
	if (is_joiner(cp)) {
		joiner(t);
		return;
	}
	if (cp >= HANGUL_SBASE && cp < HANGUL_SBASE + HANGUL_SCOUNT) {
		/* Precomposed syllables are their own key: skip the round trip
		 * through jamo. */
		word_cp(t, cp);
		return;
	}
	utf8proc_int32_t d[DECOMP_MAX];
	int boundclass = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, DECOMP_MAX, DECOMP_OPTS, &boundclass);
	if (n < 0 || n > DECOMP_MAX) {
		/* Not reached for valid code points (18 is the longest). */
		separator(t);
		return;
	}
	for (utf8proc_ssize_t i = 0; i < n; i++) {
		feed_folded(t, d[i]);
	}
}

/* Validates, and says why not in st. */
static orgdir_code
check_text(const char *text, size_t len, bool *ascii, orgdir_status *st)
{
	if (text == NULL && len > 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "search text is NULL");
	}
	if (len > OD_TEXTKEY_INPUT_MAX) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "search text is %zu bytes long; the limit is %d bytes", len,
		    OD_TEXTKEY_INPUT_MAX);
	}
	const unsigned char *s = (const unsigned char *) text;
	size_t i = 0;
	while (i < len && s[i] != 0 && s[i] < 0x80) {
		i++;
	}
	*ascii = i == len;
	if (*ascii || od_utf8_valid(text + i, len - i)) {
		return ORGDIR_OK;
	}
	const char *nul = memchr(text, 0, len);
	if (nul != NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
		    "search text contains a NUL byte at offset %zu", (size_t) (nul - text));
	}
	/* Slow, but only on the way out: find the offending byte. */
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t) (len - i), &cp);
		if (n < 0) {
			break;
		}
		i += (size_t) n;
	}
	return od_status_set(st, ORGDIR_INVALID_ARGUMENT,
	    "search text is not valid UTF-8 at byte offset %zu (byte 0x%02X: a truncated or "
	    "overlong sequence, a surrogate or a value past U+10FFFF)",
	    i, i < len ? s[i] : 0);
}

orgdir_code
od_textkey_words(const char *text, size_t len, od_textkey_emit emit, void *arg, orgdir_status *st)
{
	if (emit == NULL) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "no callback for the key words");
	}
	bool ascii;
	orgdir_code rc = check_text(text, len, &ascii, st);
	if (rc != ORGDIR_OK) {
		return rc;
	}
	struct tk t;
	t.emit = emit;
	t.arg = arg;
	t.off[0] = 0;
	t.nparts = 0;
	t.in_part = false;
	t.pending = false;
	const unsigned char *s = (const unsigned char *) text;
	size_t i = 0;
	/* Pure-ASCII text never takes the last branch: no utf8proc call. */
	while (i < len) {
		if (ascii_fold[s[i]] != 0) {
			i = word_ascii_run(&t, s, len, i);
		} else if (s[i] < 0x80) {
			feed_ascii(&t, s[i++]);
		} else {
			feed_cp(&t, decode(s, &i));
		}
	}
	separator(&t);
	od_status_ok(st);
	return ORGDIR_OK;
}

struct joined {
	char *out;
	size_t cap;
	size_t len; /* bytes the key needs, NUL excluded */
};

static void
join_word(void *arg, const char *word, size_t n, unsigned flags)
{
	struct joined *j = arg;
	if (flags & OD_TEXTKEY_JOINED) {
		return;
	}
	size_t at = j->len + (j->len > 0 ? 1 : 0);
	if (at + n < j->cap) {
		if (j->len > 0) {
			j->out[j->len] = ' ';
		}
		memcpy(j->out + at, word, n);
	}
	j->len = at + n;
}

orgdir_code
od_textkey_normalize(
    const char *text, size_t len, char *out, size_t cap, size_t *out_len, orgdir_status *st)
{
	if (out_len != NULL) {
		*out_len = 0;
	}
	if (out == NULL && cap > 0) {
		return od_status_set(st, ORGDIR_INVALID_ARGUMENT, "no output buffer for the key");
	}
	if (cap > 0) {
		out[0] = '\0';
	}
	struct joined j = {out, cap, 0};
	orgdir_code rc = od_textkey_words(text, len, join_word, &j, st);
	if (rc != ORGDIR_OK) {
		return rc;
	}
	if (out_len != NULL) {
		*out_len = j.len;
	}
	if (j.len >= cap) {
		if (cap > 0) {
			out[0] = '\0';
		}
		return od_status_set(st, ORGDIR_RESOURCE_EXHAUSTED,
		    "the search key needs %zu bytes and a NUL; the buffer holds %zu", j.len, cap);
	}
	out[j.len] = '\0';
	return ORGDIR_OK;
}
