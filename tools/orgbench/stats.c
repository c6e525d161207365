/* stats.c - latency samples (all kept), percentiles and medians. */
#include <stdlib.h>
#include <string.h>

#include "orgbench.h"

void
ob_samples_add(ob_samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));
		if (v == NULL) {
			s->dropped++;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t) ns;
}

bool
ob_samples_merge(ob_samples *dst, const ob_samples *src)
{
	if (src->n > 0) {
		if (dst->n + src->n > dst->cap) {
			size_t cap = dst->n + src->n;
			uint32_t *v = realloc(dst->v, cap * sizeof(*v));
			if (v == NULL) {
				dst->dropped += src->n;
				return false;
			}
			dst->v = v;
			dst->cap = cap;
		}
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
		dst->n += src->n;
	}
	dst->dropped += src->dropped;
	return true;
}

void
ob_samples_free(ob_samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a;
	uint32_t y = *(const uint32_t *) b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double
pct(const uint32_t *v, size_t n, double p)
{
	size_t rank = (size_t) (p / 100.0 * (double) n + 0.999999);
	if (rank < 1) {
		rank = 1;
	}
	if (rank > n) {
		rank = n;
	}
	return v[rank - 1] / 1000.0;
}

void
ob_samples_summarise(ob_samples *s, ob_summary *out)
{
	memset(out, 0, sizeof(*out));
	if (s->n == 0) {
		return;
	}
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	out->n = s->n;
	out->p50 = pct(s->v, s->n, 50);
	out->p90 = pct(s->v, s->n, 90);
	out->p99 = pct(s->v, s->n, 99);
	out->max = s->v[s->n - 1] / 1000.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;
	return (x > y) - (x < y);
}

double
ob_median(double *v, size_t n)
{
	if (n == 0) {
		return 0;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
