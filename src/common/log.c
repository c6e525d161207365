/* log.c - one line per event on stderr, with a UTC timestamp. */
#include <stdio.h>
#include <time.h>

#include "od.h"

void
od_log(const char *level, const char *fmt, ...)
{
	char line[1024];
	char when[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A client's text in a message (a method name, say) must not start a
	 * line of its own nor reach a terminal's escape sequences. */
	od_utf8_repair(line);
	od_mask_controls(line);
	/* One fprintf so concurrent lines do not interleave. */
	fprintf(stderr, "%s.%03ldZ orgdird %s %s\n", when, ts.tv_nsec / 1000000, level, line);
}

void
od_now(int64_t *sec, int32_t *nsec)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = (int64_t) ts.tv_sec;
	*nsec = (int32_t) ts.tv_nsec;
}

uint64_t
od_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

void
od_mono_deadline(uint64_t ms_from_now, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t) (ms_from_now / 1000);
	ts->tv_nsec += (long) (ms_from_now % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
od_mono_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc == 0) {
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (rc == 0) {
			rc = pthread_cond_init(cv, &ca);
		}
		pthread_condattr_destroy(&ca);
	}
	return rc;
}
