/*
 * test_textkey.c - search keys (src/common/textkey.c): the exact word lists
 * for accents, case, apostrophes, hyphens, ligatures, other scripts, digits,
 * caps and refused input, and normalize().
 *
 * Word lists are written "w1|w2|+joined": words in emit order, '|' between
 * them, '+' before a word emitted with OD_TEXTKEY_JOINED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "od.h"
#include "textkey.h"

/* --- helpers --------------------------------------------------------------- */

struct collect {
	char s[16384];
	size_t n;
	int calls;
};

/* Checks the contract of every emitted word and appends it to c->s. */
static void
collect_word(void *arg, const char *w, size_t len, unsigned flags)
{
	struct collect *c = arg;
	c->calls++;
	assert_true(len >= 1 && len <= OD_TEXTKEY_WORD_MAX);
	assert_int_equal(w[len], '\0');
	assert_true(od_utf8_valid(w, len));
	assert_true(flags == 0 || flags == OD_TEXTKEY_JOINED);
	for (size_t i = 0; i < len; i++) {
		assert_false(w[i] >= 'A' && w[i] <= 'Z');
		assert_false(w[i] == ' ' || w[i] == '-' || w[i] == '\'');
	}
	assert_true(c->n + len + 3 < sizeof(c->s));
	if (c->n > 0) {
		c->s[c->n++] = '|';
	}
	if (flags & OD_TEXTKEY_JOINED) {
		c->s[c->n++] = '+';
	}
	memcpy(c->s + c->n, w, len);
	c->n += len;
	c->s[c->n] = '\0';
}

static void
words_of(const char *text, size_t len, struct collect *c)
{
	orgdir_status st;
	memset(c, 0, sizeof(*c));
	orgdir_code rc = od_textkey_words(text, len, collect_word, c, &st);
	if (rc != ORGDIR_OK) {
		fail_msg("od_textkey_words(\"%.*s\"): %s: %s", (int) len, text,
		    orgdir_code_name(rc), st.message);
	}
	assert_int_equal(st.code, ORGDIR_OK);
}

/* The same text behind a no-break space (a separator that is not ASCII):
 * forces the utf8proc path, which must agree with the ASCII one. */
static void
words_slow(const char *text, size_t len, struct collect *c)
{
	char buf[OD_TEXTKEY_INPUT_MAX];
	assert_true(len + 2 <= sizeof(buf));
	buf[0] = '\xC2';
	buf[1] = '\xA0';
	memcpy(buf + 2, text, len);
	words_of(buf, len + 2, c);
}

static void
expect_words_n(const char *text, size_t len, const char *want)
{
	struct collect c;
	words_of(text, len, &c);
	if (strcmp(c.s, want) != 0) {
		fail_msg(
		    "words of \"%.*s\":\n got  \"%s\"\n want \"%s\"", (int) len, text, c.s, want);
	}
	if (len + 2 <= OD_TEXTKEY_INPUT_MAX) {
		struct collect slow;
		words_slow(text, len, &slow);
		if (strcmp(slow.s, want) != 0) {
			fail_msg("utf8proc path, words of \"%.*s\":\n got  \"%s\"\n want \"%s\"",
			    (int) len, text, slow.s, want);
		}
	}
}
#define expect_words(text, want) expect_words_n((text), strlen(text), (want))

static void
expect_key(const char *text, const char *want)
{
	char out[OD_TEXTKEY_NORMALIZE_SIZE(OD_TEXTKEY_INPUT_MAX)];
	size_t n = 99;
	orgdir_status st;
	orgdir_code rc = od_textkey_normalize(text, strlen(text), out, sizeof(out), &n, &st);
	if (rc != ORGDIR_OK) {
		fail_msg("normalize(\"%s\"): %s: %s", text, orgdir_code_name(rc), st.message);
	}
	if (strcmp(out, want) != 0) {
		fail_msg("key of \"%s\": got \"%s\", want \"%s\"", text, out, want);
	}
	assert_int_equal(n, strlen(want));
	/* A key is its own key. */
	char again[sizeof(out)];
	size_t n2;
	assert_int_equal(od_textkey_normalize(out, n, again, sizeof(again), &n2, &st), ORGDIR_OK);
	assert_string_equal(again, out);
}

