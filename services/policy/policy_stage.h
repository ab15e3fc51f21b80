/* SPDX-License-Identifier: Apache-2.0 */
/* policy's burst function. With no services configured every packet keeps its verdict. */
#ifndef POLICY_STAGE_H
#define POLICY_STAGE_H

#include "pl_stage.h"

void policy_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters);

#endif
