/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

#include <stdlib.h>
#include <string.h>

#include "actors/map.h"

static inline uint32_t
home(uint64_t key, uint32_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (uint32_t) key & (cap - 1);
}

tr__mapent *
tr__map_get(const tr__map *m, uint64_t key)
{
	if (key == 0)
		return m->m_has_zero ? &m->m_ents[m->m_cap] : NULL;
	if (m->m_cap == 0)
		return NULL;
	for (uint32_t i = home(key, m->m_cap);; i = (i + 1) & (m->m_cap - 1)) {
		tr__mapent *e = &m->m_ents[i];
		if (e->me_key == key)
			return e;
		if (e->me_key == 0)
			return NULL;
	}
}

static bool
grow(tr__map *m)
{
	uint32_t cap = m->m_cap ? 2 * m->m_cap : 8;
	tr__mapent *ne = calloc((size_t) cap + 1, sizeof(*ne));
	if (ne == NULL)
		return false;
	if (m->m_has_zero)
		ne[cap] = m->m_ents[m->m_cap];
	for (uint32_t j = 0; j < m->m_cap; j++) {
		tr__mapent *e = &m->m_ents[j];
		if (e->me_key == 0)
			continue;
		uint32_t i = home(e->me_key, cap);
		while (ne[i].me_key != 0)
			i = (i + 1) & (cap - 1);
		ne[i] = *e;
	}
	free(m->m_ents);
	m->m_ents = ne;
	m->m_cap = cap;
	return true;
}

tr__mapent *
tr__map_put(tr__map *m, uint64_t key, bool *isnew)
{
	tr__mapent *e = tr__map_get(m, key);
	if (e != NULL) {
		if (isnew != NULL)
			*isnew = false;
		return e;
	}
	if (key == 0) {
		if (m->m_cap == 0 && !grow(m))
			return NULL;
		e = &m->m_ents[m->m_cap];
		memset(e, 0, sizeof(*e));
		m->m_has_zero = 1;
		if (isnew != NULL)
			*isnew = true;
		return e;
	}
	if (((uint64_t) m->m_len + 1) * 4 > (uint64_t) m->m_cap * 3 && !grow(m))
		return NULL;
	uint32_t i = home(key, m->m_cap);
	while (m->m_ents[i].me_key != 0)
		i = (i + 1) & (m->m_cap - 1);
	e = &m->m_ents[i];
	memset(e, 0, sizeof(*e));
	e->me_key = key;
	m->m_len++;
	if (isnew != NULL)
		*isnew = true;
	return e;
}

bool
tr__map_del(tr__map *m, uint64_t key, tr__mapent *out)
{
	tr__mapent *e = tr__map_get(m, key);
	if (e == NULL)
		return false;
	if (out != NULL)
		*out = *e;
	if (key == 0) {
		m->m_has_zero = 0;
		return true;
	}
	uint32_t mask = m->m_cap - 1;
	uint32_t i = (uint32_t) (e - m->m_ents);
	/* Backward shift: pull later members of the run into the hole. */
	for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		tr__mapent *f = &m->m_ents[j];
		if (f->me_key == 0)
			break;
		uint32_t h = home(f->me_key, m->m_cap);
		/* f may move to i if its home is not in (i, j]. */
		bool stay = (i <= j) ? (h > i && h <= j) : (h > i || h <= j);
		if (!stay) {
			m->m_ents[i] = *f;
			i = j;
		}
	}
	m->m_ents[i].me_key = 0;
	m->m_len--;
	return true;
}

void
tr__map_fini(tr__map *m)
{
	free(m->m_ents);
	m->m_ents = NULL;
	m->m_cap = 0;
	m->m_len = 0;
	m->m_has_zero = 0;
}

tr__mapent *
tr__map_next(const tr__map *m, uint32_t *i)
{
	while (*i < m->m_cap) {
		tr__mapent *e = &m->m_ents[(*i)++];
		if (e->me_key != 0)
			return e;
	}
	if (*i == m->m_cap) {
		(*i)++;
		if (m->m_has_zero)
			return &m->m_ents[m->m_cap];
	}
	return NULL;
}
