#!/usr/bin/env bash
# build.sh - build the openmb container image as an OCI image layout tarball (no Docker, no registry).
#
# Usage: e2e/image/build.sh OUT.tar [NAME]
#
# NAME defaults to docker.io/library/openmb:dev, which is what `image: openmb:dev` in a Pod
# resolves to. Import the tarball into a node with e2e/node/import.sh RUN OUT.tar and run it
# with imagePullPolicy: Never (or IfNotPresent); there is no registry to pull from.
#
# Two layers:
#   base  /usr/bin/node (this machine's Node.js) with the shared libraries `ldd` lists and the
#         dynamic loader, /etc/passwd and /etc/group with the user openmb (uid/gid 65532),
#         /etc/nsswitch.conf, /tmp
#   app   /app: package.json, package-lock.json, bin/, dist/, data/traces/, run-time
#         assets (e2e/image/stage-app.sh decides, as for the Dockerfile) and production
#         node_modules (npm ci --omit=dev --ignore-scripts)
# Entrypoint /usr/bin/node /app/bin/openmb.js, User 65532:65532, WorkingDir /app: the same
# contract as the Dockerfile's image. dist/ is rebuilt first (npm run build) when it is missing
# or older than a source file. The production node_modules are cached under
# $OPENMB_CACHE/image/ (default ~/.cache/openmb), keyed by package.json, package-lock.json and
# the Node.js version; npm itself reads its own cache (--prefer-offline).
set -euo pipefail

[[ $# -ge 1 && $# -le 2 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
OUT="$(realpath -m "$1")"
NAME="${2:-docker.io/library/openmb:dev}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${OPENMB_CACHE:-$HOME/.cache/openmb}/image"
# shellcheck source=e2e/image/oci.sh
source "$HERE/oci.sh"

die() { echo "build.sh: $*" >&2; exit 1; }
for c in node npm ldd tar sha256sum; do command -v "$c" >/dev/null || die "$c not found in PATH"; done
NODE="$(readlink -f "$(command -v node)")"
mkdir -p "$(dirname "$OUT")" "$CACHE"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export OCI_TMP="$WORK"

# --- dist/ -------------------------------------------------------------------
cd "$ROOT"
stale=0
if [[ ! -f dist/cli/main.js ]]; then
  stale=1
elif [[ -n "$(find shims operator cli bench -name '*.ts' -newer dist/cli/main.js -print -quit)" ||
  tsconfig.json -nt dist/cli/main.js || package.json -nt dist/cli/main.js ]]; then
  stale=1
fi
if ((stale)); then
  echo "build.sh: dist/ is missing or stale: npm run build" >&2
  npm run build >&2
fi

# --- base layer: node and what it links against -----------------------------
base="$WORK/base"
mkdir -p "$base/usr/bin" "$base/etc" "$base/tmp" "$base/app"
chmod 1777 "$base/tmp"
cp "$NODE" "$base/usr/bin/node"
# ldd prints "lib => /path (addr)" and "/path/ld-linux... (addr)"; copy every absolute path,
# dereferenced, to the same place (the loader is found by the path compiled into node).
libs="$(ldd "$NODE" | grep -o '/[^ ]*' | sort -u)"
[[ -n $libs ]] || die "ldd lists no libraries for $NODE (a static node needs none: remove this check)"
for lib in $libs; do
  mkdir -p "$base$(dirname "$lib")"
  cp -L "$lib" "$base$lib"
done
cat >"$base/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
openmb:x:65532:65532:openmb:/app:/usr/sbin/nologin
EOF
cat >"$base/etc/group" <<'EOF'
root:x:0:
openmb:x:65532:
EOF
# glibc's resolver reads this; without it, lookups of names in /etc/hosts may skip the file.
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$base/etc/nsswitch.conf"

# --- app layer -----------------------------------------------------------------
app="$WORK/app-root"
mkdir -p "$app"
bash "$HERE/stage-app.sh" "$ROOT" "$app/app"
key="$(cat package.json package-lock.json <("$NODE" --version) | sha256sum | cut -c1-16)"
modules="$CACHE/node_modules-$key"
if [[ ! -d $modules ]]; then
  echo "build.sh: npm ci --omit=dev (cached as $modules)" >&2
  npmdir="$WORK/npm"
  mkdir -p "$npmdir"
  cp package.json package-lock.json "$npmdir/"
  # --ignore-scripts: `prepare` would run tsc, which is a dev dependency.
  (cd "$npmdir" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund >&2)
  # Only one cache entry: earlier ones belong to lockfiles no longer checked out.
  rm -rf "$CACHE"/node_modules-*
  mv "$npmdir/node_modules" "$modules.tmp" && mv "$modules.tmp" "$modules"
fi
cp -r "$modules" "$app/app/node_modules"
chmod -R u+rwX,go+rX,go-w "$app/app/node_modules"

# Fail here rather than in a Pod: the image's node must start and load the app from its
# own root (chroot needs root; others skip the check).
if [[ $(id -u) == 0 ]] && command -v chroot >/dev/null; then
  check="$WORK/check"
  mkdir -p "$check"
  cp -a "$base/." "$app/." "$check/"
  # env -i: the image's environment, not this shell's (NODE_OPTIONS, NODE_EXTRA_CA_CERTS...).
  env -i PATH=/usr/bin:/bin "$(command -v chroot)" --userspec=65532:65532 "$check" \
    /usr/bin/node /app/bin/openmb.js --help >/dev/null ||
    die "the image's node cannot run /app/bin/openmb.js --help"
  rm -rf "$check"
fi

config='{"User":"65532:65532","WorkingDir":"/app",'
config+='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NODE_ENV=production"],'
config+='"Entrypoint":["/usr/bin/node","/app/bin/openmb.js"],'
config+="\"Labels\":{\"org.opencontainers.image.title\":\"openmb\",\"org.opencontainers.image.version\":\"$("$NODE" -p 'require("./package.json").version')\"}}"
oci_image "$OUT" "$NAME" "$config" "$base" "$app"
echo "$OUT"
