/* gen_shape.c - where each generated unit goes: the fixed top of the
 * example organisation, then budgets split level by level so that lower
 * levels are full (~40 children) and upper ones narrower; 20% of the units
 * in the field (regional, country and sub-offices). */
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define FANOUT 40 /* children of a typical parent */
#define FIELD_ANCHOR 4 /* ocos holds the regional offices, as in the example */
#define FIELD_PER_MILLE 200

const fixed_unit ob_fixed[] = {
    {"org", -1, K(ORGANIZATION), "Synthetic Organization for Migration",
        "Organisation synthétique pour les migrations",
        "Organización Sintética para las Migraciones", "SOM", NULL, NULL, NULL, 0},
    {"dg", 0, K(EXECUTIVE_OFFICE), "Director General", "Directrice générale", "Directora General",
        "", "Director General", "Directrice générale", "Directora General", 0},
    {"ddg-management", 1, K(DEPUTY_OFFICE), "Deputy Director General for Management and Reform",
        "Directrice générale adjointe chargée de la gestion et des réformes",
        "Directora General Adjunta de Gestión y Reforma", "",
        "Deputy Director General for Management and Reform",
        "Directrice générale adjointe chargée de la gestion et des réformes",
        "Directora General Adjunta de Gestión y Reforma", 360},
    {"ddg-operations", 1, K(DEPUTY_OFFICE), "Deputy Director General for Operations",
        "Directrice générale adjointe chargée des opérations",
        "Directora General Adjunta de Operaciones", "", "Deputy Director General for Operations",
        "Directrice générale adjointe chargée des opérations",
        "Directora General Adjunta de Operaciones", 360},
    {"ocos", 1, K(OFFICE), "Office of the Chief of Staff", "Bureau du Chef de Cabinet",
        "Oficina del Jefe de Gabinete", "OCOS", "Chief of Staff", "Chef de Cabinet",
        "Jefe de Gabinete", 0},
    {"opac", 1, K(OFFICE), "Office of Partnership, Advocacy and Communications",
        "Bureau des partenariats, de la sensibilisation et de la communication",
        "Oficina de Alianzas, Promoción y Comunicación", "OPAC", "Director", "Directeur",
        "Director", 80},
    {"osop", 1, K(OFFICE), "Office of Strategy and Organizational Performance",
        "Bureau de la stratégie et de la performance institutionnelle",
        "Oficina de Estrategia y Desempeño Institucional", "OSOP", "Director", "Directrice",
        "Directora", 80},
    {"legal-affairs", 1, K(OFFICE), "Office of Legal Affairs", "Bureau des affaires juridiques",
        "Oficina de Asuntos Jurídicos", "LEG", "Legal Counsel", "Conseillère juridique",
        "Asesora Jurídica", 40},
    {"internal-oversight", 1, K(OFFICE), "Office of Internal Oversight Services",
        "Bureau des services de contrôle interne", "Oficina de Servicios de Supervisión Interna",
        "OIOS", "Inspector General", "Inspecteur général", "Inspector General", 40},
    {"ethics", 1, K(OFFICE), "Office of Ethics and Conduct",
        "Bureau de l'éthique et de la conduite", "Oficina de Ética y Conducta", "ETH",
        "Ethics Officer", "Responsable de l'éthique", "Responsable de Ética", 40},
};
const size_t ob_n_fixed = OD_ARRAY_LEN(ob_fixed);

/* --- the shape --------------------------------------------------------- */

static int
add(gen *g, uint32_t parent, uint32_t sort, kind_t kind, enum role role, uint16_t ref,
    uint32_t *out)
{
	if (g->len == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 1024;
		gnode *n = realloc(g->n, cap * sizeof(*n));
		if (n == NULL) {
			return -1;
		}
		g->n = n;
		g->cap = cap;
	}
	gnode *n = &g->n[g->len];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->sort = sort;
	n->kind = (uint8_t) kind;
	n->role = (uint8_t) role;
	n->ref = ref;
	n->female = (uint8_t) (ob_rand(&g->rng) & 1);
	n->site = 0;
	n->num = 1;
	if (parent != NO_PARENT) {
		n->site = g->n[parent].site;
		n->country = g->n[parent].country;
	}
	if (role == R_TOPIC || role == R_TEAM) {
		uint32_t *c =
		    &g->counters[((size_t) kind * 2 + (role == R_TEAM)) * ob_n_topics + ref];
		n->num = ++*c;
	} else if (role == R_SUBOFFICE) {
		n->num = ++g->sub_offices[n->country];
	}
	*out = (uint32_t) g->len++;
	return 0;
}

