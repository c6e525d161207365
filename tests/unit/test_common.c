/* test_common.c - text checks, arena, capped buffer, a whole file read under
 * a cap, statuses, field masks, the wire scanner and the unit rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "od.h"
#include "testutil.h"

static void
test_utf8(void **state)
{
	(void) state;
	assert_true(od_utf8_valid("Directrice générale", strlen("Directrice générale")));
	assert_true(od_utf8_valid("Côte d’Ivoire 日本 😀", strlen("Côte d’Ivoire 日本 😀")));
	assert_false(od_utf8_valid("\xC3", 1)); /* truncated */
	assert_false(od_utf8_valid("\xC0\xAF", 2)); /* overlong */
	assert_false(od_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
	assert_false(od_utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(od_utf8_valid("a\0b", 3)); /* NUL */
	assert_false(od_utf8_valid("\xFF", 1));
}

/* od_utf8_valid reads ASCII 8 bytes at a time: every position of a bad
 * byte in and around those steps, against a byte-at-a-time reference. */
static bool
utf8_reference(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t len = c < 0x80        ? 1
		    : c >= 0xC2 && c <= 0xDF ? 2
		    : c >= 0xE0 && c <= 0xEF ? 3
		    : c >= 0xF0 && c <= 0xF4 ? 4
		                             : 0;
		if (len == 0 || c == 0 || n - i < len) {
			return false;
		}
		unsigned cp = len == 1 ? c : c & (0x7F >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80) {
				return false;
			}
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF)) {
			return false;
		}
		i += len;
	}
	return true;
}

/* od_utf8_valid, od_pb_text_ok and od_pb_text_ok_in against a reference,
 * with a bad sequence at every place of texts of every length to 40. */
static void
test_utf8_eight_at_a_time(void **state)
{
	(void) state;
	static const char *const bad[] = {"\0", "\x80", "\xFF", "\xC3", "\xC0\xAF", "\xED\xA0\x80",
	    "\x7F\x01\x00", "\xC3\xA9", "\xE2\x80\x99", "\xF0\x9F\x98\x80"};
	char buf[64];
	size_t checked = 0;
	for (size_t b = 0; b < OD_ARRAY_LEN(bad); b++) {
		size_t bl = b == 0 ? 1 : strlen(bad[b]);
		for (size_t len = bl; len <= 40; len++) {
			for (size_t at = 0; at + bl <= len; at++) {
				memset(buf, 'a' + (int) (at % 26), len);
				memcpy(buf + at, bad[b], bl);
				/* What follows the text must not matter to the checks
				 * that read past it (od_pb_text_ok_in). */
				static const char after[3] = {'\0', '\x80', 'a'};
				memset(buf + len, after[at % 3], sizeof(buf) - len);
				bool want = utf8_reference((const unsigned char *) buf, len);
				const uint8_t *u = (const uint8_t *) buf;
				assert_int_equal(od_utf8_valid(buf, len), want);
				assert_int_equal(od_pb_text_ok(u, len), want);
				assert_int_equal(od_pb_text_ok_in(u, len, len), want);
				assert_int_equal(od_pb_text_ok_in(u, len, sizeof(buf)), want);
				checked++;
			}
		}
	}
	assert_true(checked > 5000);
	assert_true(od_pb_text_ok_in((const uint8_t *) "\x80\x80\x80\x80\x80\x80\x80\x80", 0, 8));
	/* The reference agrees with the fixed cases above. */
	assert_false(utf8_reference((const unsigned char *) "a\0b", 3));
	assert_true(utf8_reference((const unsigned char *) "caf\xC3\xA9", 5));
}

