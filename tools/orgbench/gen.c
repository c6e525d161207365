/* gen.c - `orgbench gen`: a realistic organisation of N units in the shape
 * of examples/iom/org.json (gen_shape.c places them), names in en/fr/es,
 * acronyms, head titles, locations; written as an orgdir.v1.Directory in
 * proto3 JSON, deterministic from a seed. Parents come before children. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gen.h"
#include "pbjson.h"

/* Headquarters sites: most units in Geneva, some in the admin centres. */
static const struct {
	const char *code, *city;
} sites[] = {{"CH", "Geneva"}, {"PH", "Manila"}, {"PA", "Panama City"}};

/* Names by kind and role: English pattern, French and Spanish heads
 * (the topic's "de ..." follows them), head titles (m/f in fr and es). */
typedef struct pattern {
	kind_t kind;
	enum role role;
	const char *en_pre, *en_post; /* en = pre + topic + post */
	const char *fr, *es;
	char letter; /* for the acronym */
	const char *t_en, *t_fr_m, *t_fr_f, *t_es_m, *t_es_f;
	const char *id_prefix;
} pattern;

static const pattern patterns[] = {
    {K(DEPARTMENT), R_TOPIC, "Department of ", "", "Département", "Departamento", 'D', "Director",
        "Directeur", "Directrice", "Director", "Directora", "dept"},
    {K(DIVISION), R_TOPIC, "Division of ", "", "Division", "División", 'V', "Head of Division",
        "Chef de division", "Cheffe de division", "Jefe de División", "Jefa de División", "div"},
    {K(UNIT), R_TOPIC, "", " Unit", "Unité", "Unidad", 'U', "Head of Unit", "Chef d'unité",
        "Cheffe d'unité", "Jefe de Unidad", "Jefa de Unidad", "unit"},
    {K(UNIT), R_TEAM, "", " Team", "Équipe", "Equipo", 'T', "Team Leader", "Chef d'équipe",
        "Cheffe d'équipe", "Jefe de Equipo", "Jefa de Equipo", "team"},
};

static const pattern *
pattern_of(const gnode *n)
{
	for (size_t i = 0; i < OD_ARRAY_LEN(patterns); i++) {
		if (patterns[i].kind == n->kind && patterns[i].role == n->role) {
			return &patterns[i];
		}
	}
	return &patterns[2];
}

/* --- the units ------------------------------------------------------------ */

static void
node_id(const gen *g, uint32_t i, char *out, size_t n)
{
	const gnode *nd = &g->n[i];
	switch (nd->role) {
	case R_FIXED:
		snprintf(out, n, "%s", ob_fixed[nd->ref].id);
		return;
	case R_REGION:
		snprintf(out, n, "ro-%s", ob_regions[nd->ref].slug);
		return;
	case R_COUNTRY:
		snprintf(out, n, "co-%c%c", ob_countries[nd->ref].code[0] | 0x20,
		    ob_countries[nd->ref].code[1] | 0x20);
		return;
	case R_SUBOFFICE:
		snprintf(out, n, "so-%" PRIu32, i);
		return;
	default:
		snprintf(out, n, "%s-%" PRIu32, pattern_of(nd)->id_prefix, i);
		return;
	}
}

static char *__attribute__((format(printf, 2, 3))) fmt(od_arena *a, const char *f, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, f);
	int len = vsnprintf(tmp, sizeof(tmp), f, ap);
	va_end(ap);
	if (len < 0) {
		len = 0;
	}
	return od_arena_strndup(
	    a, tmp, (size_t) len < sizeof(tmp) ? (size_t) len : sizeof(tmp) - 1);
}

