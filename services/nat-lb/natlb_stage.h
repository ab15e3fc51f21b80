/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's burst function. ctx is a struct natlb (natlb.h); NULL passes every packet on (the
 * single-process benchmark baseline, which has no tables). */
#ifndef NATLB_STAGE_H
#define NATLB_STAGE_H

#include "pl_stage.h"

void natlb_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters);

#endif
