#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `meson install` puts the plugin in the CNI bin dir (<prefix>/lib/cni: /usr/lib/cni with
# --prefix=/usr, where podman and Debian's plugins live) and the example network in the CNI
# config dir (<sysconfdir>/cni/net.d), and the example is a valid conflist for podlane-cni.
set -euo pipefail
BUILD_DIR=${PODLANE_BUILD_DIR:?}
fail() { echo "[test_cni_install] FAIL: $*" >&2; exit 1; }
installed=$(meson introspect "$BUILD_DIR" --installed)
prefix=$(meson introspect "$BUILD_DIR" --buildoptions | jq -r '.[] | select(.name == "prefix") | .value')
sysconf=$(meson introspect "$BUILD_DIR" --buildoptions | jq -r '.[] | select(.name == "sysconfdir") | .value')
case $sysconf in /*) ;; *) sysconf=$prefix/$sysconf ;; esac
jq -e --arg p "$prefix/lib/cni/podlane-cni" 'any(.[]; . == $p)' <<<"$installed" >/dev/null ||
	fail "podlane-cni not installed to $prefix/lib/cni"
conf=$(jq -r --arg d "$sysconf/cni/net.d/10-podlane.conflist" 'to_entries[] | select(.value == $d) | .key' <<<"$installed")
[ -n "$conf" ] || fail "conflist not installed to $sysconf/cni/net.d"
jq -e '.cniVersion == "1.0.0" and .name == "podlane" and .plugins[0].type == "podlane-cni" and
	.plugins[0].ipam.type == "host-local"' "$conf" >/dev/null || fail "example conflist is not a podlane-cni network"
echo "[test_cni_install] plugin -> $prefix/lib/cni, conflist -> $sysconf/cni/net.d"
echo "[test_cni_install] PASS"