/* Three LocalizedStrings (en, fr, es) from the arena. */
static Orgdir__V1__LocalizedString **
tri(od_arena *a, char *en, char *fr, char *es)
{
	Orgdir__V1__LocalizedString *s = od_arena_alloc(a, 3 * sizeof(*s));
	Orgdir__V1__LocalizedString **p = od_arena_alloc(a, 3 * sizeof(*p));
	static const char *const langs[3] = {"en", "fr", "es"};
	char *texts[3] = {en, fr, es};
	if (s == NULL || p == NULL) {
		return NULL;
	}
	for (int i = 0; i < 3; i++) {
		orgdir__v1__localized_string__init(&s[i]);
		s[i].lang = (char *) langs[i];
		s[i].text = texts[i];
		p[i] = &s[i];
	}
	return p;
}

/* Initials of the capitalised words of an English topic: "MH". */
static void
initials(const char *en, char *out, size_t n)
{
	size_t k = 0;
	bool start = true;
	for (const char *p = en; *p != '\0' && k + 1 < n; p++) {
		if (start && *p >= 'A' && *p <= 'Z') {
			out[k++] = *p;
		}
		start = *p == ' ' || *p == '-';
	}
	out[k] = '\0';
}

static void
number_suffix(const gnode *nd, char *out, size_t n)
{
	if (nd->num > 1) {
		snprintf(out, n, " %" PRIu32, nd->num);
	} else {
		out[0] = '\0';
	}
}