static void
test_ids_and_langs(void **state)
{
	(void) state;
	assert_true(od_id_valid("dg"));
	assert_true(od_id_valid("0-a"));
	assert_true(
	    od_id_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(
	    od_id_valid("a2345678901234567890123456789012345678901234567890123456789012345"));
	assert_false(od_id_valid(""));
	assert_false(od_id_valid("-a"));
	assert_false(od_id_valid("A"));
	assert_false(od_id_valid("a_b"));
	assert_false(od_id_valid("a/b"));
	assert_true(od_lang_valid("en"));
	assert_true(od_lang_valid("pt-BR"));
	assert_true(od_lang_valid("zh-Hant-TW"));
	assert_false(od_lang_valid("e"));
	assert_false(od_lang_valid("en-"));
	assert_false(od_lang_valid("en_US"));
	assert_false(od_lang_valid("123"));
	assert_true(od_lang_same_primary("fr", "fr-CH"));
	assert_false(od_lang_same_primary("fr", "fy"));
}

static void
test_text_pick(void **state)
{
	(void) state;
	Orgdir__V1__LocalizedString en = ORGDIR__V1__LOCALIZED_STRING__INIT;
	Orgdir__V1__LocalizedString fr = ORGDIR__V1__LOCALIZED_STRING__INIT;
	en.lang = "en";
	en.text = "Director General";
	fr.lang = "fr";
	fr.text = "Directrice générale";
	Orgdir__V1__LocalizedString *v[] = {&fr, &en};
	assert_string_equal(orgdir_text_pick(v, 2, "fr"), "Directrice générale");
	assert_string_equal(orgdir_text_pick(v, 2, "FR-ch"), "Directrice générale");
	assert_string_equal(orgdir_text_pick(v, 2, "de"), "Director General");
	assert_string_equal(orgdir_text_pick(v, 1, "de"), "Directrice générale");
	assert_null(orgdir_text_pick(v, 0, "en"));
}

static void
test_arena_cap_and_reset(void **state)
{
	(void) state;
	od_arena a;
	od_arena_init(&a, 100000);
	char *p = od_arena_alloc(&a, 1000);
	assert_non_null(p);
	assert_true(((uintptr_t) p & 15) == 0);
	assert_non_null(od_arena_alloc(&a, 60000)); /* a second, larger chunk */
	assert_null(od_arena_alloc(&a, 60000)); /* over the cap */
	assert_true(a.exhausted);
	od_arena_reset(&a);
	assert_false(a.exhausted);
	assert_int_equal(a.used_total, 0);
	assert_non_null(od_arena_alloc(&a, 10));
	assert_null(od_arena_alloc(&a, SIZE_MAX - 8)); /* no overflow */
	od_arena_destroy(&a);
}

/* od_arena_move: what src held lives on in dst (its bytes, its cap, its
 * protobuf-c allocator now pointing at dst), and src is empty and usable. */
static void
test_arena_move(void **state)
{
	(void) state;
	od_arena src, dst;
	od_arena_init(&src, 100000);
	char *p = od_arena_alloc(&src, 1000);
	char *q = od_arena_alloc(&src, 40000); /* a second chunk */
	assert_non_null(p);
	assert_non_null(q);
	memset(p, 'p', 1000);
	memset(q, 'q', 40000);
	size_t used = src.used_total;
	od_arena_move(&dst, &src);
	assert_int_equal(dst.used_total, used);
	assert_int_equal(dst.cap, 100000);
	assert_int_equal(src.used_total, 0);
	assert_int_equal(src.cap, 100000);
	assert_null(src.head);
	/* dst goes on allocating, through its allocator too, up to its cap. */
	char *r = dst.pb.alloc(dst.pb.allocator_data, 100);
	assert_non_null(r);
	assert_int_equal(dst.used_total, used + 112);
	assert_null(od_arena_alloc(&dst, 100000));
	/* src serves anew, and what dst holds is untouched by it. */
	char *s = src.pb.alloc(src.pb.allocator_data, 50000);
	assert_non_null(s);
	memset(s, 's', 50000);
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(p[i], 'p');
	}
	for (size_t i = 0; i < 40000; i++) {
		assert_int_equal(q[i], 'q');
	}
	od_arena_destroy(&src);
	od_arena_destroy(&dst);
}

/* od_arena_reserve, od_arena_take_chunk and od_arena_give_chunk: a chunk
 * reserved holds what follows, and one taken out serves another arena. */
static void
test_arena_chunks_move(void **state)
{
	(void) state;
	od_arena a, b;
	od_arena_init(&a, 1u << 20);
	assert_true(od_arena_reserve(&a, 200000));
	/* One chunk: 100 allocations of 2,000 bytes follow each other. */
	char *first = od_arena_alloc(&a, 2000);
	char *p = first;
	for (int i = 1; i < 100; i++) {
		char *q = od_arena_alloc(&a, 2000);
		assert_ptr_equal(q, p + 2000);
		p = q;
	}
	memset(first, 'x', 200000);
	/* Past the cap, a reservation stops at it. */
	assert_true(od_arena_reserve(&a, SIZE_MAX / 2));
	assert_false(a.exhausted);
	assert_non_null(od_arena_alloc(&a, 100)); /* a small chunk besides */

	/* Too small a largest chunk: none taken, the arena left empty. */
	od_arena_chunk *none = od_arena_take_chunk(&a, 2u << 20, 4u << 20);
	assert_null(none);
	assert_int_equal(a.used_total, 0);
	assert_non_null(od_arena_alloc(&a, 200000)); /* a fresh chunk */
	od_arena_chunk *c = od_arena_take_chunk(&a, 100000, 1u << 20);
	assert_non_null(c);
	assert_true(od_arena_chunk_size(c) >= 200000);
	assert_null(od_arena_take_chunk(&a, 0, SIZE_MAX)); /* a holds nothing now */

	od_arena_init(&b, 1u << 20);
	od_arena_give_chunk(&b, c);
	char *again = od_arena_alloc(&b, 150000);
	assert_non_null(again);
	assert_ptr_equal(od_arena_alloc(&b, 16), again + 150000); /* the same chunk */
	od_arena_destroy(&b);
	od_arena_destroy(&a);
}

