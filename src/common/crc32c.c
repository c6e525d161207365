/*
 * crc32c.c - CRC-32C (Castagnoli), for the write-ahead log's records.
 *
 * Every logged write checksums its record on the writer thread, which is
 * the 64 writers' bottleneck: a byte-at-a-time table loop was 2.7% of the
 * server's samples there (docs/PERFORMANCE.md). On x86-64 with SSE4.2 the
 * processor's crc32 instruction does eight bytes a step; elsewhere the
 * table does one. Both give the same value (tests/unit/test_common.c).
 */
#include <pthread.h>

#include "od.h"

#define CRC32C_POLY 0x82f63b78u /* reflected */

static uint32_t table[256];

static void
table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++) {
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		}
		table[i] = c;
	}
}

static uint32_t
crc_table(uint32_t c, const uint8_t *b, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, table_init);
	while (n--) {
		c = table[(c ^ *b++) & 0xff] ^ (c >> 8);
	}
	return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#include <string.h>

__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t c, const uint8_t *b, size_t n)
{
	uint64_t c64 = c;
	for (; n >= 8; n -= 8, b += 8) {
		uint64_t w;
		memcpy(&w, b, 8); /* any alignment; little-endian, as the table reads */
		c64 = _mm_crc32_u64(c64, w);
	}
	c = (uint32_t) c64;
	for (; n > 0; n--) {
		c = _mm_crc32_u8(c, *b++);
	}
	return c;
}

static bool
have_sse42(void)
{
	static int have = -1; /* a benign race: every thread computes the same */
	if (__atomic_load_n(&have, __ATOMIC_RELAXED) < 0) {
		__builtin_cpu_init();
		__atomic_store_n(&have, __builtin_cpu_supports("sse4.2") ? 1 : 0, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&have, __ATOMIC_RELAXED) == 1;
}
#endif

uint32_t
od_crc32c_table(const void *p, size_t n)
{
	return crc_table(0xffffffffu, p, n) ^ 0xffffffffu;
}

uint32_t
od_crc32c(const void *p, size_t n)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (have_sse42()) {
		return crc_sse42(0xffffffffu, p, n) ^ 0xffffffffu;
	}
#endif
	return od_crc32c_table(p, n);
}
