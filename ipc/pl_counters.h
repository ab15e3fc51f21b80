/* SPDX-License-Identifier: Apache-2.0 */
/* Every counter of every service, declared once. Each list is an X-macro of
 * (SYMBOL, "name", "help"); it generates the counter enums, the admin `counters/show` output and
 * the Prometheus names the supervisor serves (podlane_<name>_total{service="..."}). Counters
 * live in the shared stats segment (pl_shm.h), one block per service, one writer per block. */
#ifndef PL_COUNTERS_H
#define PL_COUNTERS_H

/* Why io-worker freed a packet instead of transmitting it. Stages mark the reason in the
 * packet's metadata; io-worker, the only freer, counts it. */
#define PL_DROP_REASONS(X)                                                                        \
	X(NONE, "none", "Not dropped")                                                            \
	X(RING_FULL, "ring_full", "Pipeline ring full: the next stage is slow or restarting")     \
	X(MALFORMED, "malformed", "Malformed or truncated header")                                \
	X(TTL_EXCEEDED, "ttl_exceeded", "IPv4 TTL or IPv6 hop limit expired")                     \
	X(UNSUPPORTED, "unsupported", "Protocol or frame type not handled")                       \
	X(RECLAIMED, "reclaimed", "Held by a process that died; reclaimed by the supervisor")     \
	X(NO_ROUTE, "no_route", "No route to the destination")                                    \
	X(BLACKHOLE, "blackhole", "Route to a blackhole (drop) adjacency")                        \
	X(TOO_BIG, "too_big", "Larger than the output MTU and not fragmentable")                  \
	X(ICMP_RATE, "icmp_rate", "Dropped without the ICMP error it called for: rate limit")     \
	X(NO_NEIGHBOR, "no_neighbor", "Next hop unresolved (ARP/ND) or too many packets waiting") \
	X(NO_PORT, "no_port", "Output interface not open")                                        \
	X(TX_ERROR, "tx_error", "The kernel refused the frame on output")                         \
	X(SESSIONS_FULL, "sessions_full", "New flow while the session table was full")            \
	X(NO_ENDPOINT, "no_endpoint",                                                             \
		"To a service without endpoints, no reject sent (rate limit)")                    \
	X(POLICY_DENIED, "policy_denied", "Denied by network policy")                             \
	X(SPOOFED, "spoofed", "Source address not allowed on the interface it came in on")        \
	X(FRAGMENT, "fragment",                                                                   \
		"Later fragment without its first, overlapping it, or beyond the fragment table") \
	X(POLICY_NOT_READY, "policy_not_ready",                                                   \
		"To or from a pod before policy compiled its datastore once (fail closed)")       \
	X(STALE, "stale",                                                                         \
		"Longer than pipeline.max_sojourn_ms in the pipeline (a stage restarting, hung)")

enum pl_drop_reason {
#define PL_X(sym, name, help) PL_DROP_##sym,
	PL_DROP_REASONS(PL_X)
#undef PL_X
	PL_DROP_MAX
};

/* Why io-worker refused a frame at ingress (pl_parse.h); each an io-worker counter. */
#define PL_PARSE_ERRORS(X)                                                                        \
	X(NOT_IP, "rx_not_ip", "Frames that are not IPv4 or IPv6 (other EtherTypes; dropped)")    \
	X(BAD_IPV4, "rx_bad_ipv4", "IPv4 headers refused: truncated, version, IHL, total length") \
	X(BAD_IPV4_CSUM, "rx_bad_ipv4_csum", "IPv4 headers with a wrong checksum (dropped)")      \
	X(BAD_IPV6, "rx_bad_ipv6", "IPv6 headers refused: truncated, version, payload length")    \
	X(BAD_IPV6_EXT, "rx_bad_ipv6_ext",                                                        \
		"IPv6 extension-header chains refused: truncated, too long, misplaced")           \
	X(BAD_L4, "rx_bad_l4",                                                                    \
		"Transport headers refused: truncated, bad TCP data offset or UDP length")

/* io-worker's neighbour (ARP/ND) hardening, at the end of its list: why a received ARP/ND
 * message taught the neighbour table nothing, and why a new entry could not be made
 * (services/io-worker/ioworker_neigh.h has the rules). */