static int
make_unit(const gen *g, uint32_t i, od_arena *a, Orgdir__V1__Unit *u, Orgdir__V1__Head *head,
    Orgdir__V1__Location *loc, Orgdir__V1__Contact *contact)
{
	const gnode *nd = &g->n[i];
	char id[OD_ID_MAX + 1], pid[OD_ID_MAX + 1], num[16], ini[16];
	const ob_country *cty = &ob_countries[nd->country];

	orgdir__v1__unit__init(u);
	orgdir__v1__head__init(head);
	orgdir__v1__location__init(loc);
	orgdir__v1__contact__init(contact);
	node_id(g, i, id, sizeof(id));
	u->id = fmt(a, "%s", id);
	if (nd->parent != NO_PARENT) {
		node_id(g, nd->parent, pid, sizeof(pid));
		u->parent_id = fmt(a, "%s", pid);
	}
	u->kind = (kind_t) nd->kind;
	u->sort_order = (int32_t) nd->sort;
	number_suffix(nd, num, sizeof(num));
	bool f = nd->female;
	const char *t_en = NULL, *t_fr = NULL, *t_es = NULL;

	switch (nd->role) {
	case R_FIXED: {
		const fixed_unit *fx = &ob_fixed[nd->ref];
		u->name = tri(a, (char *) fx->en, (char *) fx->fr, (char *) fx->es);
		u->acronym = (char *) fx->acronym;
		t_en = fx->t_en;
		t_fr = fx->t_fr;
		t_es = fx->t_es;
		if (nd->ref == 0) {
			u->description = tri(a,
			    fmt(a,
			        "A synthetic organisation of %zu units, generated by orgbench for "
			        "benchmarks in the shape of examples/iom/org.json.",
			        g->units),
			    fmt(a,
			        "Une organisation synthétique de %zu unités, générée par orgbench "
			        "pour "
			        "les mesures de performance.",
			        g->units),
			    fmt(a,
			        "Una organización sintética de %zu unidades, generada por orgbench "
			        "para "
			        "las pruebas de rendimiento.",
			        g->units));
			contact->url = "https://www.example.org";
			u->contact = contact;
		}
		break;
	}
	case R_REGION: {
		const ob_region *r = &ob_regions[nd->ref];
		u->name = tri(a, fmt(a, "Regional Office in %s", r->city_en),
		    fmt(a, "Bureau régional %s", r->fr_of),
		    fmt(a, "Oficina Regional en %s", r->city_es));
		u->description = tri(a, fmt(a, "Covers %s.", r->covers_en),
		    fmt(a, "Couvre %s.", r->covers_fr), fmt(a, "Cubre %s.", r->covers_es));
		u->acronym = fmt(a, "RO %s", r->code);
		t_en = "Regional Director";
		t_fr = f ? "Directrice régionale" : "Directeur régional";
		t_es = f ? "Directora Regional" : "Director Regional";
		break;
	}
	case R_COUNTRY:
		u->name = tri(a, fmt(a, "Country Office in %s", cty->en),
		    fmt(a, "Bureau de pays %s", cty->fr_in),
		    fmt(a, "Oficina de País en %s", cty->es));
		u->acronym = fmt(a, "CO %s", cty->code);
		t_en = "Chief of Mission";
		t_fr = f ? "Cheffe de mission" : "Chef de mission";
		t_es = f ? "Jefa de Misión" : "Jefe de Misión";
		break;
	case R_SUBOFFICE:
		u->name = tri(a, fmt(a, "Sub-Office %" PRIu32 " in %s", nd->num, cty->en),
		    fmt(a, "Sous-bureau %" PRIu32 " %s", nd->num, cty->fr_in),
		    fmt(a, "Suboficina %" PRIu32 " en %s", nd->num, cty->es));
		u->acronym = fmt(a, "SO %s %" PRIu32, cty->code, nd->num);
		t_en = "Head of Sub-Office";
		t_fr = f ? "Cheffe de sous-bureau" : "Chef de sous-bureau";
		t_es = f ? "Jefa de Suboficina" : "Jefe de Suboficina";
		break;
	default: {
		const pattern *p = pattern_of(nd);
		const ob_topic *t = &ob_topics[nd->ref];
		u->name = tri(a, fmt(a, "%s%s%s%s", p->en_pre, t->en, p->en_post, num),
		    fmt(a, "%s %s%s", p->fr, t->fr, num), fmt(a, "%s %s%s", p->es, t->es, num));
		initials(t->en, ini, sizeof(ini));
		if (p->letter == 'D') {
			u->acronym =
			    nd->num > 1 ? fmt(a, "D%s%" PRIu32, ini, nd->num) : fmt(a, "D%s", ini);
		} else {
			u->acronym = nd->num > 1 ? fmt(a, "%s%c%" PRIu32, ini, p->letter, nd->num)
			                         : fmt(a, "%s%c", ini, p->letter);
		}
		t_en = p->t_en;
		t_fr = f ? p->t_fr_f : p->t_fr_m;
		t_es = f ? p->t_es_f : p->t_es_m;
		break;
	}
	}
	if (u->name != NULL) {
		u->n_name = 3;
	}
	if (u->description != NULL) {
		u->n_description = 3;
	}
	if (t_en != NULL) {
		head->title = tri(a, (char *) t_en, (char *) t_fr, (char *) t_es);
		head->n_title = head->title != NULL ? 3 : 0;
		u->head = head;
	}
	if (nd->site != SITE_FIELD && nd->role != R_COUNTRY && nd->role != R_SUBOFFICE) {
		loc->country_code = (char *) sites[nd->site].code;
		loc->city = (char *) sites[nd->site].city;
	} else {
		loc->country_code = (char *) cty->code;
		loc->city = nd->role == R_SUBOFFICE ? "" : (char *) cty->city;
		if (nd->role == R_REGION) {
			loc->city = (char *) ob_regions[nd->ref].city_en;
		}
	}
	u->location = loc;
	if (nd->role != R_FIXED && nd->role != R_TEAM) {
		contact->email = fmt(a, "%s@example.org", id);
		u->contact = contact;
	}
	return u->name != NULL && u->id != NULL ? 0 : -1;
}

/* The record of a country with a country office: a member state since a
 * plausible year, covered by the regional office above its office. */
