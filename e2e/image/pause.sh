#!/usr/bin/env bash
# pause.sh - build the node's sandbox ("pause") image as an OCI image layout tarball.
#
# Usage: e2e/image/pause.sh OUT.tar [NAME]
#
# containerd starts one sandbox container per Pod to hold its namespaces, from the image named
# by its sandbox_image setting, and would pull registry.k8s.io/pause from the network without
# one. This image is Debian's static busybox (apt-get install busybox-static) running
# `sleep` forever; containerd stops sandboxes with SIGKILL, so the sleep needs no signal
# handling. NAME defaults to localhost/openmb/pause:dev (a name no registry serves, so nothing
# is ever pulled for it). Env: BUSYBOX (default /bin/busybox, must be statically linked).
set -euo pipefail

[[ $# -ge 1 && $# -le 2 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
OUT="$(realpath -m "$1")"
NAME="${2:-localhost/openmb/pause:dev}"
HERE="$(cd "$(dirname "$0")" && pwd)"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
# shellcheck source=e2e/image/oci.sh
source "$HERE/oci.sh"

die() { echo "pause.sh: $*" >&2; exit 1; }
[[ -x $BUSYBOX ]] || die "$BUSYBOX not found (apt-get install busybox-static)"
# A dynamically linked busybox (Debian's `busybox` package) would need its libc in the image.
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is dynamically linked (apt-get install busybox-static)"; fi

mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-pause.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export OCI_TMP="$WORK"

root="$WORK/pause"
mkdir -p "$root/bin" "$root/etc"
cp -L "$BUSYBOX" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
ln -s busybox "$root/bin/sleep"
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
# 2^31-1 seconds: busybox's sleep takes no "infinity".
oci_image "$OUT" "$NAME" \
  '{"Env":["PATH=/bin"],"Entrypoint":["/bin/sleep"],"Cmd":["2147483647"],"WorkingDir":"/"}' "$root"
echo "$OUT"
