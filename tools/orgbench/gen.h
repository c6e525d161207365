/*
 * gen.h - internals of the organisation generator, shared by gen_shape.c
 * (where each unit goes) and gen.c (what each unit says, and the JSON).
 */
#ifndef ORGBENCH_GEN_H
#define ORGBENCH_GEN_H

#include "orgbench.h"

#define UNITS_MIN 16
#define UNITS_MAX 1000000
#define NO_PARENT UINT32_MAX
#define SITE_FIELD 255 /* gnode.site of field units */

typedef Orgdir__V1__Unit__Kind kind_t;
#define K(x) ORGDIR__V1__UNIT__KIND__##x

enum role { R_FIXED, R_TOPIC, R_TEAM, R_REGION, R_COUNTRY, R_SUBOFFICE };

typedef struct gnode {
	uint32_t parent;
	uint32_t sort;
	uint32_t num; /* name number; 1 = none shown */
	uint16_t ref; /* fixed, topic, region or country index */
	uint16_t country; /* field units: where they are */
	uint8_t kind;
	uint8_t role;
	uint8_t female;
	uint8_t site; /* headquarters units: index into sites; 255 = field */
} gnode;

typedef struct gen {
	gnode *n;
	size_t len, cap;
	uint64_t rng;
	uint32_t *counters; /* [kind][role][topic] name numbers */
	uint32_t *sub_offices; /* [country] sub-office numbers */
	size_t units;
} gen;

/* The fixed top of the organisation, as in the example. */
typedef struct fixed_unit {
	const char *id;
	int parent; /* index in this table */
	kind_t kind;
	const char *en, *fr, *es, *acronym;
	const char *t_en, *t_fr, *t_es; /* head title */
	unsigned share; /* per mille of the headquarters budget below it */
} fixed_unit;

extern const fixed_unit ob_fixed[];
extern const size_t ob_n_fixed;

/* Lays out g->units nodes in g->n, parents before children (g->rng,
 * g->counters and g->sub_offices set up by the caller). 0, or -1 when
 * memory runs out. */
int ob_gen_shape(gen *g);

#endif
