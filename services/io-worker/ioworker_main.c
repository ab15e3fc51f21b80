/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-io-worker: the only process that touches interfaces and the only one that allocates
 * and frees packet buffers. Each loop: free what the supervisor reclaimed from dead stages,
 * send out (or free and count, by drop reason) what router hands back, receive from the ports
 * (uplink, host tap, pod tuns, the synthetic port) into the pipeline. L2 (ARP, ND) is handled
 * here and never enters the pipeline. */
#include "ioworker.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "pl_log.h"
#include "pl_offload.h"
#include "pl_stage.h"

#define EPOLL_BATCH 32
#define L2_HOUSEKEEPING_MS 1000

static uint64_t now_ms_cached;
/* Traffic this recent keeps io-worker's sleeps short (the hang check). */
#define RECENT_WORK_MS 1000

/* Frees what the supervisor reclaimed from a dead process. */
static unsigned int drain_reclaim(struct ioworker *w, unsigned int burst)
{
	struct rte_mbuf *pkts[IOW_MAX_BURST];
	unsigned int n = pl_ring_take(w->dp.rings[PL_RING_RECLAIM], pkts, burst, PL_SVC_IO_WORKER);
	w->fast.returned += n;
	if (n) {
		w->local[PL_IOW_DROP(PL_DROP_RECLAIMED)] += n;
		pl_dp_free(&w->dp, pkts, n);
	}
	return n;
}

/* The end of the pipeline: send out, or count the drop reason and free. */
static unsigned int sink(struct ioworker *w, unsigned int burst)
{
	struct rte_mbuf *pkts[IOW_MAX_BURST];
	unsigned int n =
		pl_ring_take(w->dp.rings[PL_RING_ROUTER_TO_IO], pkts, burst, PL_SVC_IO_WORKER);
	unsigned int synth = 0;
	w->fast.returned += n;
	for (unsigned int i = 0; i < n; i++)
		synth += pl_meta(pkts[i])->rx_if == PL_IF_SYNTH;
	ioworker_pipeline_output(w, pkts, n, now_ms_cached);
	if (synth)
		ioworker_synth_sunk(&w->synth, synth, rte_rdtsc());
	return n;
}

/* Hands received packets to nat-lb; what does not fit is dropped and counted. sess[i] (may be
 * NULL) is packet i's session, if known: its ticket keeps the flow off the fast path until the
 * packet has come back. */
void ioworker_pipeline_enqueue(
	struct ioworker *w, struct rte_mbuf **pkts, unsigned int n, const struct iow_ticket *t)
{
	struct rte_ring *out = w->dp.rings[PL_RING_IO_TO_NATLB];
	if (n == 0)
		return;
	w->local[PL_IOW_RX_PACKETS] += n;
	uint32_t stamp = pl_dp_stamp(now_ms_cached);
	for (unsigned int i = 0; i < n; i++)
		pl_meta(pkts[i])->enq_ms = stamp;
	unsigned int sent = rte_ring_enqueue_burst(out, (void **)pkts, n, NULL);
	for (unsigned int i = 0; t && i < sent && w->fast.n_ticket; i++) {
		if (t[i].sess < w->fast.n_ticket)
			w->fast.ticket[t[i].sess] = w->fast.handed + i + 1;
		if (t[i].flow)
			w->fast.flow_ticket[t[i].flow & (IOW_FLOW_TICKETS - 1)] =
				w->fast.handed + i + 1;
	}
	w->fast.handed += sent;
	if (sent)
		pl_service_wake(&w->s, PL_SVC_NAT_LB);
	if (sent < n) {
		w->local[PL_IOW_DROP(PL_DROP_RING_FULL)] += n - sent;
		pl_dp_free(&w->dp, &pkts[sent], n - sent);
	}
}

/* Forwards n received packets (L2 done, owned by io-worker): each one the fast path takes (when
 * `fast` and it is ready) leaves here; the rest enter the pipeline in order, each with its
 * session's ticket, so a flow's later packets do not overtake them. Returns how many the fast
 * path took. Shared by the ports (receive) and the synthetic port (source, synth fast=1). */
static unsigned int forward(struct ioworker *w, struct rte_mbuf **pkts, unsigned int n, bool fast)
{
	unsigned int k = 0;
	struct iow_ticket t[IOW_MAX_BURST];
	fast = fast && ioworker_fast_ready(w);
	for (unsigned int i = 0; i < n; i++) {
		t[k] = (struct iow_ticket){ .sess = PL_CT_NIL };
		if (fast &&
			ioworker_fast_forward(w, pkts[i], now_ms_cached, &t[k]) != IOW_FAST_SLOW)
			continue;
		pkts[k++] = pkts[i];
	}
	ioworker_pipeline_enqueue(w, pkts, k, t);
	return n - k;
}

