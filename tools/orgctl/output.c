/* output.c - what orgctl prints: JSON, records, tables and trees. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orgctl.h"
#include "pbjson.h"

int
od_ctl_print_json(const ProtobufCMessage *m)
{
	json_t *j = od_pbjson_from_message(m);
	if (j == NULL) {
		return od_ctl_fail_local("cannot build the JSON output (out of memory)");
	}
	/* The mapping emits fields in descriptor order; keep it. */
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL) {
		return od_ctl_fail_local("cannot format the JSON output (out of memory)");
	}
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	return 0;
}

int
od_ctl_print_json_line(const ProtobufCMessage *m)
{
	json_t *j = od_pbjson_from_message(m);
	if (j == NULL) {
		return od_ctl_fail_local("cannot build the JSON output (out of memory)");
	}
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL) {
		return od_ctl_fail_local("cannot format the JSON output (out of memory)");
	}
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	if (fflush(stdout) != 0) {
		return od_ctl_fail_local("cannot write the output");
	}
	return 0;
}

void
od_ctl_put(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	for (; *p != '\0'; p++) {
		if (*p == '\t' || *p == '\n' || *p == '\r') {
			fputc(' ', f);
		} else if (*p < 0x20 || *p == 0x7f) {
			/* A name must not drive the terminal (escape sequences). */
			fputc('?', f);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', f); /* C1 controls, U+0080..U+009F */
			p++;
		} else {
			fputc(*p, f);
		}
	}
}

size_t
od_ctl_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++) {
		if ((*p & 0xC0) != 0x80) {
			w++;
		}
	}
	return w;
}

static void
pad(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputc(' ', stdout);
	}
}

const char *
od_ctl_pick(Orgdir__V1__LocalizedString *const *v, size_t n, const char *lang)
{
	return orgdir_text_pick(v, n, lang);
}

const char *
od_ctl_unit_name(const Orgdir__V1__Unit *u, const char *lang)
{
	const char *s = od_ctl_pick(u->name, u->n_name, lang);
	return s != NULL && *s != '\0' ? s : u->id;
}

const char *
od_ctl_kind_name(int kind)
{
	static char names[32][40];
	static bool done;
	const ProtobufCEnumDescriptor *d = &orgdir__v1__unit__kind__descriptor;
	if (!done) {
		for (unsigned i = 0; i < d->n_values && i < OD_ARRAY_LEN(names); i++) {
			const char *n = d->values[i].name;
			size_t k = 0;
			for (; n[k] != '\0' && k + 1 < sizeof(names[i]); k++) {
				names[i][k] = (char) tolower((unsigned char) n[k]);
			}
			names[i][k] = '\0';
		}
		done = true;
	}
	for (unsigned i = 0; i < d->n_values && i < OD_ARRAY_LEN(names); i++) {
		if (d->values[i].value == kind) {
			return names[i];
		}
	}
	return "?";
}

void
od_ctl_kind_list(char *buf, size_t n)
{
	const ProtobufCEnumDescriptor *d = &orgdir__v1__unit__kind__descriptor;
	size_t len = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < d->n_values; i++) {
		if (d->values[i].value == ORGDIR__V1__UNIT__KIND__KIND_UNSPECIFIED) {
			continue;
		}
		int k = snprintf(buf + len, n - len, "%s%s", len > 0 ? ", " : "",
		    od_ctl_kind_name(d->values[i].value));
		if (k < 0 || (size_t) k >= n - len) {
			break;
		}
		len += (size_t) k;
	}
}

void
od_ctl_format_time(const Google__Protobuf__Timestamp *t, char *buf, size_t n)
{
	buf[0] = '\0';
	if (t == NULL) {
		return;
	}
	time_t secs = (time_t) t->seconds;
	struct tm tm;
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, n, "@%lld", (long long) t->seconds);
		return;
	}
	size_t len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	int32_t ns = t->nanos;
	if (ns > 0 && ns < 1000000000) {
		/* 3, 6 or 9 digits, as the proto3 JSON mapping writes them. */
		if (ns % 1000000 == 0) {
			snprintf(buf + len, n - len, ".%03dZ", (int) (ns / 1000000));
		} else if (ns % 1000 == 0) {
			snprintf(buf + len, n - len, ".%06dZ", (int) (ns / 1000));
		} else {
			snprintf(buf + len, n - len, ".%09dZ", (int) ns);
		}
	} else {
		snprintf(buf + len, n - len, "Z");
	}
}