/* Units a subtree of `levels` levels below a node can hold at full fan-out. */
static size_t
capacity(unsigned levels)
{
	size_t cap = 0, layer = 1;
	for (unsigned i = 0; i < levels; i++) {
		layer *= FANOUT;
		cap += layer;
	}
	return cap;
}

/*
 * Places `budget` descendants under `parent`: as few children as the
 * budget needs at fan-out FANOUT on the levels it needs, so the lower
 * levels are full (~40 children) and the upper ones narrower, each child's
 * share jittered by +-20%. kinds[] names the kind of each level below.
 */
static int
split(gen *g, uint32_t parent, size_t budget, const kind_t *kinds, const enum role *roles,
    size_t n_kinds, unsigned level)
{
	if (budget == 0) {
		return 0;
	}
	unsigned levels = 1;
	while (capacity(levels) < budget) {
		levels++;
	}
	size_t per_child = 1 + capacity(levels - 1);
	size_t k = levels == 1 ? budget : (budget + per_child - 1) / per_child;
	size_t left = budget - k; /* descendants of the children */
	size_t li = level < n_kinds ? level : n_kinds - 1;
	bool hq = g->n[parent].site != SITE_FIELD;
	for (size_t i = 0; i < k; i++) {
		size_t children_left = k - i;
		size_t share = left / children_left;
		if (children_left > 1 && share > 0) {
			double j = 0.8 + 0.4 * (double) (ob_rand(&g->rng) % 1000) / 1000.0;
			share = (size_t) ((double) share * j);
		}
		size_t max_child = capacity(levels - 1);
		if (share > max_child) {
			share = max_child;
		}
		if (left - share > (children_left - 1) * max_child) {
			share = left - (children_left - 1) * max_child;
		}
		if (children_left == 1) {
			share = left;
		}
		uint16_t topic = (uint16_t) ob_rand_below(&g->rng, ob_n_topics);
		uint32_t child;
		if (add(g, parent, (uint32_t) (i + 1) * 10, kinds[li], roles[li], topic, &child) !=
		    0) {
			return -1;
		}
		if (hq && level == 0 && ob_rand_below(&g->rng, 100) < 25) {
			g->n[child].site =
			    (uint8_t) (1 + ob_rand_below(&g->rng, 2)); /* an admin centre */
		}
		if (split(g, child, share, kinds, roles, n_kinds, level + 1) != 0) {
			return -1;
		}
		left -= share;
	}
	return 0;
}

static const kind_t hq_kinds[] = {K(DEPARTMENT), K(DIVISION), K(UNIT), K(UNIT)};
static const enum role hq_roles[] = {R_TOPIC, R_TOPIC, R_TOPIC, R_TEAM};
static const kind_t office_kinds[] = {K(DIVISION), K(UNIT), K(UNIT)};
static const enum role office_roles[] = {R_TOPIC, R_TOPIC, R_TEAM};
static const kind_t field_kinds[] = {K(SUB_OFFICE), K(UNIT), K(UNIT)};
static const enum role field_roles[] = {R_SUBOFFICE, R_TOPIC, R_TEAM};

/* Regional offices, the country offices under them (regions in turn, so
 * a small budget still reaches every region), sub-offices below. */