static void
test_buf_cap_and_varints(void **state)
{
	(void) state;
	od_buf b;
	od_buf_init(&b, 8);
	assert_true(od_buf_append(&b, "12345678", 8));
	assert_false(od_buf_append(&b, "9", 1));
	assert_true(b.overflow);
	od_buf_reset(&b);
	assert_true(od_pb_put_varint(&b, 300));
	assert_int_equal(b.len, 2);
	assert_int_equal(b.data[0], 0xAC);
	assert_int_equal(b.data[1], 0x02);
	assert_int_equal(od_pb_varint_size(300), 2);
	assert_int_equal(od_pb_varint_size(UINT64_MAX), 10);
	od_buf_free(&b);
}

/* A whole file under a cap: a regular file up to exactly the cap, a pipe
 * (no size to go by) past its first buffer; one byte more is EFBIG. */
static void
test_read_all_cap(void **state)
{
	(void) state;
	char *text;
	size_t len;
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(fwrite("0123456789", 1, 10, f), 10);
	rewind(f);
	assert_int_equal(od_read_all(f, 10, &text, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(text, "0123456789", 10);
	free(text);
	rewind(f);
	assert_int_equal(od_read_all(f, 9, &text, &len), EFBIG);
	assert_null(text);
	fclose(f);

	size_t big = (3u << 20) + 5; /* past the 1 MiB first buffer, twice */
	char *data = malloc(big);
	assert_non_null(data);
	for (size_t i = 0; i < big; i++) {
		data[i] = (char) ('a' + i % 26);
	}
	for (int over = 0; over <= 1; over++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			size_t o = 0;
			while (o < big) {
				ssize_t w = write(fds[1], data + o, big - o);
				if (w <= 0) {
					break; /* the reader stopped at its cap */
				}
				o += (size_t) w;
			}
			free(data); /* the child's copy: valgrind follows the fork */
			_exit(0);
		}
		close(fds[1]);
		f = fdopen(fds[0], "rb");
		assert_non_null(f);
		int e = od_read_all(f, over ? big - 1 : big, &text, &len);
		fclose(f);
		waitpid(pid, NULL, 0);
		if (over) {
			assert_int_equal(e, EFBIG);
			assert_null(text);
		} else {
			assert_int_equal(e, 0);
			assert_int_equal(len, big);
			assert_memory_equal(text, data, big);
			free(text);
		}
	}
	free(data);
}

static void
test_status_table(void **state)
{
	(void) state;
	assert_string_equal(orgdir_code_name(ORGDIR_NOT_FOUND), "NOT_FOUND");
	assert_string_equal(orgdir_code_name((orgdir_code) 99), "UNKNOWN");
	assert_int_equal(orgdir_code_exit(ORGDIR_OK), 0);
	assert_int_equal(orgdir_code_exit(ORGDIR_NOT_FOUND), 15);
	assert_int_equal(orgdir_code_exit(ORGDIR_UNAUTHENTICATED), 26);
	assert_int_equal(orgdir_code_parse("aborted"), ORGDIR_ABORTED);
	assert_int_equal(orgdir_code_parse("nope"), -1);
	orgdir_status st;
	char big[2000];
	memset(big, 'x', sizeof(big));
	memcpy(big + 505, "é", 2); /* straddles the cut */
	big[sizeof(big) - 1] = 0;
	od_status_set(&st, ORGDIR_INTERNAL, "%s", big);
	assert_true(od_utf8_valid(st.message, strlen(st.message)));
	assert_true(strlen(st.message) < ORGDIR_STATUS_MESSAGE_MAX);
	/* A precision that cuts a client's text inside a sequence. */
	od_status_set(&st, ORGDIR_INVALID_ARGUMENT, "email '%.2s' is bad", "aé");
	assert_string_equal(st.message, "email 'a?' is bad");
	od_status_set(&st, ORGDIR_INVALID_ARGUMENT, "'%.4s'", "日本");
	assert_string_equal(st.message, "'日?'");
	od_status_set(&st, ORGDIR_INVALID_ARGUMENT, "kept: %s", "日本 é ü");
	assert_string_equal(st.message, "kept: 日本 é ü");
	char bad[] = {'a', (char) 0xC0, (char) 0xAF, 'b', (char) 0xED, (char) 0xA0, (char) 0x80, 0};
	od_utf8_repair(bad);
	assert_string_equal(bad, "a??b???"); /* an overlong '/', a surrogate */
	char ctl[] = "a\nb\x1b[1m\tc\x7f\xc2\x85"
	             "d é";
	assert_true(od_control_char(ctl, false) == (const unsigned char *) ctl + 1);
	assert_true(od_control_char("a\tb\nc", true) == NULL);
	assert_true(od_control_char("é ü 日本", false) == NULL);
	od_mask_controls(ctl);
	assert_string_equal(ctl, "a?b?[1m?c???d é");
}

static void
test_scan_field(void **state)
{
	(void) state;
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	u.id = "child";
	u.parent_id = "parent";
	u.sort_order = -3;
	u.kind = ORGDIR__V1__UNIT__KIND__DIVISION;
	uint8_t buf[256];
	size_t n = orgdir__v1__unit__pack(&u, buf);
	const uint8_t *p;
	size_t len;
	assert_true(od_pb_scan_field(buf, n, 2, &p, &len));
	assert_int_equal(len, 6);
	assert_memory_equal(p, "parent", 6);
	assert_false(od_pb_scan_field(buf, n, 6, &p, &len));
	assert_false(od_pb_scan_field(buf, n - 1, 2, &p, &len) && len == 6 && 0);
	uint8_t trunc[] = {0x0A, 0x7F, 'a'};
	assert_false(od_pb_scan_field(trunc, sizeof(trunc), 1, &p, &len));
}

static void
test_unit_check(void **state)
{
	(void) state;
	orgdir_status st;
	Orgdir__V1__LocalizedString en = ORGDIR__V1__LOCALIZED_STRING__INIT;
	en.lang = "en";
	en.text = "Office";
	Orgdir__V1__LocalizedString *names[] = {&en, &en};
	Orgdir__V1__Location loc = ORGDIR__V1__LOCATION__INIT;
	char cc[] = "ch";
	loc.country_code = cc;
	Orgdir__V1__Unit u = ORGDIR__V1__UNIT__INIT;
	u.id = "office";
	u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	u.name = names;
	u.n_name = 1;
	u.location = &loc;
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_OK);
	assert_string_equal(loc.country_code, "CH");
	u.n_name = 2;
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "twice"));
	u.n_name = 0;
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "name is required"));
	u.n_name = 1;
	u.kind = 0;
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
	u.kind = ORGDIR__V1__UNIT__KIND__OFFICE;
	char bad[] = "C1";
	loc.country_code = bad;
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
	loc.country_code = cc;
	char *longname = malloc(OD_NAME_MAX + 2);
	memset(longname, 'n', OD_NAME_MAX + 1);
	longname[OD_NAME_MAX + 1] = 0;
	en.text = longname;
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "limit"));
	free(longname);
	en.text = "\xC3\x28";
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "UTF-8"));
	en.text = "Office";
	en.lang = "english language";
	assert_int_equal(od_unit_check(&u, &st), ORGDIR_INVALID_ARGUMENT);
}