void
od_ctl_format_time_s(const Google__Protobuf__Timestamp *t, char *buf, size_t n)
{
	if (t == NULL) {
		buf[0] = '\0';
		return;
	}
	Google__Protobuf__Timestamp s = *t;
	s.nanos = 0;
	od_ctl_format_time(&s, buf, n);
}

void
od_ctl_format_count(uint64_t v, char *buf, size_t n)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long) v);
	size_t k = 0;
	for (int i = 0; i < len && k + 1 < n; i++) {
		if (i > 0 && (len - i) % 3 == 0 && k + 2 < n) {
			buf[k++] = ',';
		}
		buf[k++] = digits[i];
	}
	buf[k < n ? k : n - 1] = '\0';
}

/* --- the unit record -------------------------------------------------------- */

#define LABEL_WIDTH 18

void
od_ctl_print_line(const char *label, const char *lang, const char *value)
{
	if (value == NULL || *value == '\0') {
		return;
	}
	char lab[80];
	if (lang != NULL) {
		snprintf(lab, sizeof(lab), "%s [%s]:", label, lang);
	} else {
		snprintf(lab, sizeof(lab), "%s:", label);
	}
	od_ctl_put(stdout, lab);
	size_t w = od_ctl_width(lab);
	pad(w < LABEL_WIDTH ? LABEL_WIDTH - w : 1);
	od_ctl_put(stdout, value);
	fputc('\n', stdout);
}

void
od_ctl_print_localized(
    const char *label, Orgdir__V1__LocalizedString *const *v, size_t n, const char *lang)
{
	const char *picked = od_ctl_pick(v, n, lang);
	od_ctl_print_line(label, NULL, picked);
	for (size_t i = 0; i < n; i++) {
		if (v[i]->text != picked) {
			od_ctl_print_line(label, v[i]->lang, v[i]->text);
		}
	}
}

void
od_ctl_print_unit(const struct od_ctl *c, const Orgdir__V1__Unit *u)
{
	char buf[64];
	od_ctl_print_line("id", NULL, u->id);
	od_ctl_print_line("kind", NULL, od_ctl_kind_name(u->kind));
	od_ctl_print_localized("name", u->name, u->n_name, c->lang);
	od_ctl_print_line("acronym", NULL, u->acronym);
	od_ctl_print_localized("description", u->description, u->n_description, c->lang);
	if (u->head != NULL) {
		od_ctl_print_localized("head", u->head->title, u->head->n_title, c->lang);
		od_ctl_print_line("head name", NULL, u->head->name);
		od_ctl_print_line("head email", NULL, u->head->email);
		od_ctl_print_line("head phone", NULL, u->head->phone);
	}
	if (u->location != NULL) {
		od_ctl_print_line("country", NULL, u->location->country_code);
		od_ctl_print_line("city", NULL, u->location->city);
	}
	if (u->contact != NULL) {
		od_ctl_print_line("email", NULL, u->contact->email);
		od_ctl_print_line("phone", NULL, u->contact->phone);
		od_ctl_print_line("url", NULL, u->contact->url);
	}
	od_ctl_print_line(
	    "parent", NULL, u->parent_id[0] != '\0' ? u->parent_id : "(none: a root)");
	snprintf(buf, sizeof(buf), "%d", (int) u->sort_order);
	od_ctl_print_line("sort order", NULL, buf);
	od_ctl_print_line("etag", NULL, u->etag);
	od_ctl_format_time(u->create_time, buf, sizeof(buf));
	od_ctl_print_line("created", NULL, buf);
	od_ctl_format_time(u->update_time, buf, sizeof(buf));
	od_ctl_print_line("updated", NULL, buf);
}

/* --- tables ------------------------------------------------------------------------ */

void
od_ctl_table_init(struct od_ctl_table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	od_ctl_table_row(t, headers);
}

