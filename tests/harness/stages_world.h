/* SPDX-License-Identifier: Apache-2.0 */
/* One node's world for the stage harness (stage_harness.h), shared by the unit test `stages`
 * and the fuzz target fuzz_stages: node-a with an uplink (192.168.1.10/24, fd00:1::10/64), the
 * host tap and seven pods; Services with and without endpoints, local and on another node;
 * a namespace isolated by a deny-all ingress policy and a pod that takes only TCP 80 from the
 * `frontend` namespace. Addresses are listed in stages_world.c. */
#ifndef STAGES_WORLD_H
#define STAGES_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage_harness.h"

#define IF_UP PL_IF_UPLINK
#define IF_HOST PL_IF_HOST
#define IF_CLIENT (PL_IF_POD_BASE + 0) /* default/client 10.244.0.16 fd00:244::16 */
#define IF_WEB (PL_IF_POD_BASE + 1) /* web/web 10.244.0.17: TCP 80 from ns frontend only */
#define IF_ISO (PL_IF_POD_BASE + 2) /* iso/iso 10.244.0.18: deny-all ingress */
#define IF_FE (PL_IF_POD_BASE + 3) /* frontend/fe 10.244.0.19 */
#define IF_SRV (PL_IF_POD_BASE + 4) /* default/srv 10.244.0.20: endpoint of svc srv(6) */
#define IF_GONE (PL_IF_POD_BASE + 5) /* 10.244.0.21: routed, no port open */
#define IF_BROKEN (PL_IF_POD_BASE + 6) /* 10.244.0.22: its port refuses every frame */

/* The interfaces a frame can enter on; the fuzz target's first byte picks one. */
extern const uint16_t world_ingress[];
#define WORLD_N_INGRESS 7

/* The world's harness (policy compiled unless policy_unready). NULL with err set. */
struct stage_harness *world_new(bool policy_unready, char *err, size_t err_size);

#endif