#define PL_IOW_NEIGH_COUNTERS(X)                                                                  \
	X(NEIGH_REFUSED_OFFLINK, "neigh_refused_offlink",                                         \
		"ARP/ND from addresses off the uplink's subnets that we never asked for: not "    \
		"learned, not answered")                                                          \
	X(NEIGH_REFUSED_UNSOLICITED, "neigh_refused_unsolicited",                                 \
		"ARP replies, gratuitous ARP and neighbour advertisements nobody asked for: not " \
		"learned")                                                                        \
	X(NEIGH_REFUSED_MAC_CHANGE, "neigh_refused_mac_change",                                   \
		"Another MAC claimed for a resolved neighbour: refused; the neighbour is probed") \
	X(NEIGH_REFUSED_BAD_MAC, "neigh_refused_bad_mac",                                         \
		"ARP/ND giving a multicast, broadcast or zero MAC for a neighbour: refused")      \
	X(NEIGH_ADDRESS_CONFLICT, "neigh_address_conflict",                                       \
		"ARP/ND from someone else claiming a node address: not learned, not answered")    \
	X(NEIGH_TABLE_FULL, "neigh_table_full",                                                   \
		"New neighbour entries refused: table full of entries in use (packet dropped)")   \
	X(NEIGH_EVICTED, "neigh_evicted", "Unused neighbour entries given up for new ones")

/* Counters every service has, at the start of its block. */
#define PL_COMMON_COUNTERS(X)                                                           \
	X(ADMIN_REQUESTS, "admin_requests", "Admin commands received")                  \
	X(ADMIN_ERRORS, "admin_errors",                                                 \
		"Admin requests rejected: unknown command, bad arguments or malformed") \
	X(BUS_REJECTED, "bus_rejected",                                                 \
		"State-bus messages rejected: malformed, oversized or unknown version") \
	X(WAKEUPS, "wakeups", "Wake-ups from idle sleep")

/* nat-lb, policy and router share the stage runner and its counters. */
#define PL_STAGE_COUNTERS(X)                                                \
	X(RX_PACKETS, "rx_packets", "Packets taken from the input ring")    \
	X(TX_PACKETS, "tx_packets", "Packets handed to the output ring")    \
	X(MARKED_DROP, "marked_drop", "Packets this stage marked dropped")  \
	X(BURSTS, "bursts", "Non-empty bursts processed")                   \
	X(BUSY_CYCLES, "busy_cycles", "TSC cycles spent processing bursts") \
	X(OUTPUT_STALLS, "output_stalls", "Bursts that found the output ring full and waited")

