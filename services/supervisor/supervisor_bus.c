/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor as a state-bus producer: one object of kind "service" per service, keyed by
 * its name, valued with a msgpack map {pid, state, restarts}, republished on every change.
 * Malformed snapshot requests are counted in the supervisor's bus_rejected counter. */
#include "supervisor.h"

#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "pl_log.h"

int supervisor_bus_start(struct supervisor *sv)
{
	const struct pl_config *cfg = &sv->s.cfg;
	const struct pl_bus_limits lim = pl_bus_limits_from_config(cfg);
	sv->bus = pl_bus_producer_new(sv->s.zctx, cfg->run_dir, "supervisor", &lim);
	if (!sv->bus)
		return -errno;
	for (int i = 0; i < PL_SVC_MAX; i++)
		supervisor_bus_publish(sv, i);
	return 0;
}

void supervisor_bus_publish(struct supervisor *sv, enum pl_svc_id id)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const struct pl_svc_sup *sup = &sv->s.shm->sup[id];
	bool self = id == PL_SVC_SUPERVISOR;
	const char *state = pl_svc_state_name(self ? PL_STATE_READY : sup->state);

	if (!sv->bus)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "pid", 3);
	msgpack_pack_int32(&pk, self ? sv->s.shm->live[id].pid : sup->pid);
	msgpack_pack_str_with_body(&pk, "state", 5);
	msgpack_pack_str_with_body(&pk, state, strlen(state));
	msgpack_pack_str_with_body(&pk, "restarts", 8);
	msgpack_pack_uint32(&pk, sup->restarts);
	int rc = pl_bus_producer_set(sv->bus, "service", pl_svc_name(id), sb.data, sb.size);
	if (rc < 0)
		PL_LOG_RL(PL_LOG_WARN, "bus", "cannot publish service %s: %s", pl_svc_name(id),
			strerror(-rc));
	msgpack_sbuffer_destroy(&sb);
}

int supervisor_bus_poll(struct supervisor *sv, uint64_t now_ms)
{
	if (!sv->bus)
		return -1;
	pl_bus_producer_handle(sv->bus);
	const struct pl_bus_stats *st = pl_bus_producer_stats(sv->bus);
	uint64_t rejected = st->rx_malformed + st->rx_oversized + st->rx_bad_version;
	if (rejected != sv->bus_rejected_seen) {
		PL_LOG_RL(PL_LOG_WARN, "bus", "rejected %llu malformed bus messages",
			(unsigned long long)(rejected - sv->bus_rejected_seen));
		pl_stats_inc(&sv->s.shm->stats[PL_SVC_SUPERVISOR], PL_C_BUS_REJECTED,
			rejected - sv->bus_rejected_seen);
		sv->bus_rejected_seen = rejected;
	}
	return (int)pl_bus_producer_tick(sv->bus, now_ms);
}

void supervisor_bus_stop(struct supervisor *sv)
{
	pl_bus_producer_destroy(&sv->bus);
}
