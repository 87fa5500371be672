#!/usr/bin/env bash
# crds.test.sh - the openmb.io CRDs on a real API server.
#
# Usage: e2e/crds/crds.test.sh
#
# Starts a control plane (e2e/controlplane/up.sh) in a temp dir, applies manifests/crds/, and checks:
# both CRDs become Established; the sample pool is accepted with its defaults filled in;
# `kubectl scale` sets spec.replicas through the scale subresource; `kubectl get mbp` and
# `kubectl get sop` print their columns; a StateOperation's spec is immutable; and every file in
# manifests/samples/invalid/ is refused with an error naming the field in its
# "# expect-field:" line and containing the text in its "# expect-message:" line.
# Prints PASS/FAIL per case; exits non-zero if any case failed. The control plane is stopped on
# exit; its dir (logs) is removed when every case passed and kept otherwise.
#
# Env: KUBE_BIN_DIR, UP_TIMEOUT (passed to up.sh); KEEP_DIR=1 keeps the dir anyway.
set -euo pipefail

[[ $# -eq 0 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CP="$REPO/e2e/controlplane"
DIR="$(mktemp -d /tmp/openmb-crds.XXXXXX)"
FAILED=0
PASSED=0

cleanup() {
  "$CP/down.sh" "$DIR" >/dev/null 2>&1 || true
  if ((FAILED == 0)) && [[ -z ${KEEP_DIR:-} ]]; then rm -rf "$DIR"; else echo "crds.test.sh: logs kept in $DIR" >&2; fi
}
trap cleanup EXIT

k() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }
log() { echo "crds.test.sh: $*" >&2; }
pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1"; shift; [[ $# -eq 0 ]] || printf '  %s\n' "$@"; }
# until_true SECONDS CMD...: poll CMD until it succeeds
until_true() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 1; done
}
# expect_eq NAME ACTUAL EXPECTED
# show TEXT: print TEXT indented, as evidence
show() { while IFS= read -r line; do echo "  | $line"; done <<<"$1"; }
expect_eq() {
  if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected: $3" "actual:   $2"; fi
}

log "starting a control plane in $DIR"
"$CP/up.sh" "$DIR" >/dev/null

# --- the CRDs -------------------------------------------------------------------------------------
if out="$(k apply -f "$REPO/manifests/crds/" 2>&1)"; then pass "kubectl apply -f manifests/crds/"; else fail "kubectl apply -f manifests/crds/" "$out"; exit 1; fi
for crd in middleboxpools.openmb.io stateoperations.openmb.io; do
  if out="$(k wait --for condition=Established --timeout=60s "crd/$crd" 2>&1)"; then
    pass "crd/$crd is Established"
  else
    fail "crd/$crd is Established" "$out"; exit 1
  fi
done
# Discovery of new types can lag a moment behind Established.
if ! { until_true 30 k get mbp && until_true 30 k get sop; }; then fail "mbp and sop are served"; exit 1; fi
pass "short names mbp and sop are served"

# --- the sample pool, its defaults, the scale subresource ----------------------------------------
SAMPLE="$REPO/manifests/samples/monitor-pool.yaml"
POOL="$(sed -n 's/^  name: //p' "$SAMPLE" | head -n 1)"
if out="$(k apply -f "$SAMPLE" 2>&1)"; then pass "the sample pool is accepted ($POOL)"; else fail "the sample pool is accepted" "$out"; fi
expect_eq "default spec.replicas is 1" "$(k get mbp "$POOL" -o jsonpath='{.spec.replicas}')" 1
expect_eq "default spec.partitioning.buckets is 64" "$(k get mbp "$POOL" -o jsonpath='{.spec.partitioning.buckets}')" 64
expect_eq "default spec.migration" \
  "$(k get mbp "$POOL" -o jsonpath='{.spec.migration.guarantee} {.spec.migration.transfer} {.spec.migration.concurrency} {.spec.migration.optimizations.parallelPuts}')" \
  "loss-free direct 1 true"

if out="$(k scale "mbp/$POOL" --replicas=3 2>&1)"; then pass "kubectl scale mbp/$POOL --replicas=3"; else fail "kubectl scale mbp/$POOL --replicas=3" "$out"; fi
expect_eq "kubectl scale sets spec.replicas" "$(k get mbp "$POOL" -o jsonpath='{.spec.replicas}')" 3
expect_eq "the scale subresource reports spec.replicas" \
  "$(k get --raw "/apis/openmb.io/v1alpha1/namespaces/default/middleboxpools/$POOL/scale" | sed -n 's/.*"spec":{"replicas":\([0-9]*\)}.*/\1/p')" 3