#define PL_IOWORKER_COUNTERS(X)                                                                  \
	X(RX_PACKETS, "rx_packets", "Packets received from all ports into the pipeline")         \
	X(TX_PACKETS, "tx_packets", "Packets transmitted from the pipeline")                     \
	X(DROP_NONE, "drop_none", "Unused (a packet freed without a reason)")                    \
	X(DROP_RING_FULL, "drop_ring_full",                                                      \
		"Dropped: pipeline ring full (next stage slow or restarting)")                   \
	X(DROP_MALFORMED, "drop_malformed", "Dropped: malformed or truncated header")            \
	X(DROP_TTL_EXCEEDED, "drop_ttl_exceeded", "Dropped: TTL or hop limit expired")           \
	X(DROP_UNSUPPORTED, "drop_unsupported", "Dropped: protocol or frame type not handled")   \
	X(DROP_RECLAIMED, "drop_reclaimed", "Dropped: held by a process that died, reclaimed")   \
	X(DROP_NO_ROUTE, "drop_no_route", "Dropped: no route to the destination")                \
	X(DROP_BLACKHOLE, "drop_blackhole", "Dropped: route to a blackhole")                     \
	X(DROP_TOO_BIG, "drop_too_big", "Dropped: larger than the output MTU, not fragmentable") \
	X(DROP_ICMP_RATE, "drop_icmp_rate",                                                      \
		"Dropped without the ICMP error it called for (rate limit)")                     \
	X(DROP_NO_NEIGHBOR, "drop_no_neighbor",                                                  \
		"Dropped: next hop unresolved (ARP/ND) or too many packets waiting")             \
	X(DROP_NO_PORT, "drop_no_port", "Dropped: output interface not open")                    \
	X(DROP_TX_ERROR, "drop_tx_error", "Dropped: the kernel refused the frame on output")     \
	X(DROP_SESSIONS_FULL, "drop_sessions_full",                                              \
		"Dropped: a new flow while the session table was full")                          \
	X(DROP_NO_ENDPOINT, "drop_no_endpoint",                                                  \
		"Dropped: to a service without endpoints, reject not sent (rate limit)")         \
	X(DROP_POLICY_DENIED, "drop_policy_denied", "Dropped: denied by network policy")         \
	X(DROP_SPOOFED, "drop_spoofed",                                                          \
		"Dropped: source address not allowed on the interface it came in on")            \
	X(DROP_FRAGMENT, "drop_fragment",                                                        \
		"Dropped: later fragment without its first, overlapping it, or no room")         \
	X(DROP_POLICY_NOT_READY, "drop_policy_not_ready",                                        \
		"Dropped: to or from a pod before policy's first compile (fail closed)")         \
	X(DROP_STALE, "drop_stale",                                                              \
		"Dropped: longer than pipeline.max_sojourn_ms in the pipeline")                  \
	X(BURSTS, "bursts", "Non-empty bursts processed")                                        \
	X(BUSY_CYCLES, "busy_cycles", "TSC cycles spent processing bursts")                      \
	X(ALLOC_FAILS, "alloc_fails", "Packet buffer allocations that failed (pool empty)")      \
	X(L2_HANDLED, "l2_handled", "Frames handled in io-worker: ARP, neighbour discovery")     \
	X(RX_OTHER_MAC, "rx_other_mac", "Frames received for another MAC address (dropped)")     \
	X(RX_OVERSIZE, "rx_oversize", "Frames larger than a packet buffer (dropped)")            \
	X(RX_SUPER_PACKETS, "rx_super_packets",                                                  \
		"Super-packets received whole (TCP/UDP segmentation offload)")                   \
	X(RX_BAD_OFFLOAD, "rx_bad_offload",                                                      \
		"Frames whose offload header did not describe them (dropped, malformed)")        \
	X(TX_SUPER_PACKETS, "tx_super_packets", "Super-packets handed to a port whole")          \
	X(TX_SEGMENTED, "tx_segmented",                                                          \
		"Super-packets segmented in software for a port without segmentation offload")   \
	X(FAST_PATH, "fast_path",                                                                \
		"Packets forwarded by io-worker on the stages' cached decisions (fast path)")    \
	PL_PARSE_ERRORS(X)                                                                       \
	X(RX_SPOOFED_POD, "rx_spoofed_pod",                                                      \
		"Packets from a pod with a source that is not the pod's (dropped)")              \
	X(RX_SPOOFED_UPLINK, "rx_spoofed_uplink",                                                \
		"Packets on the uplink with a source of this node or its pods (dropped)")        \
	X(RX_MARTIAN, "rx_martian", "Packets with a loopback or multicast source (dropped)")     \
	X(RX_FRAG_HELD, "rx_frag_held", "Later fragments held until their first fragment came")  \
	X(RX_FRAG_UNKNOWN, "rx_frag_unknown",                                                    \
		"Later fragments dropped: their first never came, or no room to hold them")      \
	X(RX_FRAG_OVERLAP, "rx_frag_overlap",                                                    \
		"Later fragments dropped: overlapping their first, or its ports changed")        \
	PL_IOW_NEIGH_COUNTERS(X)

/* nat-lb's own, after the stage counters. */
#define PL_NATLB_COUNTERS(X)                                                                      \
	X(NAT_FORWARD, "nat_forward", "Packets of a session translated towards the endpoint")     \
	X(NAT_REVERSE, "nat_reverse", "Reply packets translated back (reverse NAT)")              \
	X(SESSIONS_CREATED, "sessions_created", "Sessions created")                               \
	X(SESSIONS_EXPIRED, "sessions_expired", "Sessions removed: timed out, closed or flushed") \
	X(SESSIONS_FULL, "sessions_full", "New flows dropped because the session table was full") \
	X(SNAT_SESSIONS, "snat_sessions", "Sessions with source NAT (hairpin, remote endpoint)")  \
	X(SNAT_NO_PORT, "snat_no_port", "New flows dropped: no free source port for SNAT")        \
	X(REJECTED, "rejected", "New flows to a service without endpoints answered RST or ICMP")  \
	X(AFFINITY_HITS, "affinity_hits", "New flows sent to their client's pinned endpoint")     \
	X(ICMP_REWRITTEN, "icmp_rewritten",                                                       \
		"ICMP errors about a session rewritten, inner header too")                        \
	X(DATASTORE_REJECTED, "datastore_rejected", "Datastore documents rejected (invalid)")     \
	X(TABLE_REBUILDS, "table_rebuilds", "Service tables built and switched to")               \
	X(TABLE_ERRORS, "table_errors", "Service table builds refused (over a limit); old kept")

