/* SPDX-License-Identifier: Apache-2.0 */
#include "pl_strmap.h"

#include <stdlib.h>
#include <string.h>

struct pl_strmap *pl_strmap_new(uint32_t n_buckets)
{
	struct pl_strmap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n_buckets = n_buckets ? n_buckets : 1;
	m->b = calloc(m->n_buckets, sizeof(*m->b));
	if (!m->b) {
		free(m);
		return NULL;
	}
	return m;
}

/* FNV-1a */
static uint32_t bucket(const struct pl_strmap *m, const char *key)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % m->n_buckets;
}

struct pl_strmap_entry *pl_strmap_find(const struct pl_strmap *m, const char *key)
{
	for (struct pl_strmap_entry *e = m->b[bucket(m, key)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

struct pl_strmap_entry *pl_strmap_add(struct pl_strmap *m, const char *key)
{
	struct pl_strmap_entry *e = pl_strmap_find(m, key);
	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	uint32_t h = bucket(m, key);
	e->next = m->b[h];
	m->b[h] = e;
	m->count++;
	return e;
}

void pl_strmap_del(struct pl_strmap *m, const char *key)
{
	for (struct pl_strmap_entry **pe = &m->b[bucket(m, key)]; *pe; pe = &(*pe)->next) {
		if (strcmp((*pe)->key, key) == 0) {
			struct pl_strmap_entry *e = *pe;
			*pe = e->next;
			free(e->key);
			free(e);
			m->count--;
			return;
		}
	}
}

void pl_strmap_destroy(struct pl_strmap **mp, void (*free_val)(void *))
{
	struct pl_strmap *m = *mp;
	if (!m)
		return;
	for (uint32_t i = 0; i < m->n_buckets; i++) {
		for (struct pl_strmap_entry *e = m->b[i], *n; e; e = n) {
			n = e->next;
			if (free_val)
				free_val(e->val);
			free(e->key);
			free(e);
		}
	}
	free(m->b);
	free(m);
	*mp = NULL;
}
