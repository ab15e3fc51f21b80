/* SPDX-License-Identifier: Apache-2.0 */
/* CRC32c of an address (4 or 16 bytes) at any alignment. rte_hash_crc loads 4 and 8 bytes at a
 * time through plain pointers, which is undefined behaviour for an address inside a packet
 * header or a packed struct (UBSan reports it); a copy into an aligned local gives the same
 * hash (the same bytes) and compiles to unaligned loads where the CPU allows them. */
#ifndef PL_HASH_H
#define PL_HASH_H

#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>

static inline uint32_t pl_hash_addr(const void *addr, uint32_t len, uint32_t init)
{
	uint64_t w[2];
	memcpy(w, addr, len <= sizeof(w) ? len : sizeof(w));
	return rte_hash_crc(w, len <= sizeof(w) ? len : sizeof(w), init);
}

#endif