/* policy's own, after the stage counters. */
#define PL_POLICY_COUNTERS(X)                                                                      \
	X(FLOWS_ALLOWED, "flows_allowed", "Flows (sessions) evaluated and allowed")                \
	X(FLOWS_DENIED, "flows_denied", "Flows (sessions) evaluated and denied")                   \
	X(PACKETS_DENIED, "packets_denied", "Packets dropped by a deny verdict")                   \
	X(NOT_TRACKED, "not_tracked",                                                              \
		"Packets without a session (synthetic, unrelated ICMP errors): evaluated alone")   \
	X(NOT_READY, "not_ready", "Packets to or from pods dropped before the first compile")      \
	X(SESSION_RACES, "session_races", "Packets whose session changed under the read: dropped") \
	X(FLOW_LOGS, "flow_logs", "Flow records published on the tap")                             \
	X(POL_DATASTORE_REJECTED, "datastore_rejected", "Datastore documents rejected (invalid)")  \
	X(POL_TABLE_REBUILDS, "table_rebuilds", "Policy tables compiled and switched to")          \
	X(POL_TABLE_ERRORS, "table_errors", "Policy compiles refused (over a limit); old kept")

/* router's own, after the stage counters. */
#define PL_ROUTER_COUNTERS(X) \
	X(ROUTED, "routed", "Packets given an adjacency by a FIB lookup (forwarded or ICMP errors)")

#define PL_SUPERVISOR_COUNTERS(X)                                                                  \
	X(CHILD_EXITS, "child_exits", "Service processes that exited")                             \
	X(RESTARTS, "restarts", "Service restarts")                                                \
	X(TAKEOVERS, "standby_takeovers", "Restarts done by a warm standby taking over")           \
	X(STANDBY_STARTS, "standby_starts", "Warm standby processes started")                      \
	X(HANGS, "hangs_detected", "Services killed because they stopped making progress")         \
	X(FDSTORE_REJECTED, "fdstore_rejected",                                                    \
		"Port descriptor store: refused peers and malformed messages")                     \
	X(RING_REPAIRS, "ring_repairs", "Ring sides reset after their process died mid-operation") \
	X(RECLAIMED_PACKETS, "reclaimed_packets", "Packets reclaimed from dead processes")         \
	X(METRICS_SCRAPES, "metrics_scrapes", "Requests served on /metrics")

#define PL_CONTROL_COUNTERS(X) /* cni-server, bgp-bridge: only the common ones so far */

#define PL_X(sym, name, help) PL_C_##sym,
enum pl_common_counter {
	PL_COMMON_COUNTERS(PL_X) PL_C_COMMON_MAX
};
#undef PL_X
#define PL_X(sym, name, help) PL_STAGE_##sym,
enum pl_stage_counter {
	PL_STAGE_FIRST_ = PL_C_COMMON_MAX - 1,
	PL_STAGE_COUNTERS(PL_X) PL_STAGE_MAX
};
#undef PL_X
#define PL_X(sym, name, help) PL_IOW_##sym,
enum pl_iow_counter {
	PL_IOW_FIRST_ = PL_C_COMMON_MAX - 1,
	PL_IOWORKER_COUNTERS(PL_X) PL_IOW_MAX
};
#undef PL_X
#define PL_X(sym, name, help) PL_NATLB_##sym,
enum pl_natlb_counter {
	PL_NATLB_FIRST_ = PL_STAGE_MAX - 1,
	PL_NATLB_COUNTERS(PL_X) PL_NATLB_MAX
};
#undef PL_X
#define PL_X(sym, name, help) PL_POLICY_##sym,
enum pl_policy_counter {
	PL_POLICY_FIRST_ = PL_STAGE_MAX - 1,
	PL_POLICY_COUNTERS(PL_X) PL_POLICY_MAX
};
#undef PL_X
#define PL_X(sym, name, help) PL_ROUTER_##sym,
enum pl_router_counter {
	PL_ROUTER_FIRST_ = PL_STAGE_MAX - 1,
	PL_ROUTER_COUNTERS(PL_X) PL_ROUTER_MAX
};
#undef PL_X
#define PL_X(sym, name, help) PL_SUP_##sym,
enum pl_sup_counter {
	PL_SUP_FIRST_ = PL_C_COMMON_MAX - 1,
	PL_SUPERVISOR_COUNTERS(PL_X) PL_SUP_MAX
};
#undef PL_X

/* io-worker's counter for a parse error (enum pl_parse_result, not PL_PARSE_OK). */
#define PL_IOW_PARSE(err) ((unsigned int)PL_IOW_NOT_IP + (unsigned int)(err)-1u)

/* io-worker's drop counters follow the drop reasons one to one. */
#define PL_IOW_DROP(reason) ((unsigned int)PL_IOW_DROP_NONE + (unsigned int)(reason))

#endif
