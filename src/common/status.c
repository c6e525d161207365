/* status.c - names, messages and exit codes of the status table. */
#include <stdio.h>
#include <strings.h>

#include "od.h"

struct code_info {
	const char *name;
	const char *message;
	int exit_code;
};

static const struct code_info codes[ORGDIR_CODE_COUNT] = {
#define X(name, val, exitc, msg) [val] = {#name, msg, exitc},
    ORGDIR_CODE_TABLE(X)
#undef X
};

static const struct code_info *
info(orgdir_code c)
{
	if ((int) c < 0 || (int) c >= ORGDIR_CODE_COUNT) {
		return &codes[ORGDIR_UNKNOWN];
	}
	return &codes[c];
}

const char *
orgdir_code_name(orgdir_code c)
{
	return info(c)->name;
}

const char *
orgdir_code_message(orgdir_code c)
{
	return info(c)->message;
}

int
orgdir_code_exit(orgdir_code c)
{
	return c == ORGDIR_OK ? 0 : info(c)->exit_code;
}

int
orgdir_code_parse(const char *name)
{
	for (int i = 0; i < ORGDIR_CODE_COUNT; i++) {
		if (strcasecmp(name, codes[i].name) == 0) {
			return i;
		}
	}
	return -1;
}

orgdir_code
od_status_vset(orgdir_status *st, orgdir_code code, const char *fmt, va_list ap)
{
	if (st == NULL) {
		return code;
	}
	st->code = code;
	if (fmt == NULL) {
		od_strlcpy(st->message, code == ORGDIR_OK ? "" : orgdir_code_message(code),
		    sizeof(st->message));
	} else {
		char tmp[ORGDIR_STATUS_MESSAGE_MAX];
		vsnprintf(tmp, sizeof(tmp), fmt, ap);
		/* vsnprintf may cut a UTF-8 sequence; od_strlcpy does not. A
		 * precision ("'%.40s'" of a client's text) may cut one inside the
		 * message: a status travels as a proto3 string, so it is repaired. */
		od_strlcpy(st->message, tmp, sizeof(st->message));
		od_utf8_repair(st->message);
	}
	return code;
}

orgdir_code
od_status_set(orgdir_status *st, orgdir_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	od_status_vset(st, code, fmt, ap);
	va_end(ap);
	return code;
}

void
od_status_ok(orgdir_status *st)
{
	if (st != NULL) {
		st->code = ORGDIR_OK;
		st->message[0] = '\0';
	}
}
