#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podlane-cni run as a container runtime runs it (CNI_* environment, config on stdin), with
# host-local IPAM, against a real podlane instance: VERSION; env, JSON and version errors; ADD
# creates the tun the result describes; CHECK passes, then fails once the interface is gone;
# DEL is idempotent; an unreachable cni-server is "try again later" (11) and the addresses
# IPAM handed out are released again.
. "$(dirname "$0")/../lib.sh"

PLUGIN=$BUILD_DIR/tools/podlane-cni
SOCK=$T_DIR/cni.sock
IPAM_DIR=$T_DIR/ipam
NET=podlane-test
NETNS_NAME="plcni$$"
NETNS=/run/netns/$NETNS_NAME
CNI_DIRS=/usr/lib/cni:$(dirname "$PLUGIN")

[ -x "$PLUGIN" ] || fail "$PLUGIN not built"
[ -x /usr/lib/cni/host-local ] || fail "host-local IPAM plugin missing (containernetworking-plugins)"

# The namespace goes before lib.sh's cleanup stops podlane and removes T_DIR.
ns_cleanup() {
	local rc=$?
	set +e
	ip netns del "$NETNS_NAME" 2>/dev/null
	(exit $rc)
	cleanup
}
trap ns_cleanup EXIT

# netconf CNIVERSION [SOCKET]: the network configuration a runtime would pass.
netconf() {
	jq -cn --arg v "$1" --arg s "${2:-$SOCK}" --arg d "$IPAM_DIR" --arg n "$NET" \
		'{cniVersion: $v, name: $n, type: "podlane-cni", socket: $s,
		  ipam: {type: "host-local", dataDir: $d,
			ranges: [[{subnet: "10.77.0.0/24"}], [{subnet: "fd77::/64"}]]}}'
}