/* Receives from the synthetic port: into the pipeline, or (synth fast=1) through forward() as a
 * port's packets are, the fast path's ones counted back at the synthetic sink right away. */
static unsigned int source(struct ioworker *w, unsigned int burst, uint64_t now_tsc)
{
	struct rte_mbuf *pkts[IOW_MAX_BURST];
	struct rte_ring *out = w->dp.rings[PL_RING_IO_TO_NATLB];
	unsigned int n = ioworker_synth_budget(&w->synth, burst, rte_ring_free_count(out), now_tsc);
	if (n == 0)
		return 0;
	if (rte_pktmbuf_alloc_bulk(w->dp.pool, pkts, n) < 0) {
		w->local[PL_IOW_ALLOC_FAILS]++;
		return 0;
	}
	for (unsigned int i = 0; i < n; i++)
		pl_meta(pkts[i])->owner = PL_SVC_IO_WORKER;
	if (w->synth.st->generated == 0)
		w->synth.st->first_tsc = now_tsc;
	ioworker_synth_fill(&w->synth, pkts, n, w->synth.st->generated);
	w->synth.st->generated += n;
	unsigned int made = n;
	n = ioworker_admit(w, NULL, pkts, n, now_ms_cached);
	if (n < made) /* refused at ingress: back at the sink already */
		ioworker_synth_sunk(&w->synth, made - n, rte_rdtsc());
	if (w->synth.st->count && w->synth.st->generated >= w->synth.st->count) {
		w->synth.st->active = 0;
		PL_INFO("synth", "source done: %lu packets", (unsigned long)w->synth.st->generated);
	}
	if (!w->synth.st->fast) {
		ioworker_pipeline_enqueue(w, pkts, n, NULL);
		return made;
	}
	/* The fast path hands its packets to L2 output, whose synthetic sink counts (tx_packets)
	 * and frees them, as sink() does for the pipeline's: count them back here. */
	/* The fast path counts what it sends back at the synthetic sink itself (held packets
	 * leave later). */
	forward(w, pkts, n, true);
	return made;
}

/* Receives one burst from a port; L2 frames are handled here, the rest are forwarded. */
static unsigned int receive(struct ioworker *w, struct port *p, unsigned int burst)
{
	struct rte_mbuf *pkts[IOW_MAX_BURST];
	bool alloc_fail = false;
	unsigned int room = rte_ring_free_count(w->dp.rings[PL_RING_IO_TO_NATLB]);
	/* Leave frames in the kernel while the pipeline is full: its queues are the buffer. */
	if (room == 0)
		return 0;
	uint64_t oversize = p->truncated, bad = p->bad_offload;
	unsigned int n = port_rx(p, &w->bufs, pkts, burst < room ? burst : room, &alloc_fail);
	w->local[PL_IOW_RX_OVERSIZE] += p->truncated - oversize;
	w->local[PL_IOW_RX_BAD_OFFLOAD] += p->bad_offload - bad;
	w->local[PL_IOW_DROP(PL_DROP_MALFORMED)] += p->bad_offload - bad;
	if (alloc_fail)
		w->local[PL_IOW_ALLOC_FAILS]++;
	unsigned int k = 0;
	for (unsigned int i = 0; i < n; i++) {
		pl_meta(pkts[i])->owner = PL_SVC_IO_WORKER;
		if (pl_offload_gso(pkts[i]))
			w->local[PL_IOW_RX_SUPER_PACKETS]++;
		if (ioworker_l2_input(w, p, pkts[i], now_ms_cached))
			continue;
		pkts[k++] = pkts[i];
	}
	forward(w, pkts, ioworker_admit(w, p, pkts, k, now_ms_cached), true);
	return n;
}

static unsigned int receive_all(struct ioworker *w, unsigned int burst)
{
	unsigned int n = 0;
	struct port *up = w->ports[PL_IF_UPLINK];
	if (up && up->ops->polled && port_rx_ready(up))
		n += receive(w, up, burst);
	/* One syscall a loop finds the ready tap and tun descriptors; none when there are none. */
	if (w->n_ports == 0 || (w->n_ports == 1 && up && up->ops->polled))
		return n;
	struct epoll_event ev[EPOLL_BATCH];
	int k = epoll_wait(w->epfd, ev, EPOLL_BATCH, 0);
	for (int i = 0; i < k; i++) {
		struct port *p = ev[i].data.u32 < PL_IF_MAX ? w->ports[ev[i].data.u32] : NULL;
		if (p && !p->ops->polled)
			n += receive(w, p, burst);
	}
	return n;
}

