#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podman (Debian's) as a real container runtime on a CNI network of type podlane-cni: two
# busybox containers (an image made here with `podman import` of a busybox-static rootfs) get
# addresses from host-local, ping each other and the gateway through podlane, and `podman rm`
# cleans them up (pods gone from cni-server, addresses released). podman runs with its own
# containers.conf, storage and CNI config directory, in the host's mount namespace: the
# namespace files it bind-mounts under /run/netns then propagate to podlane (which `ip netns
# exec` runs in a mount namespace of its own), as they would on a real node.
. "$(dirname "$0")/../node/node_lib.sh"

command -v podman >/dev/null || fail "podman missing (./podlane setup installs it)"
[ -x /bin/busybox ] || fail "busybox-static missing (./podlane setup installs it)"
CNI_BIN=$T_DIR/cni-bin
NETCONF=$T_DIR/cni.d
IPAM_DIR=$T_DIR/ipam
mkdir -p "$CNI_BIN" "$NETCONF" "$IPAM_DIR"
ln -s "$BUILD_DIR/tools/podlane-cni" "$CNI_BIN/podlane-cni"

node_lab_up
node_config
sed -i "s|^cni:.*||" "$T_CONF"
printf 'cni:\n  socket: %s\n' "$T_DIR/cni.sock" >>"$T_CONF"
start_node_podlane

cat >"$T_DIR/containers.conf" <<EOC
[containers]
default_ulimits = []
netns = "private"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$CNI_BIN", "/usr/lib/cni"]
network_config_dir = "$NETCONF"
EOC
cat >"$NETCONF/podlane.conflist" <<EOC
{
  "cniVersion": "1.0.0",
  "name": "podlane",
  "plugins": [
    {
      "type": "podlane-cni",
      "socket": "$T_DIR/cni.sock",
      "ipam": {
        "type": "host-local",
        "dataDir": "$IPAM_DIR",
        "ranges": [[{"subnet": "$(lab_pod_cidr_v4 1)"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOC
export CONTAINERS_CONF=$T_DIR/containers.conf
PODMAN=(podman --root "$T_DIR/storage" --runroot "$T_DIR/runroot" --tmpdir "$T_DIR/ptmp")
pm() { "${PODMAN[@]}" "$@"; }

# The image: a busybox-static rootfs.
ROOTFS=$T_DIR/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh sleep ping ip cat ls; do ln -s busybox "$ROOTFS/bin/$a"; done
tar -C "$ROOTFS" -cf "$T_DIR/rootfs.tar" .
pm import "$T_DIR/rootfs.tar" localhost/podlane-busybox:test >/dev/null || fail "podman import"

podman_cleanup() {
	pm rm -f -t 0 c1 c2 >/dev/null 2>&1 || true
}
trap 'rc=$?; podman_cleanup; cleanup_all $rc' EXIT

for c in c1 c2; do
	pm run -d --name "$c" --network podlane localhost/podlane-busybox:test /bin/sleep 600 \
		>/dev/null || fail "podman run $c"
done
ip_of() { pm inspect -f '{{(index .NetworkSettings.Networks "podlane").IPAddress}}' "$1"; }
IP1=$(ip_of c1)
IP2=$(ip_of c2)
log "c1 $IP1, c2 $IP2"
[ -n "$IP1" ] && [ -n "$IP2" ] && [ "$IP1" != "$IP2" ] || fail "containers got no distinct addresses"
[ "$(ctl -j pods | jq length)" -eq 2 ] || fail "cni-server does not list two pods: $(ctl pods)"
ping_from() { pm exec "$1" ping -c 1 -W 2 "$2" >/dev/null; }
wait_for 20 "c1 -> c2" ping_from c1 "$IP2" || fail "c1 cannot reach c2"
wait_for 20 "c2 -> c1" ping_from c2 "$IP1" || fail "c2 cannot reach c1"
wait_for 20 "c1 -> gateway" ping_from c1 "$(lab_gw_v4 1)" || fail "c1 cannot reach the gateway"
wait_for 20 "c2 -> outside" ping_from c2 "$(lab_outside_v4)" || fail "c2 cannot reach the outside"
log "containers reach each other, the gateway and the outside through podlane"

pm rm -f -t 0 c1 c2 >/dev/null || fail "podman rm"
no_pods() { [ "$(ctl -j pods | jq length)" -eq 0 ]; }
wait_for 20 "pods removed" no_pods || fail "pods left after podman rm: $(ctl pods)"
[ -z "$(find "$IPAM_DIR" -name '10.*' -type f)" ] || fail "addresses not released: $(ls -R "$IPAM_DIR")"
log "podman rm cleaned up: no pods, no addresses held"
log "PASS"
