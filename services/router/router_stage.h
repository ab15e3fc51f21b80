/* SPDX-License-Identifier: Apache-2.0 */
/* router's burst function: L3 input checks and TTL / hop-limit handling. The FIB, ICMP errors
 * and next-hop choice come with the node dataplane. */
#ifndef ROUTER_STAGE_H
#define ROUTER_STAGE_H

#include "pl_stage.h"

void router_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters);

#endif