/* Oversized frames an uplink never saw (AF_XDP) are counted from the kernel's statistics. */
static void count_kernel_drops(struct ioworker *w)
{
	struct port *up = w->ports[PL_IF_UPLINK];
	if (!up || !up->ops->kernel_drops)
		return;
	uint64_t k = up->ops->kernel_drops(up);
	if (k > up->kernel_drops) {
		w->local[PL_IOW_RX_OVERSIZE] += k - up->kernel_drops;
		up->truncated += k - up->kernel_drops;
		up->kernel_drops = k;
	}
}

static bool pipeline_pending(struct ioworker *w)
{
	struct port *up = w->ports[PL_IF_UPLINK];
	return rte_ring_count(w->dp.rings[PL_RING_ROUTER_TO_IO]) ||
	       rte_ring_count(w->dp.rings[PL_RING_RECLAIM]) ||
	       (up && up->ops->polled && port_rx_ready(up));
}

static void flush_counters(struct ioworker *w)
{
	pl_stats_add(w->s.stats, w->local, PL_IOW_MAX);
	memset(w->local, 0, sizeof(w->local));
}

static void run(struct ioworker *w)
{
	unsigned int burst = w->s.cfg.pipeline.burst;
	struct pl_idle idle;
	uint64_t last_l2_ms = 0, last_work_ms = 0;

	if (burst > IOW_MAX_BURST)
		burst = IOW_MAX_BURST;
	pl_idle_init(&idle, &w->s.cfg);
	memset(w->local, 0, sizeof(w->local));
	/* The packet clock (fragment holds, neighbours, the pipeline's enq_ms stamps): read at
	 * start, every housekeeping tick (1 ms while busy), after a sleep and after control work. */
	now_ms_cached = pl_now_ms();
	while (!w->s.stop) {
		uint64_t t0 = rte_rdtsc();
		unsigned int n = drain_reclaim(w, burst);
		n += sink(w, burst);
		if (w->fast.n_hold) /* what waited for those to leave the pipeline */
			n += ioworker_fast_release(w, now_ms_cached);
		ioworker_ports_flush(w); /* what the pipeline sent, before receive adds more */
		n += receive_all(w, burst);
		if (w->in.n_held) { /* later fragments whose first came (or that waited too long) */
			struct rte_mbuf *frags[IOW_MAX_BURST];
			unsigned int f = ioworker_frag_release(w, frags, burst, now_ms_cached);
			ioworker_pipeline_enqueue(w, frags, f, NULL);
			n += f;
		}
		ioworker_ports_flush(w);
		if (w->s.cfg.synthetic.enabled)
			n += source(w, burst, t0);
		uint64_t t1 = rte_rdtsc();
		if (n) {
			last_work_ms = now_ms_cached;
			w->local[PL_IOW_BURSTS]++;
			w->local[PL_IOW_BUSY_CYCLES] += t1 - t0;
		}
		if (n || w->local[PL_IOW_ALLOC_FAILS] || w->local[PL_IOW_TX_PACKETS])
			flush_counters(w);
		if (pl_idle_poll(&idle, n != 0, t1)) {
			int wait = ioworker_synth_wait_ms(&w->synth, burst);
			/* A DPDK device has no descriptor to wait on: poll it every millisecond. */
			struct port *up = w->ports[PL_IF_UPLINK];
			if (up && up->ops->no_descriptor && (wait < 0 || wait > 1))
				wait = 1;
			/* Held fragments are let go or dropped in time. */
			if (w->in.n_held && (wait < 0 || wait > IOW_FRAG_HOLD_MS))
				wait = IOW_FRAG_HOLD_MS;
			/* Traffic in the last second: sleep shallow, so that a hang while asleep
			 * (pods' packets waiting in the kernel, unseen by the supervisor) shows as
			 * a missed heartbeat within supervisor.hang_ms. Idle: deep sleep. */
			int shallow = (int)(w->s.cfg.supervisor.hang_ms / 4);
			if (shallow > 0 && now_ms_cached - last_work_ms < RECENT_WORK_MS &&
				(wait < 0 || wait > shallow))
				wait = shallow;
			if (wait != 0) {
				zmq_pollitem_t items[8];
				int k = ioworker_ctl_poll_items(w, items, 8);
				pl_service_set_sleeping(&w->s, true);
				if (!pipeline_pending(w))
					pl_service_sleep(&w->s, wait, items, k);
				pl_service_set_sleeping(&w->s, false);
				now_ms_cached = pl_now_ms();
			}
			idle.empty = 0;
		}
		if (t1 >= idle.next_hk) {
			now_ms_cached = pl_now_ms();
			/* Control work (ports opened and closed): hang_control_ms, not hang_ms. */
			pl_service_busy(&w->s, true);
			ioworker_ctl_handle(w, now_ms_cached);
			pl_service_busy(&w->s, false);
			now_ms_cached = pl_now_ms();
			if (!ioworker_fast_ready(w))
				ioworker_fast_attach(w);
			if (now_ms_cached - last_l2_ms >= L2_HOUSEKEEPING_MS) {
				last_l2_ms = now_ms_cached;
				ioworker_l2_housekeeping(w, now_ms_cached);
				count_kernel_drops(w);
				flush_counters(w);
			}
		}
		pl_idle_housekeeping(&idle, &w->s, t1);
	}
}

