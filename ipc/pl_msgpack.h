/* SPDX-License-Identifier: Apache-2.0 */
/* Sizes of msgpack objects read from untrusted bytes, without allocating: msgpack-c allocates
 * for the element count a container header claims before it reads one element (a map32 header
 * of 5 bytes asks for 64 GiB), so the bus envelope (pl_bus.c, scalars only) and the objects
 * (pl_objects.c, shallow maps) are walked here first and every count is checked against the
 * bytes that are there. */
#ifndef PL_MSGPACK_H
#define PL_MSGPACK_H

#include <stddef.h>
#include <stdint.h>

/* Size of the scalar at p (header and payload), or 0 if it is truncated, a container, an
 * extension or the reserved byte. */
size_t pl_mp_scalar_size(const uint8_t *p, size_t avail);
/* Size of the object at p (header and everything inside), or 0 if it is truncated, nested
 * deeper than depth (1: a scalar only), holds an extension or the reserved byte. */
size_t pl_mp_shape_size(const uint8_t *p, size_t avail, int depth);
/* Reads an array header: its size in *n, returns the header's size or 0 if it is not one. */
size_t pl_mp_array_header(const uint8_t *p, size_t avail, uint32_t *n);

#endif