static void
emit_country(gen *g, uint32_t i, void (*emit)(void *arg, const ProtobufCMessage *m), void *arg)
{
	const gnode *nd = &g->n[i];
	char region[OD_ID_MAX + 1];
	Orgdir__V1__Country c = ORGDIR__V1__COUNTRY__INIT;
	Orgdir__V1__Membership m = ORGDIR__V1__MEMBERSHIP__INIT;
	node_id(g, nd->parent, region, sizeof(region));
	m.status = ORGDIR__V1__MEMBERSHIP__STATUS__MEMBER_STATE;
	m.since_year = 1951 + (int32_t) ob_rand_below(&g->rng, 70);
	c.code = (char *) ob_countries[nd->ref].code;
	c.membership = &m;
	c.region_unit_id = region;
	emit(arg, &c.base);
}

int
ob_gen(const ob_gen_opts *o, void (*emit)(void *arg, const ProtobufCMessage *m), void *arg,
    char *err, size_t errlen)
{
	if (o->units < UNITS_MIN || o->units > UNITS_MAX) {
		snprintf(err, errlen, "--units must be from %d to %d", UNITS_MIN, UNITS_MAX);
		return -1;
	}
	gen g;
	memset(&g, 0, sizeof(g));
	g.units = o->units;
	g.rng = o->seed;
	g.counters = calloc((size_t) (K(OTHER) + 1) * 2 * ob_n_topics, sizeof(*g.counters));
	g.sub_offices = calloc(ob_n_countries, sizeof(*g.sub_offices));
	int rc = g.counters == NULL || g.sub_offices == NULL ? -1 : ob_gen_shape(&g);
	if (rc != 0 || g.len != o->units) {
		snprintf(err, errlen,
		    rc != 0 ? "out of memory" : "generator placed %zu units, not %zu", g.len,
		    o->units);
		free(g.n);
		free(g.counters);
		free(g.sub_offices);
		return -1;
	}
	od_arena a;
	od_arena_init(&a, 1u << 20);
	for (uint32_t i = 0; i < g.len && rc == 0; i++) {
		Orgdir__V1__Unit u;
		Orgdir__V1__Head head;
		Orgdir__V1__Location loc;
		Orgdir__V1__Contact contact;
		od_arena_reset(&a);
		if (make_unit(&g, i, &a, &u, &head, &loc, &contact) != 0) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		emit(arg, &u.base);
	}
	for (uint32_t i = 0; i < g.len && rc == 0; i++) {
		if (g.n[i].role == R_COUNTRY) {
			emit_country(&g, i, emit, arg);
		}
	}
	od_arena_destroy(&a);
	free(g.n);
	free(g.counters);
	free(g.sub_offices);
	return rc;
}

/* --- JSON ------------------------------------------------------------------- */

typedef struct json_out {
	FILE *f;
	size_t n;
	bool countries; /* the units array is closed */
	bool failed;
} json_out;

static void
emit_json(void *arg, const ProtobufCMessage *m)
{
	json_out *jo = arg;
	if (m->descriptor == &orgdir__v1__country__descriptor && !jo->countries) {
		fputs("\n],\n\"countries\": [", jo->f);
		jo->countries = true;
		jo->n = 0;
	}
	json_t *j = od_pbjson_from_message(m);
	if (j == NULL) {
		jo->failed = true;
		return;
	}
	fputs(jo->n++ == 0 ? "\n  " : ",\n  ", jo->f);
	if (json_dumpf(j, jo->f, JSON_COMPACT) != 0) {
		jo->failed = true;
	}
	json_decref(j);
}

int
ob_gen_write_json(const ob_gen_opts *o, const char *path, char *err, size_t errlen)
{
	json_out jo = {fopen(path, "w"), 0, false, false};
	if (jo.f == NULL) {
		snprintf(err, errlen, "cannot write %s", path);
		return -1;
	}
	fputs("{\"units\": [", jo.f);
	int rc = ob_gen(o, emit_json, &jo, err, errlen);
	fputs("\n]}\n", jo.f);
	if (fclose(jo.f) != 0 || (rc == 0 && jo.failed)) {
		snprintf(err, errlen, "cannot write %s", path);
		rc = -1;
	}
	return rc;
}
