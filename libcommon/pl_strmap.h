/* SPDX-License-Identifier: Apache-2.0 */
/* A small string-keyed hash map (chained, fixed bucket count) for the control sides: the
 * datastore keys a service follows, and what it groups by key while compiling. */
#ifndef PL_STRMAP_H
#define PL_STRMAP_H

#include <stdint.h>

struct pl_strmap_entry {
	char *key;
	void *val; /* the caller's; freed by pl_strmap_destroy's free_val when given */
	struct pl_strmap_entry *next;
};

struct pl_strmap {
	struct pl_strmap_entry **b;
	uint32_t n_buckets;
	uint32_t count;
};

struct pl_strmap *pl_strmap_new(uint32_t n_buckets);
void pl_strmap_destroy(struct pl_strmap **mp, void (*free_val)(void *));
struct pl_strmap_entry *pl_strmap_find(const struct pl_strmap *m, const char *key);
/* The entry for key, added (val NULL) when absent. NULL when out of memory. */
struct pl_strmap_entry *pl_strmap_add(struct pl_strmap *m, const char *key);
/* Removes key (its val is the caller's to free first). */
void pl_strmap_del(struct pl_strmap *m, const char *key);

#define PL_STRMAP_FOREACH(m, e)                                            \
	for (uint32_t pl_sm_i_ = 0; pl_sm_i_ < (m)->n_buckets; pl_sm_i_++) \
		for (struct pl_strmap_entry *e = (m)->b[pl_sm_i_]; e; e = e->next)

#endif
