/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's burst function. With no services configured every packet keeps its verdict. */
#ifndef NATLB_STAGE_H
#define NATLB_STAGE_H

#include "pl_stage.h"

void natlb_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters);

#endif