void
od_ctl_table_row(struct od_ctl_table *t, const char *const *cells)
{
	if (t->oom) {
		return;
	}
	if (t->nrows == t->cap) {
		size_t cap = t->cap == 0 ? 16 : t->cap * 2;
		const char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));
		if (p == NULL) {
			t->oom = true;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] = cells[i] != NULL ? cells[i] : "";
	}
	t->nrows++;
}

int
od_ctl_table_print(struct od_ctl_table *t)
{
	if (t->oom) {
		free(t->cells);
		return od_ctl_fail_local("out of memory");
	}
	size_t *w = calloc(t->ncols, sizeof(*w));
	if (w == NULL) {
		free(t->cells);
		return od_ctl_fail_local("out of memory");
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			size_t cw = od_ctl_width(t->cells[r * t->ncols + i]);
			w[i] = cw > w[i] ? cw : w[i];
		}
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			od_ctl_put(stdout, s);
			if (i + 1 < t->ncols) {
				pad(w[i] - od_ctl_width(s) + 2);
			}
		}
		fputc('\n', stdout);
	}
	free(w);
	free(t->cells);
	t->cells = NULL;
	return 0;
}

/* --- trees ----------------------------------------------------------------------- */

static void
tree_label(const struct od_ctl *c, const Orgdir__V1__Unit *u, bool ids)
{
	od_ctl_put(stdout, od_ctl_unit_name(u, c->lang));
	if (u->acronym[0] != '\0') {
		fputs(" (", stdout);
		od_ctl_put(stdout, u->acronym);
		fputc(')', stdout);
	}
	if (ids) {
		fputs(" [", stdout);
		od_ctl_put(stdout, u->id);
		fputc(']', stdout);
	}
	fputc('\n', stdout);
}

int
od_ctl_print_tree(const struct od_ctl *c, const Orgdir__V1__GetSubtreeResponse *r, bool ids)
{
	size_t n = r->n_nodes;
	if (n == 0) {
		return 0;
	}
	/* Depths as the server sent them, made safe: a node is at most one
	 * level below the one before it (depth-first order), so n + 1 levels
	 * suffice. pending[k]: the latest node at depth k not yet known to
	 * have a later sibling, or NONE. open[k]: the node drawn last at depth
	 * k has later siblings (always set before it is read: depth-first).
	 *
	 * No calloc here, and no flag cleared back to zero: clang 14 -O2
	 * (DSEPass) dropped stores of zero into calloc'd memory in these loops
	 * as if it were still untouched, and drew wrong branches (found by
	 * cli_test in a ThreadSanitizer build; gcc is not affected). */
	const size_t NONE = SIZE_MAX;
	size_t *depth = malloc(n * sizeof(*depth));
	bool *last = malloc(n * sizeof(*last));
	size_t *pending = malloc((n + 1) * sizeof(*pending));
	bool *open = malloc((n + 1) * sizeof(*open));
	if (depth == NULL || last == NULL || pending == NULL || open == NULL) {
		free(depth);
		free(last);
		free(pending);
		free(open);
		return od_ctl_fail_local("out of memory");
	}
	for (size_t k = 0; k <= n; k++) {
		pending[k] = NONE;
	}
	/* A node is the last of its siblings unless a later node at its
	 * depth comes before a shallower one. */
	size_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		size_t d = r->nodes[i]->depth;
		size_t max = i == 0 ? 0 : prev + 1;
		d = d > max ? max : d;
		depth[i] = d;
		last[i] = true;
		if (pending[d] != NONE) {
			last[pending[d]] = false;
		}
		for (size_t k = d + 1; k <= prev; k++) {
			pending[k] = NONE;
		}
		pending[d] = i;
		prev = d;
	}
	for (size_t i = 0; i < n; i++) {
		size_t d = depth[i];
		for (size_t k = 1; k < d; k++) {
			fputs(open[k] ? "│   " : "    ", stdout);
		}
		if (d > 0) {
			fputs(last[i] ? "└── " : "├── ", stdout);
		}
		open[d] = !last[i];
		const Orgdir__V1__Unit *u = r->nodes[i]->unit;
		if (u != NULL) {
			tree_label(c, u, ids);
		} else {
			fputs("?\n", stdout);
		}
	}
	free(depth);
	free(last);
	free(pending);
	free(open);
	return 0;
}