static void
test_apply_path(void **state)
{
	(void) state;
	od_arena a;
	orgdir_status st;
	od_arena_init(&a, 1u << 20);
	Orgdir__V1__Unit dst = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__Unit src = ORGDIR__V1__UNIT__INIT;
	Orgdir__V1__Head head = ORGDIR__V1__HEAD__INIT;
	dst.acronym = "OLD";
	src.acronym = "NEW";
	head.name = "Ana";
	src.head = &head;
	assert_int_equal(od_pb_apply_path(&dst.base, &src.base, "acronym", &a, &st), ORGDIR_OK);
	assert_string_equal(dst.acronym, "NEW");
	assert_int_equal(od_pb_apply_path(&dst.base, &src.base, "head.name", &a, &st), ORGDIR_OK);
	assert_non_null(dst.head);
	assert_ptr_not_equal(dst.head, &head); /* created in the arena */
	assert_string_equal(dst.head->name, "Ana");
	assert_int_equal(od_pb_apply_path(&dst.base, &src.base, "sortOrder", &a, &st), ORGDIR_OK);
	assert_int_equal(od_pb_apply_path(&dst.base, NULL, "acronym", &a, &st), ORGDIR_OK);
	assert_string_equal(dst.acronym, "");
	assert_int_equal(
	    od_pb_apply_path(&dst.base, &src.base, "nope", &a, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    od_pb_apply_path(&dst.base, &src.base, "acronym.x", &a, &st), ORGDIR_INVALID_ARGUMENT);
	assert_int_equal(
	    od_pb_apply_path(&dst.base, &src.base, "", &a, &st), ORGDIR_INVALID_ARGUMENT);
	od_arena_destroy(&a);
}

static void
test_sha256_vectors(void **state)
{
	(void) state;
	uint8_t h[32];
	char hex[65];
	od_sha256("", 0, h);
	od_hex_encode(h, 32, hex);
	assert_string_equal(
	    hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	od_sha256("abc", 3, h);
	od_hex_encode(h, 32, hex);
	assert_string_equal(
	    hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes */
	od_sha256(two, strlen(two), h);
	od_hex_encode(h, 32, hex);
	assert_string_equal(
	    hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	char million[1000];
	memset(million, 'a', sizeof(million));
	od_sha256(million, 1000, h);
	od_hex_encode(h, 32, hex);
	assert_string_equal(
	    hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
	assert_true(od_ct_equal("abc", "abc", 3));
	assert_false(od_ct_equal("abc", "abd", 3));
	uint8_t r1[16], r2[16];
	assert_true(od_random(r1, sizeof(r1)));
	assert_true(od_random(r2, sizeof(r2)));
	assert_false(memcmp(r1, r2, sizeof(r1)) == 0);
}

/* A bit at a time, straight from the definition: the reference for both. */
static uint32_t
crc32c_bitwise(const uint8_t *b, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *b++;
		for (int k = 0; k < 8; k++) {
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		}
	}
	return ~c;
}

static void
test_crc32c(void **state)
{
	(void) state;
	/* RFC 3720 B.4 and the usual check value. */
	assert_int_equal(od_crc32c("123456789", 9), 0xe3069283u);
	assert_int_equal(od_crc32c_table("123456789", 9), 0xe3069283u);
	uint8_t zeros[32] = {0}, ones[32];
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(od_crc32c(zeros, 32), 0x8a9136aau);
	assert_int_equal(od_crc32c(ones, 32), 0x62a8ab43u);
	assert_int_equal(od_crc32c("", 0), 0u);
	/* Every length 0..300 at every alignment 0..7: the eight-byte steps,
	 * their tails and an unaligned start agree with the bitwise form. */
	uint8_t buf[320];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (uint8_t) x;
	}
	for (size_t off = 0; off < 8; off++) {
		for (size_t n = 0; n <= 300; n++) {
			uint32_t want = crc32c_bitwise(buf + off, n);
			assert_int_equal(od_crc32c(buf + off, n), want);
			assert_int_equal(od_crc32c_table(buf + off, n), want);
		}
	}
	/* A one-bit change is seen. */
	uint32_t before = od_crc32c(buf, 300);
	buf[150] ^= 0x10;
	assert_int_not_equal(od_crc32c(buf, 300), before);
}

static void
test_ipc_path(void **state)
{
	(void) state;
	assert_string_equal(od_ipc_path("ipc:///run/orgdir.sock"), "/run/orgdir.sock");
	assert_string_equal(od_ipc_path("unix://rel.sock"), "rel.sock");
	assert_null(od_ipc_path("ipc://"));
	assert_null(od_ipc_path("tcp://127.0.0.1:7000"));
	assert_null(od_ipc_path("tls+tcp://host:1"));
	assert_null(od_ipc_path("ipc:/x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_utf8_eight_at_a_time),
	    cmocka_unit_test(test_ids_and_langs),
	    cmocka_unit_test(test_text_pick),
	    cmocka_unit_test(test_arena_cap_and_reset),
	    cmocka_unit_test(test_arena_move),
	    cmocka_unit_test(test_arena_chunks_move),
	    cmocka_unit_test(test_buf_cap_and_varints),
	    cmocka_unit_test(test_read_all_cap),
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_scan_field),
	    cmocka_unit_test(test_unit_check),
	    cmocka_unit_test(test_apply_path),
	    cmocka_unit_test(test_sha256_vectors),
	    cmocka_unit_test(test_crc32c),
	    cmocka_unit_test(test_ipc_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
