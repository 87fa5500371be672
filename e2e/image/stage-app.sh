#!/usr/bin/env bash
# stage-app.sh - lay out the application directory of the openmb image (/app), without node_modules.
#
# Usage: e2e/image/stage-app.sh SRC DEST
#
# SRC is a checkout whose dist/ is built (npm run build). DEST (created, must not exist)
# receives package.json, package-lock.json, bin/, dist/ without tests, test support and
# benchmarks (e2e/image/test-support.txt), source maps and type declarations, data/traces/ (without references/), and the files other than
# TypeScript that the code reads beside its sources at run time (e.g.
# shims/middleboxes/ids/rules/sample.rules, which the ids default configuration points at
# through import.meta.url). Production node_modules are installed into DEST afterwards by
# the caller (npm ci --omit=dev).
# e2e/image/build.sh and the Dockerfile both use this script, so both images hold the same files.
set -euo pipefail

[[ $# -eq 2 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
SRC="$(cd "$1" && pwd)"
DEST="$2"
die() { echo "stage-app.sh: $*" >&2; exit 1; }
[[ -f $SRC/dist/cli/main.js ]] || die "$SRC/dist is not built (npm run build)"
[[ ! -e $DEST ]] || die "$DEST already exists"
mkdir -p "$DEST"

cd "$SRC"
cp package.json package-lock.json "$DEST/"
cp -r bin "$DEST/"
# The captures (for `openmb replay` and `openmb local`) with their licenses; tshark's
# reference dissections are for the tests only.
mkdir -p "$DEST/data/traces"
find data/traces -mindepth 1 -maxdepth 1 ! -name references -exec cp -r -t "$DEST/data/traces" {} +
# dist/ as tsc wrote it, minus what only tests, benchmarks and editors use (test-support.txt).
mkdir -p "$DEST/dist"
not_test=()
while read -r pattern; do
  [[ -z $pattern || $pattern == \#* ]] || not_test+=(! -path "./$pattern")
done <"$SRC/e2e/image/test-support.txt"
(cd dist && find . -type f -name '*.js' "${not_test[@]}" -print0 | xargs -0 -r cp --parents -t "$DEST/dist")
# Run-time assets kept beside the sources (rules files and the like); docs and sources stay out.
find shims operator cli -type f ! -name '*.ts' ! -name '*.md' -print0 | xargs -0 -r cp --parents -t "$DEST"
# Root owns every file and anyone may read them: the image runs as a non-root user and the
# files must not be writable by it.
chmod -R u+rwX,go+rX,go-w "$DEST"
