#!/usr/bin/env bash
# operator.e2e.sh - the operator against a real Kubernetes API server.
#
# Usage: e2e/operator/operator.e2e.sh
#
# Uses $KUBECONFIG if set; otherwise starts a control plane (e2e/controlplane/up.sh) in a
# temporary directory and stops it on exit. Then: applies manifests/crds/, starts `openmb operator
# --runtime process`, runs the trace through one unscaled instance (`openmb local`) as the
# reference, applies a monitor pool, replays the trace into the pool's switch while
# `kubectl scale` takes it 1 -> 3 -> 2, waits each time until every StateOperation is Succeeded
# and the pool is Ready=True at its generation (at 3, SIGKILLs the operator and starts another:
# it must adopt the same switch and instance processes, with no instance lost and the pool Ready
# throughout), compares the pool's outputs with the reference, takes the operator's Lease away
# (it exits; the next one adopts the pool's processes again),
# moves one server's flows with a StateOperation of its own, and deletes the pool: the finalizer
# drains it, its StateOperations are garbage-collected, its processes stop. Before the operator,
# two leader candidates whose clocks are 180 s apart contend for a Lease (leader-skew.mjs).
# Prints PASS/FAIL per step; exits non-zero on the first failure.
#
# Env:
#   TRACE     capture to replay (default: the bundled data/traces/tryzeek_sumstat.pcap)
#   RATE      replay rate in packets/s (default 250: the scaling happens while traffic flows)
#   TIMEOUT   seconds to wait for each convergence (default 120)
#   KEEP      1: keep the work directory (logs) even when the suite passes
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRACE="${TRACE:-$ROOT/data/traces/tryzeek_sumstat.pcap}"
RATE="${RATE:-250}"
TIMEOUT="${TIMEOUT:-120}"
POOL=monitor
NS="openmb-e2e-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-operator-e2e.XXXXXX")"
OPENMB=(node "$ROOT/bin/openmb.js")
# shellcheck source=e2e/lib/suite.sh
source "$ROOT/e2e/lib/suite.sh"
CP_DIR=""
OPERATOR_PID=""
REPLAY_PID=""

