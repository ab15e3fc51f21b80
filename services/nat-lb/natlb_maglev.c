/* SPDX-License-Identifier: Apache-2.0 */
/* Maglev table build and endpoint keys. Each ready backend walks its own permutation of the
 * table (offset + j * skip mod M, M prime so every skip is a generator) and the backends take
 * turns claiming their next free slot until the table is full, which gives each backend
 * floor(M/n) or ceil(M/n) slots. Scratch is O(n), allocated per build; lookup allocates nothing. */
#include "natlb_maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull
/* Distinct seeds so offset and skip are independent functions of the key. */
#define SEED_OFFSET 0x9e3779b97f4a7c15ull
#define SEED_SKIP 0xc2b2ae3d27d4eb4full

/* MurmurHash3 finalizer: spreads every key bit over the whole word. */
static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

bool natlb_maglev_size_ok(uint32_t m)
{
	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	for (uint64_t d = 3; d * d <= m; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

uint64_t natlb_maglev_key(const uint8_t *ip, int family, uint16_t port)
{
	uint8_t tail[3];
	size_t len;
	uint64_t h;

	if (!ip)
		return 0;
	if (family == AF_INET)
		len = 4;
	else if (family == AF_INET6)
		len = 16;
	else
		return 0;

	/* The family byte keeps 1.2.3.4 apart from ::102:304-style overlaps; port big-endian so the
	 * key does not depend on the host's byte order. */
	tail[0] = (uint8_t)len;
	tail[1] = (uint8_t)(port >> 8);
	tail[2] = (uint8_t)port;
	h = fnv1a(FNV64_OFFSET, ip, len);
	h = fnv1a(h, tail, sizeof(tail));
	return fmix64(h);
}

static void fill_none(uint32_t *table, uint32_t m)
{
	for (uint32_t i = 0; i < m; i++)
		table[i] = NATLB_MAGLEV_NONE;
}

int natlb_maglev_build(
	uint32_t *table, uint32_t m, const uint64_t *keys, const bool *ready, uint32_t n)
{
	uint32_t *idx, *pos, *skip;
	uint32_t n_ready = 0, filled = 0;

	if (!table || !natlb_maglev_size_ok(m) || (n > 0 && !keys))
		return -EINVAL;
	if (n > m)
		return -E2BIG;

	for (uint32_t i = 0; i < n; i++)
		if (!ready || ready[i])
			n_ready++;
	if (n_ready == 0) {
		fill_none(table, m);
		return -ENOENT;
	}

	idx = malloc(3 * (size_t)n_ready * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	pos = idx + n_ready;
	skip = pos + n_ready;

	for (uint32_t i = 0, r = 0; i < n; i++) {
		if (ready && !ready[i])
			continue;
		idx[r] = i;
		pos[r] = (uint32_t)(fmix64(keys[i] ^ SEED_OFFSET) % m);
		skip[r] = (uint32_t)(fmix64(keys[i] ^ SEED_SKIP) % (m - 1)) + 1;
		r++;
	}

	fill_none(table, m);
	/* Each backend's walk visits every slot once (M prime), so the inner search always ends,
	 * and the total work is O(M log M) on average. */
	for (;;) {
		for (uint32_t r = 0; r < n_ready; r++) {
			uint32_t c = pos[r];

			while (table[c] != NATLB_MAGLEV_NONE)
				c = (uint32_t)(((uint64_t)c + skip[r]) % m);
			table[c] = idx[r];
			pos[r] = (uint32_t)(((uint64_t)c + skip[r]) % m);
			if (++filled == m)
				goto out;
		}
	}
out:
	free(idx);
	return 0;
}