static int
field(gen *g, uint32_t anchor, size_t budget)
{
	size_t n_ro = budget < ob_n_regions ? budget : ob_n_regions;
	size_t left = budget - n_ro;
	size_t n_co = left < ob_n_countries ? left : ob_n_countries;
	size_t extra = left - n_co;
	bool *chosen = calloc(ob_n_countries, sizeof(*chosen));
	if (chosen == NULL) {
		return -1;
	}
	/* Round-robin over regions: the r-th country of each region in turn. */
	size_t picked = 0;
	for (size_t round = 0; picked < n_co; round++) {
		for (size_t reg = 0; reg < ob_n_regions && picked < n_co; reg++) {
			size_t seen = 0;
			for (size_t c = 0; c < ob_n_countries; c++) {
				if (ob_countries[c].region == reg && seen++ == round) {
					chosen[c] = true;
					picked++;
					break;
				}
			}
		}
	}
	int rc = 0;
	size_t co_done = 0;
	for (size_t r = 0; r < n_ro && rc == 0; r++) {
		uint32_t ro;
		uint16_t home = 0;
		for (size_t c = 0; c < ob_n_countries; c++) {
			if (strcmp(ob_countries[c].code, ob_regions[r].code) == 0) {
				home = (uint16_t) c;
			}
		}
		rc = add(g, anchor, (uint32_t) (r + 1) * 10 + 100, K(REGIONAL_OFFICE), R_REGION,
		    (uint16_t) r, &ro);
		if (rc != 0) {
			break;
		}
		g->n[ro].site = SITE_FIELD;
		g->n[ro].country = home;
		uint32_t sort = 10;
		for (size_t c = 0; c < ob_n_countries && rc == 0; c++) {
			if (!chosen[c] || ob_countries[c].region != r) {
				continue;
			}
			uint32_t co;
			if ((rc = add(g, ro, sort, K(COUNTRY_OFFICE), R_COUNTRY, (uint16_t) c,
			         &co)) != 0) {
				break;
			}
			sort += 10;
			g->n[co].country = (uint16_t) c;
			/* Sub-offices: an even share of the extra budget, jittered. */
			size_t share = extra / (n_co - co_done);
			if (n_co - co_done > 1 && share > 0) {
				share = (size_t) ((double) share *
				    (0.8 + 0.4 * (double) (ob_rand(&g->rng) % 1000) / 1000.0));
			}
			if (n_co - co_done == 1 || share > extra) {
				share = extra;
			}
			extra -= share;
			co_done++;
			rc = split(
			    g, co, share, field_kinds, field_roles, OD_ARRAY_LEN(field_kinds), 0);
		}
	}
	free(chosen);
	return rc;
}

/* The fixed unit `fi`, its fixed children, and what is generated below. */
static int
top(gen *g, size_t fi, uint32_t parent, size_t hq_budget, size_t field_budget)
{
	uint32_t me;
	uint32_t sort = 10;
	for (size_t i = 0; i < fi; i++) {
		sort += ob_fixed[i].parent == ob_fixed[fi].parent ? 10 : 0;
	}
	if (add(g, parent, sort, ob_fixed[fi].kind, R_FIXED, (uint16_t) fi, &me) != 0) {
		return -1;
	}
	for (size_t c = 0; c < ob_n_fixed; c++) {
		if (ob_fixed[c].parent == (int) fi && top(g, c, me, hq_budget, field_budget) != 0) {
			return -1;
		}
	}
	if (fi == FIELD_ANCHOR) {
		return field(g, me, field_budget);
	}
	if (ob_fixed[fi].share == 0) {
		return 0;
	}
	/* Shares are per mille of the headquarters budget; the last anchor
	 * takes what rounding left over. */
	size_t given = 0, mine = 0;
	for (size_t i = 0; i < ob_n_fixed; i++) {
		size_t s = hq_budget * ob_fixed[i].share / 1000;
		if (i == fi) {
			mine = s;
		}
		given += s;
	}
	if (fi == ob_n_fixed - 1) {
		mine += hq_budget - given;
	}
	bool deputy = ob_fixed[fi].kind == K(DEPUTY_OFFICE);
	return split(g, me, mine, deputy ? hq_kinds : office_kinds,
	    deputy ? hq_roles : office_roles,
	    deputy ? OD_ARRAY_LEN(hq_kinds) : OD_ARRAY_LEN(office_kinds), 0);
}

int
ob_gen_shape(gen *g)
{
	size_t rest = g->units - ob_n_fixed;
	size_t field_budget = rest * FIELD_PER_MILLE / 1000;
	return top(g, 0, NO_PARENT, rest - field_budget, field_budget);
}
