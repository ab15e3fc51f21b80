/* SPDX-License-Identifier: Apache-2.0 */
#include "pl_msgpack.h"

#include <stdbool.h>

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t pl_mp_scalar_size(const uint8_t *p, size_t avail)
{
	static const uint8_t fixed[256] = {
		[0xc0] = 1,
		[0xc2] = 1,
		[0xc3] = 1,
		[0xca] = 5,
		[0xcb] = 9,
		[0xcc] = 2,
		[0xcd] = 3,
		[0xce] = 5,
		[0xcf] = 9,
		[0xd0] = 2,
		[0xd1] = 3,
		[0xd2] = 5,
		[0xd3] = 9,
	};
	size_t hdr, body;
	uint8_t b;

	if (avail == 0)
		return 0;
	b = p[0];
	if (b <= 0x7f || b >= 0xe0) {
		hdr = 1;
		body = 0;
	} else if (b >= 0xa0 && b <= 0xbf) {
		hdr = 1;
		body = b & 0x1f;
	} else if (b == 0xc4 || b == 0xd9) {
		hdr = 2;
		if (avail < hdr)
			return 0;
		body = p[1];
	} else if (b == 0xc5 || b == 0xda) {
		hdr = 3;
		if (avail < hdr)
			return 0;
		body = be16(p + 1);
	} else if (b == 0xc6 || b == 0xdb) {
		hdr = 5;
		if (avail < hdr)
			return 0;
		body = be32(p + 1);
	} else if (fixed[b]) {
		hdr = fixed[b];
		body = 0;
	} else {
		return 0;
	}
	if (hdr > avail || body > avail - hdr)
		return 0;
	return hdr + body;
}

size_t pl_mp_shape_size(const uint8_t *p, size_t avail, int depth)
{
	size_t hdr, items;

	if (avail == 0)
		return 0;
	uint8_t b = p[0];
	if (b >= 0x80 && b <= 0x9f) {
		hdr = 1;
		items = (size_t)(b & 0x0f) << (b < 0x90); /* a map has two per entry */
	} else if (b == 0xdc || b == 0xde) {
		hdr = 3;
		if (avail < hdr)
			return 0;
		items = (size_t)be16(p + 1) << (b == 0xde);
	} else if (b == 0xdd || b == 0xdf) {
		hdr = 5;
		if (avail < hdr)
			return 0;
		items = (size_t)be32(p + 1) << (b == 0xdf);
	} else {
		return pl_mp_scalar_size(p, avail);
	}
	/* A container: each element takes at least a byte. */
	if (depth <= 1 || items > avail - hdr)
		return 0;
	size_t pos = hdr;
	for (size_t i = 0; i < items; i++) {
		size_t sz = pl_mp_shape_size(p + pos, avail - pos, depth - 1);
		if (sz == 0)
			return 0;
		pos += sz;
	}
	return pos;
}

size_t pl_mp_array_header(const uint8_t *p, size_t avail, uint32_t *n)
{
	if (avail >= 1 && p[0] >= 0x90 && p[0] <= 0x9f) {
		*n = p[0] & 0x0f;
		return 1;
	}
	if (avail >= 3 && p[0] == 0xdc) {
		*n = be16(p + 1);
		return 3;
	}
	if (avail >= 5 && p[0] == 0xdd) {
		*n = be32(p + 1);
		return 5;
	}
	return 0;
}
