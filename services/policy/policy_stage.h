/* SPDX-License-Identifier: Apache-2.0 */
/* policy's burst function. ctx is a struct policy (policy.h); NULL passes every packet on (the
 * single-process benchmark baseline, which has no tables). */
#ifndef POLICY_STAGE_H
#define POLICY_STAGE_H

#include "pl_stage.h"

void policy_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters);

#endif
