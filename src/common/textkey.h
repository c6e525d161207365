/*
 * textkey.h - search keys: text split into normalised words (utf8proc).
 *
 * A key word is what is left of a run of letters and digits after:
 *  1. compatibility decomposition (NFKD: "ﬁ" -> "fi", "²" -> "2", fullwidth
 *     forms -> ASCII), full case folding ("É" -> "é", "ß" -> "ss",
 *     "Σ"/"ς" -> "σ"), default-ignorable code points dropped (soft hyphen,
 *     ZWJ/ZWNJ, bidi marks), and every combining mark (Mn, Mc, Me) stripped
 *     ("é" -> "e", "ñ" -> "n", "й" -> "и", Arabic harakat, kana voicing
 *     marks) - utf8proc_decompose_char with COMPAT|DECOMPOSE|CASEFOLD|
 *     STRIPMARK|IGNORE, applied again to each piece of a decomposition;
 *  2. a small table for letters utf8proc leaves alone (checked against
 *     utf8proc 2.8: their capitals fold to these, "ß"/"ẞ" already give "ss"):
 *       œ -> oe   æ -> ae   ø -> o   ł -> l   đ -> d   ð -> d   þ -> th
 *       ı -> i    ĸ -> k    ŋ -> ng  and Arabic tatweel (U+0640) dropped;
 *  3. Hangul jamo recomposed into syllables (NFC), the only canonical
 *     composition that survives step 1's mark stripping, so Korean keys
 *     are the same whether the text came precomposed (NFC) or not (NFD).
 * After normalisation, letters (L*) and digits (N*) are word characters;
 * every other code point (punctuation, symbols, spaces, controls, private
 * use, unassigned) separates words, except the joiners below. Digits are
 * kept as they are ("٣" stays "٣"; "²" becomes "2").
 *
 * Joiners: apostrophes ' ’ ‘ ʼ ʻ ´ ` (U+0027 2019 2018 02BC 02BB 00B4
 * 0060), hyphens - ‐ ‑ ‒ – (U+002D 2010 2011 2012 2013) and the middle dot
 * · (U+00B7, Catalan "l·l"); their fullwidth and compatibility forms count
 * too. A single joiner between two word characters links the words on
 * either side into one compound; anywhere else it is a separator. A
 * compound of parts p1 … pk (k >= 2) yields, in this order:
 *  - p1, p2, … pk, each as a plain word (flags 0), as they end;
 *  - then, after pk, the joined forms p1…pk, p2…pk, … p(k-1)pk, longest
 *    first, each with flags OD_TEXTKEY_JOINED.
 * So "Côte d'Ivoire" -> cote, d, ivoire, divoire(J); "l'Organisation" ->
 * l, organisation, lorganisation(J); "Asia-Pacific" -> asia, pacific,
 * asiapacific(J); "e-mail" -> e, mail, email(J); "Saint-Jean-d'Angély" ->
 * saint, jean, d, angely, saintjeandangely(J), jeandangely(J), dangely(J).
 * Queries typed either way ("cote divoire", "cote d ivoire", "ivoire",
 * "asiapacific", "email") then prefix-match. Two joiners in a row, or one
 * at the start or end of a word, separate. A compound holds at most
 * OD_TEXTKEY_COMPOUND_MAX parts: a joiner after the last of them separates
 * (starts a new compound), which bounds the joined forms of any input.
 *
 * Identical output for "Directrice Générale Adjointe", "DIRECTRICE GENERALE
 * ADJOINTE" and "directrice generale adjointe": directrice, generale,
 * adjointe.
 *
 * Limits, known and accepted: scripts written without spaces (Chinese,
 * Japanese, Thai) give one word per run of letters (truncated to 64 bytes),
 * so a query only matches from the start of such a run; stripping all
 * marks also strips Indic vowel signs and Hebrew points (the same way in
 * index and query, so matching still works, with more collisions).
 *
 * Pure-ASCII input is handled without calling utf8proc. Neither function
 * allocates, keeps state between calls or writes any global: both may be
 * called from any number of threads at once.
 */
#ifndef OD_TEXTKEY_H
#define OD_TEXTKEY_H

#include <stddef.h>

#include "od.h"

/* Bytes of input accepted (the cap of a description, OD_TEXT_MAX). */
#define OD_TEXTKEY_INPUT_MAX 4096
/* Bytes of one key word; longer words are cut at a UTF-8 boundary. */
#define OD_TEXTKEY_WORD_MAX 64
/* Parts linked into one compound by joiners (see above). */
#define OD_TEXTKEY_COMPOUND_MAX 8
/* flags of a word: a joined form of a compound, not a word of the text. */
#define OD_TEXTKEY_JOINED 1u
/* An `out` of this many bytes always holds od_textkey_normalize's result
 * for `len` bytes of input (no code point expands past 11 bytes per input
 * byte, plus one space per word; checked by the fuzzer). */
#define OD_TEXTKEY_NORMALIZE_SIZE(len) ((size_t) (len) *12 + 1)

/*
 * Called once per key word, in order. `word` is borrowed: valid UTF-8,
 * `len` bytes (1 … OD_TEXTKEY_WORD_MAX), followed by a NUL, and valid only
 * until the callback returns. `flags` is 0 or OD_TEXTKEY_JOINED.
 */
typedef void (*od_textkey_emit)(void *arg, const char *word, size_t len, unsigned flags);

/*
 * Splits `len` bytes of `text` (need not be NUL-terminated; NULL is allowed
 * when len is 0) into key words and calls emit(arg, …) for each, in order.
 * Text with no letters or digits (empty, all punctuation) gives no call.
 * Returns OK, or INVALID_ARGUMENT with a message saying why: text longer
 * than OD_TEXTKEY_INPUT_MAX, not valid UTF-8 (truncated or overlong
 * sequences, surrogates, past U+10FFFF), containing a NUL byte, or a NULL
 * emit; in that case emit is never called. `st` may be NULL.
 */
orgdir_code od_textkey_words(
    const char *text, size_t len, od_textkey_emit emit, void *arg, orgdir_status *st);

/*
 * The whole text as one key, for exact "whole name" comparisons: its plain
 * words (no joined forms) separated by single spaces, written to `out` (cap
 * bytes, NUL-terminated) and its length to *out_len (may be NULL). Empty
 * for text with no words. Errors as od_textkey_words; RESOURCE_EXHAUSTED if
 * the key does not fit in cap bytes (then out is "" when cap > 0, and
 * *out_len is the length it needs, excluding the NUL; a cap of
 * OD_TEXTKEY_NORMALIZE_SIZE(len) always suffices). `out` is the caller's.
 */
orgdir_code od_textkey_normalize(
    const char *text, size_t len, char *out, size_t cap, size_t *out_len, orgdir_status *st);

#endif
