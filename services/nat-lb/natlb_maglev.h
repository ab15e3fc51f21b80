/* SPDX-License-Identifier: Apache-2.0 */
/* Maglev consistent hashing (Eisenbud et al., NSDI 2016) for picking a service backend: a table of
 * prime size M maps a flow hash to a backend index so that adding or removing one endpoint moves
 * mostly that endpoint's own flows. The table is plain uint32_t memory (no pointers), so it can
 * be built by the control side and read from shared memory by the datapath. */
#ifndef NATLB_MAGLEV_H
#define NATLB_MAGLEV_H

#include <stdbool.h>
#include <stdint.h>

/* Table entry when no backend is ready. */
#define NATLB_MAGLEV_NONE 0xffffffffu
/* Default table size: prime, and large enough for ±1-slot balance up to a few hundred backends. */
#define NATLB_MAGLEV_M_DEFAULT 65537u

/*
 * Fill @table (@m entries, @m prime) with indexes into @keys/@ready (@n backends). Only backends
 * whose @ready entry is true take slots; @ready NULL means all are ready. The result depends only
 * on the arguments, so rebuilding with the same input gives the same table.
 * Returns 0; -EINVAL for a NULL table/keys or non-prime @m; -E2BIG when @n > @m; -ENOMEM when the
 * scratch cannot be allocated (table untouched); -ENOENT when no backend is ready (all entries
 * NATLB_MAGLEV_NONE).
 */
int natlb_maglev_build(
	uint32_t *table, uint32_t m, const uint64_t *keys, const bool *ready, uint32_t n);

/* Backend index for @flow_hash, or NATLB_MAGLEV_NONE. @flow_hash should be well mixed. */
static inline uint32_t natlb_maglev_lookup(const uint32_t *table, uint32_t m, uint64_t flow_hash)
{
	return table[flow_hash % m];
}

/*
 * Stable 64-bit key of an endpoint: @ip is 4 bytes (AF_INET) or 16 bytes (AF_INET6) in network
 * order, @port in host order. Same on every node and across restarts. Returns 0 for a NULL @ip or
 * an unknown @family (never a valid key in practice).
 */
uint64_t natlb_maglev_key(const uint8_t *ip, int family, uint16_t port);

/* True when @m is prime (usable as a table size). */
bool natlb_maglev_size_ok(uint32_t m);

#endif