cleanup() {
  local rc=$?
  set +e
  end_suite "$rc"
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

# --- a cluster and the build -----------------------------------------------------
start_control_plane
kubectl get --raw /readyz >/dev/null 2>&1 || fail "the API server does not answer"
pass "API server $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"

kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null ||
  fail "CRDs not established"
pass "kubectl apply -f manifests/crds/"
kubectl create namespace "$NS" >/dev/null

# --- leader election with skewed clocks --------------------------------------------
skew=$(node "$ROOT/e2e/operator/leader-skew.mjs" "$NS" 2>&1) || fail "leader election with skewed clocks: $skew"
pass "leader election: $skew"

# --- the operator ------------------------------------------------------------------
head -c 24 /dev/urandom | base64 >"$WORK/secret"
http_address() { sed -n 's/^http \(.*\)$/\1/p' "$WORK/operator.log" 2>/dev/null | head -n 1; }
has_http() { [[ -n $(http_address) ]]; }
start_operator() {
  "${OPENMB[@]}" operator --runtime process --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" \
    --namespace "$NS" --leader-elect --lease-namespace "$NS" >"$WORK/operator.log" 2>&1 &
  OPERATOR_PID=$!
  wait_until 60 "operator started" has_http
  HTTP="http://$(http_address)"
}
start_operator
curl -sf "$HTTP/healthz" >/dev/null || fail "operator /healthz"
pass "operator running (pid $OPERATOR_PID, $HTTP, leader of lease $NS/openmb-operator)"

# --- the reference: the same trace through one unscaled instance ------------------------
"${OPENMB[@]}" local --middlebox monitor --trace "$TRACE" --out "$WORK/reference" --rate 2000 >"$WORK/reference.log" 2>&1 ||
  fail "unscaled reference run (see $WORK/reference.log)"
pass "unscaled reference: $(head -n 1 "$WORK/reference.log")"

# --- the pool ------------------------------------------------------------------------
k apply -f "$ROOT/e2e/operator/pool.yaml" >/dev/null || fail "kubectl apply the pool"
check_scaled 1
SWITCH=$(pool_field '{.status.switch.address}')
[[ -S $SWITCH ]] || fail "the pool's switch socket ($SWITCH) is not there"
[[ $(pool_field '{.metadata.finalizers}') == *openmb.io/drain* ]] || fail "the pool has no openmb.io/drain finalizer"
pass "pool $POOL: switch $SWITCH, finalizer openmb.io/drain, selector $(pool_field '{.status.selector}')"

OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$TRACE" --switch "$SWITCH" --rate "$RATE" \
  >"$WORK/replay.out" 2>"$WORK/replay.log" &
REPLAY_PID=$!
log "replaying $(basename "$TRACE") at $RATE packets/s into the pool"
sleep 2

k scale mbp/"$POOL" --replicas=3 >/dev/null || fail "kubectl scale --replicas=3"
log "kubectl scale mbp/$POOL --replicas=3"
check_scaled 3
[[ -z $(failed_ops) ]] || fail "failed operations: $(failed_ops)"
kill -0 "$REPLAY_PID" 2>/dev/null && log "(traffic still flowing)"

# --- the operator SIGKILLed while the pool is Ready: its processes go on, the next operator adopts them
RECORD="$WORK/state/$NS/$POOL/data-plane.json"
[[ -f $RECORD ]] || fail "no data plane record at $RECORD"
recorded_pids() { node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log([`switch=${r.switch.pid}`, ...r.instances.map((i) => `${i.name}=${i.pid}`)].sort().join(" "));
' "$RECORD"; }
ready_since() { pool_field '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}'; }
lost_events() { k get events --field-selector involvedObject.kind=MiddleboxPool,reason=InstanceLost -o name | wc -l; }
move_names() { k get sop -o jsonpath='{range .items[?(@.spec.kind=="move")]}{.metadata.name}{"\n"}{end}' | sort; }
# remember_data_plane: what the next operator must find as it was.
remember_data_plane() {
  PIDS_BEFORE=$(recorded_pids)
  INSTANCES_BEFORE=$(pool_field '{.status.instances[*].name}')
  LOST_BEFORE=$(pool_field '{.status.lostFlows}')
  READY_SINCE=$(ready_since)
}
# still_running WHAT: every remembered process outlived the operator.
still_running() {
  for entry in $PIDS_BEFORE; do kill -0 "${entry#*=}" 2>/dev/null || fail "${entry%=*} (pid ${entry#*=}) died with the operator"; done
  pass "$1: the switch and instances still run ($PIDS_BEFORE)"
}
# restart_adopts N LOG: a new operator (the old log kept as LOG) adopts the remembered data plane
# at N replicas: the same processes and instances, no instance lost, the pool Ready throughout.
restart_adopts() {
  mv "$WORK/operator.log" "$WORK/$2"
  start_operator
  adopted() { grep -q '"msg":"adopted the pool'"'"'s running data plane"' "$WORK/operator.log"; }
  wait_until "$TIMEOUT" "the restarted operator adopts the pool's data plane" adopted
  check_scaled "$1"
  [[ $(recorded_pids) == "$PIDS_BEFORE" ]] || fail "the processes changed across the restart: $PIDS_BEFORE -> $(recorded_pids)"
  [[ $(pool_field '{.status.instances[*].name}') == "$INSTANCES_BEFORE" ]] || fail "the instances changed: $INSTANCES_BEFORE -> $(pool_field '{.status.instances[*].name}')"
  [[ $(pool_field '{.status.lostFlows}') == "$LOST_BEFORE" ]] || fail "lostFlows changed: $LOST_BEFORE -> $(pool_field '{.status.lostFlows}')"
  [[ $(lost_events) == 0 ]] || fail "InstanceLost events after the restart: $(k get events --field-selector reason=InstanceLost -o jsonpath='{.items[*].message}')"
  [[ $(ready_since) == "$READY_SINCE" ]] || fail "the pool's Ready condition changed at $(ready_since) (it was Ready since $READY_SINCE)"
  pass "the restarted operator (pid $OPERATOR_PID) adopted the same processes and instances ($INSTANCES_BEFORE); lostFlows ${LOST_BEFORE:-unset}, no InstanceLost, Ready since $READY_SINCE"
}
remember_data_plane
MOVES_BEFORE_RESTART=$(move_names)
kill -0 "$REPLAY_PID" 2>/dev/null && UNDER_TRAFFIC="under traffic" || UNDER_TRAFFIC="after the replay ended"
kill -9 "$OPERATOR_PID"
wait "$OPERATOR_PID" 2>/dev/null || true
OPERATOR_PID=""
sleep 2
still_running "operator SIGKILLed $UNDER_TRAFFIC"
restart_adopts 3 operator-1.log

k scale mbp/"$POOL" --replicas=2 >/dev/null || fail "kubectl scale --replicas=2"
log "kubectl scale mbp/$POOL --replicas=2"
check_scaled 2
TRAFFIC_DURING_SCALE=0
kill -0 "$REPLAY_PID" 2>/dev/null && TRAFFIC_DURING_SCALE=1

finish_replay
SENT=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' "$WORK/replay.out")
((TRAFFIC_DURING_SCALE)) && when="both scalings happened while traffic flowed" || when="the replay ended before the scale to 2 converged"
pass "replay done: $(cat "$WORK/replay.out") ($when)"

# Every step is a StateOperation owned by the pool, with its final progress.
check_operations
EVENTS=$(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=OperationSucceeded -o name | wc -l)
((EVENTS > 0)) || fail "no OperationSucceeded events on the pool"
pass "$EVENTS OperationSucceeded events on the pool"

# --- the outputs equal the unscaled run's ---------------------------------------------
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs.json" || fail "GET /pools/$NS/$POOL/outputs"
same_outputs "$WORK/outputs.json" "scaled 1 -> 3 -> 2"
pass "outputs of the pool scaled 1 -> 3 -> 2 ($SENT packets) equal the unscaled run's"

# --- the pool's live timeline: the page open, its stream for the token, every move the restarted
# operator ran (a timeline is the memory of the operator that serves it)
MOVES_SINCE_RESTART=$(comm -13 <(echo "$MOVES_BEFORE_RESTART") <(move_names) | grep -c . || true)
((MOVES_SINCE_RESTART > 0)) || fail "no move after the operator's restart"
TIMELINE="$HTTP/pools/$NS/$POOL/timeline"
curl -sf "$TIMELINE" | grep -q '"token":true' || fail "GET $TIMELINE (the page)"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$TIMELINE/events") == 401 ]] || fail "the timeline's stream answered without the token"
curl -s -N --max-time 2 -H "Authorization: Bearer $(cat "$WORK/secret")" "$TIMELINE/events" >"$WORK/timeline.sse" || true
TIMELINE_SEEN=$(node --input-type=module -e '
  import { readFileSync } from "node:fs";
  const history = readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.startsWith("data: ")).flatMap((l) => JSON.parse(l.slice(6)));
  const ops = new Map(history.filter((m) => m.type === "operation").map((m) => [m.op.id, m.op]));
  const placement = history.filter((m) => m.type === "placement").pop();
  const moves = [...ops.values()].filter((o) => o.kind === "move");
  if (moves.length < Number(process.argv[2]) || [...ops.values()].some((o) => o.phase !== "Succeeded") || placement?.instances.length !== 2) process.exit(1);
  console.log(`${ops.size} operations (${moves.length} moves), all Succeeded, ${placement.instances.length} instances`);
' "$WORK/timeline.sse" "$MOVES_SINCE_RESTART") || fail "the pool's timeline does not show its operations: $(head -c 400 "$WORK/timeline.sse")"
pass "the pool's live timeline (stream behind the token) shows $TIMELINE_SEEN"

# --- the lease lost: the operator exits, its pool's processes do not ---------------------
remember_data_plane
k patch lease openmb-operator --type merge -p '{"spec":{"holderIdentity":"e2e-another-replica"}}' >/dev/null || fail "kubectl patch the lease"
LEADER_PID=$OPERATOR_PID
OPERATOR_PID=""
leader_gone() { ! kill -0 "$LEADER_PID" 2>/dev/null; }
wait_until 60 "the operator gives up the lease another replica took" leader_gone
grep -q '"msg":"lost the lease"' "$WORK/operator.log" || fail "the operator exited without losing the lease"
still_running "lease taken by another holder, the operator exited"
k delete lease openmb-operator >/dev/null || fail "kubectl delete the lease"
restart_adopts 2 operator-2.log

# --- a user's StateOperation: move one server's flows to another instance ---------------
SERVER=$(node "$ROOT/e2e/operator/compare.mjs" --busiest-server "$WORK/outputs.json") || fail "no server in the outputs"
read -r FROM TO <<<"$(pool_field '{.status.instances[0].name} {.status.instances[1].name}')"
k apply -f - >/dev/null <<EOF || fail "kubectl apply a StateOperation"
apiVersion: openmb.io/v1alpha1
kind: StateOperation
metadata:
  name: migrate-server
spec:
  pool: $POOL
  kind: move
  from: [$FROM]
  to: $TO
  filter: {nwDst: $SERVER, bidirectional: true}
EOF
sop_phase() { [[ $(k get sop migrate-server -o jsonpath='{.status.phase}') =~ ^(Succeeded|Failed)$ ]]; }
wait_until "$TIMEOUT" "the user's StateOperation finishes" sop_phase
[[ $(k get sop migrate-server -o jsonpath='{.status.phase}') == Succeeded ]] ||
  fail "user move: $(k get sop migrate-server -o jsonpath='{.status.message}')"
[[ $(k get sop migrate-server -o jsonpath='{.metadata.ownerReferences[0].name}') == "$POOL" ]] || fail "the pool did not adopt the user's StateOperation"
pass "user StateOperation moved server $SERVER's flows $FROM -> $TO: $(k get sop migrate-server -o jsonpath='{.status.progress.flowsDone} flows, {.status.progress.bytes} bytes; {.status.message}')"
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs-after-move.json" || fail "GET outputs after the move"
same_outputs "$WORK/outputs-after-move.json" "after the user's move" >/dev/null
pass "outputs still equal the unscaled run's after the user's move"

log "kubectl get mbp,sop -n $NS"
k get mbp,sop -o wide | sed 's/^/    /'

# --- delete: the finalizer drains the pool, its children are collected --------------------
k delete mbp "$POOL" --timeout="${TIMEOUT}s" >/dev/null || fail "kubectl delete mbp/$POOL"
k get mbp "$POOL" >/dev/null 2>&1 && fail "the pool is still there"
DRAINED=$(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=Drained -o jsonpath='{.items[0].message}')
[[ -n $DRAINED ]] || fail "no Drained event: the finalizer did not run"
pass "pool deleted after the finalizer drained it: $DRAINED"
no_ops() { [[ -z $(k get sop -o name 2>/dev/null) ]]; }
wait_until 90 "the pool's StateOperations are garbage-collected" no_ops
pass "its StateOperations were garbage-collected (ownerReferences)"
if pgrep -f -- "--pool $NS/$POOL( |\$)" >/dev/null; then fail "instance processes of the pool are still running: $(pgrep -af -- "--pool $NS/$POOL")"; fi
[[ -e $SWITCH ]] && fail "the pool's switch socket is still there"
pass "every process of the pool stopped"
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs-drained.json" || fail "GET the drained outputs"
same_outputs "$WORK/outputs-drained.json" "drained" >/dev/null
pass "the drained state (everything merged into one instance before deletion) equals the unscaled run's outputs"

log "PASS: operator e2e"