# Status as the operator would write it, so every column has a value.
k patch mbp "$POOL" --subresource=status --type=merge -p '{"status":{"replicas":3,"readyReplicas":2,
  "selector":"openmb.io/pool='"$POOL"'","phase":"Scaling","operationsInFlight":1}}' >/dev/null
table="$(k get mbp)"
show "$table"
expect_eq "kubectl get mbp columns" "$(head -n 1 <<<"$table" | tr -s ' ')" "NAME TYPE DESIRED READY PHASE OPS AGE"
expect_eq "kubectl get mbp row" "$(sed -n 2p <<<"$table" | awk '{print $1, $2, $3, $4, $5, $6}')" "$POOL monitor 3 2 Scaling 1"
expect_eq "the scale subresource reports the status selector" \
  "$(k get --raw "/apis/openmb.io/v1alpha1/namespaces/default/middleboxpools/$POOL/scale" | sed -n 's/.*"selector":"\([^"]*\)".*/\1/p')" \
  "openmb.io/pool=$POOL"

# --- a StateOperation: defaults, columns, immutability -------------------------------------------
sop() {
  printf 'apiVersion: openmb.io/v1alpha1\nkind: StateOperation\nmetadata: {name: %s}\nspec: %s\n' "$1" "$2"
}
if out="$(sop move-1 "{pool: $POOL, kind: move, from: [$POOL-0], to: $POOL-1, filter: {buckets: {key: flow, of: 64, ids: [0, 1]}}}" |
  k apply -f - 2>&1)"; then pass "a valid StateOperation is accepted"; else fail "a valid StateOperation is accepted" "$out"; fi
expect_eq "StateOperation defaults" "$(k get sop move-1 -o jsonpath='{.spec.scopes} {.spec.guarantee}')" '["per-flow"] loss-free'
k patch sop move-1 --subresource=status --type=merge -p '{"status":{"phase":"Running","progress":{"flowsTotal":40,"flowsDone":12}}}' >/dev/null
table="$(k get sop)"
show "$table"
expect_eq "kubectl get sop columns" "$(head -n 1 <<<"$table" | tr -s ' ')" "NAME KIND FROM TO PHASE PROGRESS AGE"
expect_eq "kubectl get sop row" "$(sed -n 2p <<<"$table" | awk '{print $1, $2, $3, $4, $5, $6}')" "move-1 move [\"$POOL-0\"] $POOL-1 Running 12"
if out="$(sop move-1 "{pool: $POOL, kind: move, from: [$POOL-0], to: $POOL-2}" | k apply -f - 2>&1)"; then
  fail "a StateOperation's spec is immutable" "the change was accepted: $out"
elif grep -qF 'spec: Invalid value: "object": spec is immutable' <<<"$out"; then
  pass "a StateOperation's spec is immutable"
else
  fail "a StateOperation's spec is immutable" "$out"
fi

# --- every invalid sample is refused, naming its field ---------------------------------------------
shopt -s nullglob
invalid=("$REPO"/manifests/samples/invalid/*.yaml)
((${#invalid[@]} > 0)) || fail "invalid samples exist"
for f in "${invalid[@]}"; do
  name="invalid/$(basename "$f")"
  field="$(sed -n 's/^# expect-field: //p' "$f")"
  message="$(sed -n 's/^# expect-message: //p' "$f")"
  if [[ -z $field || -z $message ]]; then fail "$name" "no '# expect-field:' or '# expect-message:' line"; continue; fi
  if out="$(k apply -f "$f" 2>&1)"; then
    fail "$name is refused" "kubectl accepted it: $out"
  elif ! grep -qF " $field: " <<<"$out"; then
    fail "$name is refused naming $field" "$out"
  elif ! grep -qF -- "$message" <<<"$out"; then
    fail "$name is refused with \"$message\"" "$out"
  else
    pass "$name is refused: $(grep -F " $field: " <<<"$out" | head -n 1 | sed 's/^\* //; s/^.* is invalid: //')"
  fi
done

echo "crds.test.sh: $PASSED passed, $FAILED failed"
((FAILED == 0))