# cni COMMAND CONFIG [VAR=VALUE | -VAR ...]: runs the plugin with a runtime's environment;
# VAR=VALUE overrides a variable, -VAR leaves it out. Sets OUT (stdout) and RC. The plugin's
# own deadline is 5 s; `timeout` only guards against a hang.
cni() {
	local cmd=$1 conf=$2 a v keep
	shift 2
	local -a vars=("PATH=$PATH" "CNI_COMMAND=$cmd" "CNI_CONTAINERID=${CID:-ctr1}"
		"CNI_NETNS=$NETNS" "CNI_IFNAME=eth0" "CNI_PATH=$CNI_DIRS"
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1") envv=()
	for v in "${vars[@]}"; do
		keep=1
		for a in "$@"; do
			[ "$a" = "-${v%%=*}" ] && keep=0
		done
		[ $keep -eq 1 ] && envv+=("$v")
	done
	for a in "$@"; do
		[ "${a#-}" = "$a" ] && envv+=("$a")
	done
	RC=0
	OUT=$(printf '%s' "$conf" | env -i "${envv[@]}" timeout 30 "$PLUGIN" 2>>"$T_DIR/plugin.log") ||
		RC=$?
}

# expect_err CODE PATTERN COMMAND CONFIG [VAR=VALUE...]: the spec's error object, non-zero exit.
expect_err() {
	local code=$1 pattern=$2
	shift 2
	cni "$@"
	[ "$RC" -ne 0 ] || fail "$1: expected error $code, got success: $OUT"
	jq -e --argjson c "$code" '.code == $c and (.msg | type == "string") and
		(.cniVersion | type == "string")' <<<"$OUT" >/dev/null ||
		fail "$1: expected error code $code, got: $OUT"
	jq -e --arg p "$pattern" '(.msg + "\n" + (.details // "")) | test($p)' <<<"$OUT" >/dev/null ||
		fail "$1: error does not mention '$pattern': $OUT"
}

ipam_files() { find "$IPAM_DIR/$NET" -name '10.77.*' -o -name 'fd77:*' 2>/dev/null; }

# --- without podlane ---
"$PLUGIN" --help | grep -q "CNI plugin" || fail "--help"
cni VERSION '{"cniVersion":"1.0.0"}'
[ "$RC" -eq 0 ] || fail "VERSION failed: $OUT"
jq -e '.cniVersion == "1.0.0" and .supportedVersions == ["0.3.0","0.3.1","0.4.0","1.0.0"]' \
	<<<"$OUT" >/dev/null || fail "VERSION: $OUT"

expect_err 6 "decode" ADD '{"cniVersion": "1.0.0", "name": '
expect_err 1 '9\.9\.9' ADD "$(netconf 9.9.9)"
expect_err 7 "ipam" ADD "$(jq -c 'del(.ipam)' <<<"$(netconf 1.0.0)")"
expect_err 4 "required env variables \[CNI_CONTAINERID,CNI_NETNS\] missing" ADD \
	"$(netconf 1.0.0)" -CNI_CONTAINERID -CNI_NETNS
expect_err 4 "CNI_IFNAME" DEL "$(netconf 1.0.0)" -CNI_IFNAME

ip netns add "$NETNS_NAME" || fail "ip netns add"

# No cni-server at that path: try again later, and IPAM's allocation is given back.
expect_err 11 "$T_DIR/nope.sock" ADD "$(netconf 1.0.0 "$T_DIR/nope.sock")"
[ -d "$IPAM_DIR/$NET" ] || fail "IPAM was not called before the cni-server"
[ -z "$(ipam_files)" ] || fail "addresses not released after a failed ADD: $(ipam_files)"

# --- against podlane ---
write_config "cni:
  socket: $SOCK
pods:
  state_file: $T_DIR/pods.json"
start_supervisor
wait_for 30 "cni-server's gRPC socket" test -S "$SOCK" || fail "no $SOCK"

cni ADD "$(netconf 1.0.0)"
[ "$RC" -eq 0 ] || fail "ADD failed: $OUT"
RESULT=$OUT
log "ADD result: $RESULT"
jq -e --arg ns "$NETNS" '.cniVersion == "1.0.0" and
	.interfaces == [{name: "eth0", mac: "00:00:00:00:00:00", sandbox: $ns}] and
	(.ips | length == 2) and
	all(.ips[]; .interface == 0 and (has("version") | not)) and
	any(.ips[]; (.address | test("^10\\.77\\.0\\.[0-9]+/32$")) and .gateway == "169.254.1.1") and
	any(.ips[]; (.address | test("^fd77::[0-9a-f]+/128$")) and .gateway == "fe80::1") and
	(.routes | sort_by(.dst)) == [{dst: "0.0.0.0/0", gw: "169.254.1.1"}, {dst: "::/0", gw: "fe80::1"}]' \
	<<<"$RESULT" >/dev/null || fail "ADD result lacks spec fields: $RESULT"
V4=$(jq -r '.ips[] | select(.address | startswith("10.")) | .address | sub("/32$"; "")' <<<"$RESULT")
V6=$(jq -r '.ips[] | select(.address | startswith("fd77")) | .address | sub("/128$"; "")' <<<"$RESULT")
if [ ! -f "$IPAM_DIR/$NET/$V4" ] || [ ! -f "$IPAM_DIR/$NET/$V6" ]; then fail "result addresses not IPAM's"; fi

# The interface the result describes really is there.
ip -n "$NETNS_NAME" -d -j link show eth0 | jq -e '.[0].linkinfo.info_kind == "tun"' >/dev/null ||
	fail "no tun eth0 in $NETNS: $(ip -n "$NETNS_NAME" -d link show 2>&1)"
ip -n "$NETNS_NAME" -j addr show dev eth0 | jq -e --arg a "$V4" --arg b "$V6" '.[0].addr_info as $ai |
	any($ai[]; .family == "inet" and .local == $a and .prefixlen == 32) and
	any($ai[]; .family == "inet6" and .local == $b and .prefixlen == 128)' >/dev/null ||
	fail "eth0 addresses: $(ip -n "$NETNS_NAME" addr show dev eth0)"
ip -n "$NETNS_NAME" -j route show default | jq -e '.[0].gateway == "169.254.1.1"' >/dev/null ||
	fail "no default route via 169.254.1.1: $(ip -n "$NETNS_NAME" route)"
ctl -j pods | jq -e --arg ns "$NETNS" 'length == 1 and .[0].netns == $ns' >/dev/null ||
	fail "cni-server does not list the pod: $(ctl pods)"

# CHECK against the ADD result: fine now, an error once the interface is gone.
CHECK_CONF=$(jq -c --argjson r "$RESULT" '. + {prevResult: $r}' <<<"$(netconf 1.0.0)")
cni CHECK "$CHECK_CONF"
[ "$RC" -eq 0 ] || fail "CHECK of a healthy pod failed: $OUT"
expect_err 7 "prevResult" CHECK "$(netconf 1.0.0)"
ip -n "$NETNS_NAME" link del eth0 || fail "ip link del"
cni CHECK "$CHECK_CONF"
if [ "$RC" -eq 0 ] || ! jq -e '.code >= 100 and (.msg | test("eth0"))' <<<"$OUT" >/dev/null; then
	fail "CHECK passed without the interface (rc=$RC): $OUT"
fi

# DEL removes the pod and releases the addresses; a second DEL succeeds too.
for i in 1 2; do
	cni DEL "$(netconf 1.0.0)"
	if [ "$RC" -ne 0 ] || [ -n "$OUT" ]; then fail "DEL #$i: rc=$RC out=$OUT"; fi
done
[ -z "$(ipam_files)" ] || fail "addresses still allocated after DEL: $(ipam_files)"
ctl -j pods | jq -e 'length == 0' >/dev/null || fail "pod still listed: $(ctl pods)"

# Older result format: 0.3.1 ips carry "version"; the interface is created again.
CID=ctr2 cni ADD "$(netconf 0.3.1)"
[ "$RC" -eq 0 ] || fail "0.3.1 ADD failed: $OUT"
jq -e '.cniVersion == "0.3.1" and all(.ips[]; .version == "4" or .version == "6")' \
	<<<"$OUT" >/dev/null || fail "0.3.1 result: $OUT"
ip -n "$NETNS_NAME" link show eth0 >/dev/null 2>&1 || fail "0.3.1 ADD made no eth0"
CID=ctr2 cni DEL "$(netconf 0.3.1)"
[ "$RC" -eq 0 ] || fail "0.3.1 DEL failed: $OUT"
! ip -n "$NETNS_NAME" link show eth0 >/dev/null 2>&1 || fail "DEL left eth0 behind"

# podlane stopped: ADD is "try again later" and gives the addresses back.
kill -TERM "$SUP_PID"
wait_for 20 "podlane stopped" bash -c "! kill -0 $SUP_PID" || fail "supervisor did not stop"
wait_for 10 "services stopped" no_podlane_left || fail "services left running"
CID=ctr3 expect_err 11 "$SOCK" ADD "$(netconf 1.0.0)"
[ -z "$(ipam_files)" ] || fail "addresses not released with podlane stopped: $(ipam_files)"
! ip -n "$NETNS_NAME" link show eth0 >/dev/null 2>&1 || fail "failed ADD left eth0 behind"

# A socket nobody answers on (stale): ADD and DEL are both "try again later"; with no socket at
# all DEL succeeds (podlane not running: only the addresses are released).
rm -f "$SOCK"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
CID=ctr4 expect_err 11 "$SOCK" ADD "$(netconf 1.0.0)"
[ -z "$(ipam_files)" ] || fail "addresses not released with a stale socket: $(ipam_files)"
CID=ctr4 expect_err 11 "$SOCK" DEL "$(netconf 1.0.0)"
rm -f "$SOCK"
CID=ctr4 cni DEL "$(netconf 1.0.0)"
[ "$RC" -eq 0 ] || fail "DEL without a cni-server socket failed: $OUT"

log "PASS"