static void
expect_refused_n(const char *text, size_t len, const char *why)
{
	struct collect c;
	orgdir_status st;
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    od_textkey_words(text, len, collect_word, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(st.code, ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(c.calls, 0);
	if (strstr(st.message, why) == NULL) {
		fail_msg("message \"%s\" does not say \"%s\"", st.message, why);
	}
	char out[64] = "junk";
	size_t n = 99;
	assert_int_equal(
	    od_textkey_normalize(text, len, out, sizeof(out), &n, &st), ORGDIR_INVALID_ARGUMENT);
	assert_string_equal(out, "");
	assert_int_equal(n, 0);
}
#define expect_refused(text, why) expect_refused_n((text), sizeof(text) - 1, (why))

/* --- tests ----------------------------------------------------------------- */

static void
test_accents_and_case(void **state)
{
	(void) state;
	const char *want = "directrice|generale|adjointe";
	expect_words("Directrice Générale Adjointe", want);
	expect_words("DIRECTRICE GENERALE ADJOINTE", want);
	expect_words("directrice generale adjointe", want);
	expect_words("DIRECTRICE GÉNÉRALE ADJOINTE", want);
	/* Decomposed (NFD) accents give the same key as precomposed ones. */
	expect_words("Directrice Ge\xCC\x81ne\xCC\x81rale Adjointe", want);
	expect_words("  Directrice\tGénérale\nAdjointe.  ", want);
	expect_words("Élève à l’École française", "eleve|a|l|ecole|+lecole|francaise");
	expect_words("ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸ", "aaaceeeeiioouuuy");
	expect_key("Directrice Générale Adjointe", "directrice generale adjointe");
	expect_key("DIRECTRICE GENERALE ADJOINTE", "directrice generale adjointe");
}

static void
test_apostrophes(void **state)
{
	(void) state;
	const char *want = "cote|d|ivoire|+divoire";
	expect_words("Côte d'Ivoire", want); /* U+0027 */
	expect_words("Côte d’Ivoire", want); /* U+2019 */
	expect_words("Côte dʼIvoire", want); /* U+02BC */
	expect_words("Côte d‘Ivoire", want); /* U+2018 */
	expect_words("Côte d´Ivoire", want); /* U+00B4 */
	expect_words("Côte d`Ivoire", want); /* U+0060 */
	expect_words("Côte d＇Ivoire", want); /* U+FF07 fullwidth */
	expect_words("COTE D'IVOIRE", want);
	expect_words("l'Organisation internationale pour les migrations",
	    "l|organisation|+lorganisation|internationale|pour|les|migrations");
	expect_words("L’ORGANISATION", "l|organisation|+lorganisation");
	expect_words("Hawaiʻi", "hawai|i|+hawaii"); /* U+02BB ʻokina */
	expect_words("Children's Fund", "children|s|+childrens|fund");
	/* Only a single joiner between two word characters joins. */
	expect_words("'quoted'", "quoted");
	expect_words("rock 'n' roll", "rock|n|roll");
	expect_words("Jones' office", "jones|office");
	expect_words("a''b", "a|b");
	expect_words("a ' b", "a|b");
	expect_words("’’", "");
	/* A mark between joiner and letter is not a character: still joined. */
	expect_words("d'\xCC\x81Ivoire", "d|ivoire|+divoire");
	expect_key("Côte d’Ivoire", "cote d ivoire");
}

static void
test_hyphens(void **state)
{
	(void) state;
	expect_words("Asia-Pacific", "asia|pacific|+asiapacific");
	expect_words("Asia‐Pacific", "asia|pacific|+asiapacific"); /* U+2010 */
	expect_words("Asia‑Pacific", "asia|pacific|+asiapacific"); /* U+2011 */
	expect_words("Asia–Pacific", "asia|pacific|+asiapacific"); /* U+2013 */
	expect_words("Asia－Pacific", "asia|pacific|+asiapacific"); /* U+FF0D */
	expect_words("Asia - Pacific", "asia|pacific");
	expect_words("Asia--Pacific", "asia|pacific");
	expect_words("Asia—Pacific", "asia|pacific"); /* U+2014 em dash separates */
	expect_words("e-mail", "e|mail|+email");
	expect_words("Guinea-Bissau", "guinea|bissau|+guineabissau");
	expect_words(
	    "Saint-Jean-d'Angély", "saint|jean|d|angely|+saintjeandangely|+jeandangely|+dangely");
	expect_words("-x- y-", "x|y");
	expect_words("col·lecció", "col|leccio|+colleccio"); /* U+00B7 */
	expect_words("coŀlecció", "col|leccio|+colleccio"); /* U+0140 ŀ -> l· */
	/* At most 8 parts per compound: the 9th joiner separates. */
	expect_words("a-b-c-d-e-f-g-h-i-j",
	    "a|b|c|d|e|f|g|h|+abcdefgh|+bcdefgh|+cdefgh|+defgh|+efgh|+fgh|+gh|i|j|+ij");
	expect_words("+41-22-717-9111", "41|22|717|9111|+41227179111|+227179111|+7179111");
	expect_key("Provence-Alpes-Côte d'Azur", "provence alpes cote d azur");
}

static void
test_ligatures_and_special_letters(void **state)
{
	(void) state;
	expect_words("Œuvre œuvre", "oeuvre|oeuvre");
	expect_words("Ærø ÆRØ", "aero|aero");
	expect_words("Łódź ŁÓDŹ", "lodz|lodz");
	expect_words("Straße STRASSE STRAẞE", "strasse|strasse|strasse");
	expect_words("\xEF\xAC\x81nance", "finance"); /* U+FB01 ﬁ */
	expect_words("\xEF\xAC\x83", "ffi"); /* U+FB03 ﬃ */
	expect_words("Đorđe ĐORĐE", "dorde|dorde");
	expect_words("Þór Ðe ðe", "thor|de|de");
	expect_words("Diyarbakır", "diyarbakir");
	expect_words("İstanbul", "istanbul");
	expect_words("ĸ Ŋŋ", "k|ngng");
	expect_words("Øresund", "oresund");
	expect_words("Ĳssel", "ijssel");
}

static void
test_spanish(void **state)
{
	(void) state;
	expect_words("Organización Internacional para las Migraciones",
	    "organizacion|internacional|para|las|migraciones");
	expect_words("Dirección DIRECCIÓN", "direccion|direccion");
	expect_words("España ESPAÑA ñandú", "espana|espana|nandu");
	expect_words("¿Qué? ¡Sí!", "que|si");
	expect_key("Organización Internacional para las Migraciones",
	    "organizacion internacional para las migraciones");
}

static void
test_german(void **state)
{
	(void) state;
	expect_words("Bundesministerium für Wirtschaft", "bundesministerium|fur|wirtschaft");
	expect_words("ÄÖÜ äöü", "aou|aou");
	expect_words("Größe GRÖSSE", "grosse|grosse");
}

static void
test_other_scripts(void **state)
{
	(void) state;
	/* Greek: accents stripped, final sigma folded to σ. */
	expect_words("Διεθνής Οργανισμός Μετανάστευσης", "διεθνησ|οργανισμοσ|μεταναστευσησ");
	expect_words("ΔΙΕΘΝΗΣ", "διεθνησ");
	/* Cyrillic: case folded; й and ё lose their marks like é. */
	expect_words(
	    "Международная организация по миграции", "международная|организация|по|миграции");
	expect_words("МЕЖДУНАРОДНАЯ", "международная");
	expect_words("Йошкар-Ола Ёлка", "иошкар|ола|+иошкарола|елка");
	/* Arabic: harakat and tatweel dropped. */
	expect_words("المنظمة الدولية للهجرة", "المنظمة|الدولية|للهجرة");
	expect_words("مُنَظَّمَة", "منظمة");
	expect_words("مـنـظـمـة", "منظمة");
	/* CJK: a run of letters is one word; fullwidth Latin is Latin. */
	expect_words("国际移民组织", "国际移民组织");
	expect_words("国際移住機関、ジュネーブ", "国際移住機関|シュネーフ");
	expect_words("ＩＯＭ　ＧＥＮＥＶＡ", "iom|geneva");
	expect_words("ｼﾞｭﾈｰﾌﾞ", "シュネーフ");
	/* Korean: the same key from composed (NFC) and decomposed (NFD) text. */
	expect_words("국제이주기구", "국제이주기구");
	expect_words("\xE1\x84\x80\xE1\x85\xAE\xE1\x86\xA8\xE1\x84\x8C\xE1\x85\xA6", "국제");
	expect_words("ㄱㅏ", "가");
	/* The joined form is the text without the joiner: jamo compose across
	 * it (a fuzzer find: 가`ᆨ's joined form was not its own key). */
	expect_words("ㄱㅏ`ᆨ", "가|ᆨ|+각");
}

static void
test_digits(void **state)
{
	(void) state;
	expect_words("Room 101, 2nd floor", "room|101|2nd|floor");
	expect_words("x² ½", "x2|1|2");
	expect_words("Ⅻ", "xii");
	expect_words("١٢٣", "١٢٣"); /* Arabic-Indic digits stay as they are */
	expect_words("1.5", "1|5");
	expect_words("2020-2021", "2020|2021|+20202021");
}

static void
test_no_words(void **state)
{
	(void) state;
	expect_words("", "");
	expect_words("   \t\n ", "");
	expect_words("!?.,;:()[]{}<>/\\|@#$%^&*_+=~\"'`-", "");
	expect_words("… — « » “ ” ¿ ¡ · • § ¶ © ® ° € £ ¥", "");
	expect_words("😀 ✓ ★ \xEE\x80\x80", ""); /* emoji, symbols, private use */
	expect_words("\xC2\xAD\xE2\x80\x8B\xE2\x80\x8D", ""); /* ignorables only */
	expect_words("\xCC\x81\xCC\x82", ""); /* lone marks */
	struct collect c;
	orgdir_status st;
	memset(&c, 0, sizeof(c));
	assert_int_equal(od_textkey_words(NULL, 0, collect_word, &c, &st), ORGDIR_OK);
	assert_int_equal(c.calls, 0);
	expect_key("", "");
	expect_key("-- !! --", "");
}

static void
test_invalid_utf8_refused(void **state)
{
	(void) state;
	expect_refused("\xC3", "offset 0"); /* truncated 2-byte */
	expect_refused("Côte d'Ivoire \xE2\x82", "offset 15"); /* truncated 3-byte */
	expect_refused("abc\xF0\x9F\x98", "offset 3"); /* truncated 4-byte */
	expect_refused("\xC0\xAF", "UTF-8"); /* overlong '/' */
	expect_refused("a\xE0\x80\xAF", "offset 1"); /* overlong, 3 bytes */
	expect_refused("\xF0\x80\x80\xAF", "UTF-8"); /* overlong, 4 bytes */
	expect_refused("x\xED\xA0\x80y", "offset 1"); /* surrogate D800 */
	expect_refused("\xED\xBF\xBF", "UTF-8"); /* surrogate DFFF */
	expect_refused("\xF4\x90\x80\x80", "UTF-8"); /* past U+10FFFF */
	expect_refused("\xFF", "UTF-8");
	expect_refused("\x80", "UTF-8"); /* lone continuation */
	expect_refused("ok\0no", "NUL byte at offset 2");
	expect_refused("Générale\0", "NUL byte at offset 10");
	/* Words before the bad byte are not emitted either. */
	expect_refused("one two three \xC3\x28", "offset 14");
	struct collect c;
	orgdir_status st;
	assert_int_equal(od_textkey_words(NULL, 3, collect_word, &c, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(od_textkey_words("a", 1, NULL, NULL, &st), ORGDIR_INVALID_ARGUMENT);
	/* st may be NULL. */
	assert_int_equal(
	    od_textkey_words("\xC3", 1, collect_word, &c, NULL), ORGDIR_INVALID_ARGUMENT);
}

static void
test_input_cap(void **state)
{
	(void) state;
	char *big = malloc(30001);
	assert_non_null(big);
	/* 10,000 ASCII characters, then 10,000 two-byte ones. */
	memset(big, 'a', 10000);
	expect_refused_n(big, 10000, "limit is 4096");
	for (size_t i = 0; i < 10000; i++) {
		memcpy(big + 2 * i, "é", 2);
	}
	expect_refused_n(big, 20000, "20000 bytes");
	/* Exactly at the cap is fine. */
	for (size_t i = 0; i < OD_TEXTKEY_INPUT_MAX; i += 2) {
		memcpy(big + i, "a ", 2);
	}
	struct collect c;
	words_of(big, OD_TEXTKEY_INPUT_MAX, &c);
	assert_int_equal(c.calls, OD_TEXTKEY_INPUT_MAX / 2);
	expect_refused_n(big, OD_TEXTKEY_INPUT_MAX + 1, "limit is 4096");
	free(big);
}

static void
test_long_word_cut_at_character_boundary(void **state)
{
	(void) state;
	char in[512];
	char want[512];
	/* 100 ASCII letters -> 64. */
	memset(in, 'A', 100);
	memset(want, 'a', 64);
	want[64] = '\0';
	expect_words_n(in, 100, want);
	/* 100 × "é" (2 bytes) -> 64 × "e". */
	for (int i = 0; i < 100; i++) {
		memcpy(in + 2 * i, "É", 2);
	}
	memset(want, 'e', 64);
	expect_words_n(in, 200, want);
	/* 100 × "中" (3 bytes) -> 21 characters, 63 bytes. */
	for (int i = 0; i < 100; i++) {
		memcpy(in + 3 * i, "中", 3);
	}
	for (int i = 0; i < 21; i++) {
		memcpy(want + 3 * i, "中", 3);
	}
	want[63] = '\0';
	expect_words_n(in, 300, want);
	/* Joined forms are cut the same way: 30 + 30 characters, 180 bytes. */
	in[90] = '-';
	for (int i = 0; i < 30; i++) {
		memcpy(in + 91 + 3 * i, "中", 3);
	}
	char both[512];
	memcpy(both, want, 63);
	both[63] = '\0';
	char want2[3 * 64 + 8];
	snprintf(want2, sizeof(want2), "%.63s|%.63s|+%.63s", both, both, both);
	expect_words_n(in, 181, want2);
	/* A joined form ends with a part that was cut: nothing of the next. */
	memcpy(in + 90, "-a", 2);
	snprintf(want2, sizeof(want2), "%.63s|a|+%.63s", both, both);
	expect_words_n(in, 92, want2);
	/* 100 × "ж" (2 bytes) -> 32 characters; 100 × U+20000 (4 bytes) -> 16. */
	for (int i = 0; i < 100; i++) {
		memcpy(in + 2 * i, "Ж", 2);
		memcpy(want + 2 * i, "ж", 2);
	}
	want[64] = '\0';
	expect_words_n(in, 200, want);
	for (int i = 0; i < 100; i++) {
		memcpy(in + 4 * i, "\xF0\xA0\x80\x80", 4);
	}
	memcpy(want, in, 64);
	want[64] = '\0';
	expect_words_n(in, 400, want);
	/* The word after a long one is whole. */
	memset(in, 'b', 100);
	memcpy(in + 100, " Fin", 4);
	memset(want, 'b', 64);
	memcpy(want + 64, "|fin", 5);
	expect_words_n(in, 104, want);
}

static void
test_ascii_path_matches_utf8proc_path(void **state)
{
	(void) state;
	/* Every ASCII byte but NUL, in words and between them. */
	char all[256];
	size_t n = 0;
	for (int c = 1; c < 128; c++) {
		all[n++] = (char) c;
		all[n++] = (char) ('a' + c % 26);
	}
	struct collect fast;
	struct collect slow;
	words_of(all, n, &fast);
	words_slow(all, n, &slow);
	assert_string_equal(fast.s, slow.s);
	const char *samples[] = {"Director-General's Office", "IOM/OIM (UN) 2024", "a-'b", "x``y",
	    "CamelCase_snake-kebab", "--a--b--", "a-b-c-d-e-f-g-h-i"};
	for (size_t i = 0; i < OD_ARRAY_LEN(samples); i++) {
		words_of(samples[i], strlen(samples[i]), &fast);
		words_slow(samples[i], strlen(samples[i]), &slow);
		assert_string_equal(fast.s, slow.s);
	}
}

static void
test_normalize(void **state)
{
	(void) state;
	expect_key("Côte d'Ivoire", "cote d ivoire");
	expect_key("  --Asia-Pacific!! ", "asia pacific");
	expect_key("l'Organisation internationale pour les migrations",
	    "l organisation internationale pour les migrations");
	expect_key("Œuvre Straße Łódź", "oeuvre strasse lodz");
	expect_key("\xEF\xB7\xBA", "صلى الله عليه وسلم"); /* U+FDFA: one character, 4 words */

	char out[32];
	size_t n = 0;
	orgdir_status st;
	/* Exactly fits: 13 bytes and the NUL. */
	assert_int_equal(od_textkey_normalize("Côte d'Ivoire", 14, out, 14, &n, &st), ORGDIR_OK);
	assert_string_equal(out, "cote d ivoire");
	assert_int_equal(n, 13);
	/* One byte short: nothing written, the size needed reported. */
	strcpy(out, "junk");
	assert_int_equal(
	    od_textkey_normalize("Côte d'Ivoire", 14, out, 13, &n, &st), ORGDIR_RESOURCE_EXHAUSTED);
	assert_string_equal(out, "");
	assert_int_equal(n, 13);
	assert_non_null(strstr(st.message, "13 bytes"));
	assert_int_equal(
	    od_textkey_normalize("abc", 3, NULL, 0, &n, &st), ORGDIR_RESOURCE_EXHAUSTED);
	assert_int_equal(n, 3);
	assert_int_equal(od_textkey_normalize("abc", 3, NULL, 8, &n, &st), ORGDIR_INVALID_ARGUMENT);
	/* The documented size always suffices (U+FDFA is the largest expansion). */
	char big[OD_TEXTKEY_NORMALIZE_SIZE(30)];
	char in[30];
	for (int i = 0; i < 10; i++) {
		memcpy(in + 3 * i, "\xEF\xB7\xBA", 3);
	}
	assert_int_equal(od_textkey_normalize(in, 30, big, sizeof(big), &n, &st), ORGDIR_OK);
	assert_true(n < sizeof(big));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accents_and_case),
	    cmocka_unit_test(test_apostrophes),
	    cmocka_unit_test(test_hyphens),
	    cmocka_unit_test(test_ligatures_and_special_letters),
	    cmocka_unit_test(test_spanish),
	    cmocka_unit_test(test_german),
	    cmocka_unit_test(test_other_scripts),
	    cmocka_unit_test(test_digits),
	    cmocka_unit_test(test_no_words),
	    cmocka_unit_test(test_invalid_utf8_refused),
	    cmocka_unit_test(test_input_cap),
	    cmocka_unit_test(test_long_word_cut_at_character_boundary),
	    cmocka_unit_test(test_ascii_path_matches_utf8proc_path),
	    cmocka_unit_test(test_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