/* A standby's bus following (pl_standby_work). */
static int standby_poll_items(void *ctx, zmq_pollitem_t *items, int max)
{
	return ioworker_ctl_poll_items(ctx, items, max);
}

static void standby_handle(void *ctx, uint64_t now_ms)
{
	ioworker_ctl_handle(ctx, now_ms);
}

int main(int argc, char **argv)
{
	static struct ioworker w = { .epfd = -1, .fdstore = -1 };
	const struct pl_service_opts opts = {
		.summary =
			"podlane io-worker: interface I/O; the only allocator and freer of packets",
	};
	int rc = pl_service_init(&w.s, PL_SVC_IO_WORKER, argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	rc = pl_dp_eal_init(&w.s.cfg, PL_SVC_IO_WORKER, w.s.lcore_slot, "podlane-io-worker");
	if (rc < 0) {
		PL_ERR("main", "DPDK EAL init as secondary failed: %s (is the supervisor running?)",
			rte_strerror(-rc));
		goto out;
	}
	rc = pl_dp_attach(&w.dp);
	if (rc < 0) {
		PL_ERR("main", "cannot find the shared pool and rings: %s", strerror(-rc));
		goto out_eal;
	}
	w.bufs.small = w.dp.pool;
	w.bufs.big = w.dp.big_pool;
	port_set_dpdk_devargs(w.s.cfg.uplink.dpdk_devargs);
	ioworker_synth_init(&w.synth, w.dp.shared);
	/* A standby follows the state bus while it waits: at the take-over it knows every port
	 * and opens them at once, instead of after a bus sync. */
	w.standby = w.s.standby_fd >= 0;
	rc = ioworker_ctl_init(&w);
	if (rc < 0) {
		PL_ERR("main", "cannot start the control side: %s", strerror(-rc));
		goto out_ctl;
	}
	const struct pl_standby_work work = {
		.poll_items = standby_poll_items,
		.handle = standby_handle,
		.ctx = &w,
	};
	rc = pl_service_standby(&w.s, &work);
	if (rc != 0)
		goto out_ctl;
	/* The ports a predecessor had, with whatever their queues hold. */
	ioworker_ctl_fdstore_fetch(&w);
	if (w.standby) {
		w.standby = false;
		ioworker_ctl_open_wanted(&w);
	}
	rc = ioworker_synth_register(&w.synth, w.s.admin);
	if (rc == 0)
		rc = ioworker_ctl_register(&w);
	if (rc < 0) {
		PL_ERR("main", "cannot register admin commands: %s", strerror(-rc));
		goto out_ctl;
	}
	if (w.synth.st->active)
		PL_INFO("synth", "resuming the synthetic source at packet %lu",
			(unsigned long)w.synth.st->generated);
	now_ms_cached = pl_now_ms();
	/* What a predecessor left in the pipeline comes back before anything this one hands it. */
	for (int i = 0; i < PL_RING_MAX; i++)
		if (i != PL_RING_RECLAIM)
			w.fast.handed += rte_ring_count(w.dp.rings[i]);
	pl_service_ready(&w.s, "forwarding");
	run(&w);
	rc = 0;
out_ctl:
	ioworker_fast_fini(&w);
	ioworker_ingress_fini(&w);
	ioworker_ctl_fini(&w);
out_eal:
	rte_eal_cleanup();
out:
	pl_service_fini(&w.s);
	return rc < 0 ? 1 : 0;
}
