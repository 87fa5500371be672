#!/usr/bin/env bash
# build.sh - build the Kubernetes control plane, a node (kubelet) and kubectl from source.
#
# Usage: e2e/controlplane/build.sh
#
# Builds the binaries from the k8s.io/kubernetes Go module (pinned below)
# using only the Go module proxy: no Docker, no git clone of kubernetes.
# Output: $OPENMB_CACHE/k8s-<version>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kubectl}
# The build is skipped when every binary already exists. Prints the bin dir.
#
# Env:
#   K8S_VERSION   kubernetes version to build (default below)
#   OPENMB_CACHE  cache root (default ~/.cache/openmb)
#   GOTOOLCHAIN   set e.g. to go1.27.3 if a newer version's go.mod needs a
#                 newer Go than the local one
set -euo pipefail

[[ $# -eq 0 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

# v1.34.4: latest 1.34 patch on the proxy; its go.mod says `go 1.24.0`, so
# the local Go 1.26 builds it without a toolchain download.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
CACHE="${OPENMB_CACHE:-$HOME/.cache/openmb}"
BIN_DIR="$CACHE/k8s-$K8S_VERSION/bin"
BUILD_DIR="$CACHE/build-$K8S_VERSION"
# kubelet and kube-scheduler make a real node; kubectl too, so the e2e suites do not depend on
# whatever kubectl a machine happens to have.
CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

missing=0
for cmd in "${CMDS[@]}"; do [[ -x "$BIN_DIR/$cmd" ]] || missing=1; done
if ((missing == 0)); then
  echo "build.sh: $K8S_VERSION already built" >&2
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go not found in PATH" >&2; exit 1; }
# Staging modules are published as v0.X.Y for kubernetes v1.X.Y.
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

echo "build.sh: building kubernetes $K8S_VERSION in $BUILD_DIR (this takes a while)" >&2
mkdir -p "$BUILD_DIR" "$BIN_DIR"
cd "$BUILD_DIR"

# kubernetes' go.mod requires its staging modules (k8s.io/api, client-go, ...)
# at v0.0.0 with replace => ./staging, which does not work for a dependent
# module; so we replace each of them with its published version.
K8S_GOMOD="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[[ -f "$K8S_GOMOD" ]] || { echo "build.sh: cannot download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
STAGING=$(sed -nE 's/^[[:space:]]*(k8s\.io\/[^[:space:]]+) v0\.0\.0([[:space:]].*)?$/\1/p' "$K8S_GOMOD" | sort -u)
[[ -n "$STAGING" ]] || { echo "build.sh: no staging modules found in $K8S_GOMOD" >&2; exit 1; }

{
  echo "module openmb.local/k8sbuild"
  echo
  # Same language version and GODEBUG defaults as upstream builds.
  grep -E '^(go|godebug) ' "$K8S_GOMOD"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in $STAGING; do echo "	$m => $m $STAGING_VERSION"; done
  echo ")"
} >go.mod
rm -f go.sum

# Resolve the full module graph and go.sum for both commands. The explicit
# @version matters: a bare `go get pkg` would upgrade to the latest kubernetes.
pkgs=(); for cmd in "${CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd@$K8S_VERSION"); done
go get "${pkgs[@]}"

# Stamp the version like hack/lib/version.sh does; otherwise /version reports
# v0.0.0-master and clients that check the server version get confused.
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w" # drop symbol/DWARF tables: smaller binaries, never debugged
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done

start=$(date +%s)
for cmd in "${CMDS[@]}"; do
  [[ -x "$BIN_DIR/$cmd" ]] && continue
  echo "build.sh: go build $cmd" >&2
  nice -n 19 go build -trimpath -ldflags="$ldflags" -o "$BIN_DIR/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$BIN_DIR/$cmd.tmp" "$BIN_DIR/$cmd"
done
echo "build.sh: built in $(($(date +%s) - start))s" >&2
echo "$BIN_DIR"
