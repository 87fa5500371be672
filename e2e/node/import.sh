#!/usr/bin/env bash
# import.sh - load an OCI image layout tarball into a node's containerd, for its Pods.
#
# Usage: e2e/node/import.sh RUN IMAGE.tar...
#
# RUN is a node started by e2e/node/up.sh. Each tarball (from e2e/image/build.sh or
# e2e/image/pause.sh, or any OCI layout whose index.json names the image with the
# io.containerd.image.name annotation) goes into containerd's k8s.io namespace, the one the
# kubelet's CRI calls use, and is unpacked into the overlayfs snapshotter, so a Pod with
# imagePullPolicy: Never (or IfNotPresent) starts from it. Importing a new build under the
# same name moves the name to it; running Pods keep the image they started with.
set -euo pipefail

[[ $# -ge 2 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
RUN="$1"; shift
SOCK="$RUN/containerd/containerd.sock"
[[ -S $SOCK ]] || { echo "import.sh: no containerd socket at $SOCK (is the node up?)" >&2; exit 1; }
for tar in "$@"; do
  [[ -f $tar ]] || { echo "import.sh: $tar not found" >&2; exit 1; }
  ctr --address "$SOCK" -n k8s.io images import --snapshotter overlayfs "$tar"
done
