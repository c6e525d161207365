/* util.c - clock and pseudo-random numbers. */
#include <errno.h>
#include <time.h>

#include "orgbench.h"

uint64_t
ob_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void
ob_sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t) (ns / 1000000000u), (long) (ns % 1000000000u)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* splitmix64: tiny state, good enough spread for picking ids. */
uint64_t
ob_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

uint64_t
ob_rand_below(uint64_t *state, uint64_t n)
{
	/* The modulo bias is below 2^-40 for the sizes used here. */
	return ob_rand(state) % n;
}
