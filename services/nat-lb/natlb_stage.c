/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's burst function: no service table yet, so packets pass with their verdict as is. */
#include "natlb_stage.h"

void natlb_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters)
{
	(void)ctx;
	(void)pkts;
	(void)n;
	(void)counters;
}
