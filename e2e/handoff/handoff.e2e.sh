#!/usr/bin/env bash
# handoff.e2e.sh - two operator replicas against a real Kubernetes API server, the leader
# SIGKILLed in the middle of a move.
#
# Usage: e2e/handoff/handoff.e2e.sh
#
# Uses $KUBECONFIG if set; otherwise starts a control plane (e2e/controlplane/up.sh) in a
# temporary directory and stops it on exit. Starts two `openmb operator --runtime process
# --leader-elect` on the same --state-dir (the standby adopts the pool's data plane) with short
# lease timings; the standby must answer /healthz and /readyz while it does not lead. A monitor
# pool takes the trace at a steady rate; while `kubectl scale` takes it 1 -> 4, the leader is
# SIGKILLed the moment one of the moves is Running with status.journal.step = copy (the switch
# holds its flows). Then: the standby leads within the lease duration (plus two retry periods and
# 1 s of API round trips: the granularity at which it sees the lease), the interrupted move ends
# Succeeded (or Failed, "rolled back", if its hold lapsed) with an OperationResumed event, the
# pool is Ready at its generation with 4 replicas and nothing is left Running; the switch's
# forwarding never stalled for as long as the lease; every packet sent was forwarded, processed
# once (the instances' counters sum to it) and none dropped; the pool's outputs equal an
# unscaled run's.
# Prints PASS/FAIL per step and the measured takeover and stall; exits non-zero on the first failure.
#
# Env:
#   TRACE     capture to replay (default: the bundled data/traces/tryzeek_sumstat.pcap)
#   RATE      replay rate in packets/s (default 100: about 45 s of traffic around the handoff)
#   STEP      the move's journal step at which the leader is killed (default copy)
#   LEASE     the leader Lease's duration in seconds (default 8; above the hold's 30 s lease, the
#             interrupted move's hold lapses before the standby leads, and the move is rolled back)
#   TIMEOUT   seconds to wait for each convergence (default 120)
#   KEEP      1: keep the work directory (logs) even when the suite passes
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRACE="${TRACE:-$ROOT/data/traces/tryzeek_sumstat.pcap}"
RATE="${RATE:-100}"
STEP="${STEP:-copy}"
TIMEOUT="${TIMEOUT:-120}"
POOL=monitor
REPLICAS=4
NS="openmb-e2e-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-handoff-e2e.XXXXXX")"
OPENMB=(node "$ROOT/bin/openmb.js")
# Short lease timings keep the suite quick; the renew deadline leaves a loaded machine's API
# calls a few retries before a live leader gives up.
LEASE_S="${LEASE:-8}"
RENEW_S=6
RETRY_S=0.5
# shellcheck source=e2e/lib/suite.sh
source "$ROOT/e2e/lib/suite.sh"
CP_DIR=""
OPERATOR_PID=""
REPLAY_PID=""
LEADER_PID=""
STANDBY_PID=""
WATCH_PID=""
KILLER_PID=""

cleanup() {
  local rc=$?
  set +e
  for pid in $KILLER_PID $WATCH_PID; do kill "$pid" 2>/dev/null; done
  if ((rc != 0 || FAILED)); then
    for f in "$WORK"/operator-*.log; do log "--- last lines of $f"; tail -n 25 "$f"; done
  fi
  # end_suite stops OPERATOR_PID (the one that leads, once it does); the other goes here.
  for pid in $LEADER_PID $STANDBY_PID; do
    [[ $pid == "${OPERATOR_PID:-}" ]] || kill -9 "$pid" 2>/dev/null
  done
  end_suite "$rc"
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

# --- a cluster and the build -----------------------------------------------------
start_control_plane
kubectl get --raw /readyz >/dev/null 2>&1 || fail "the API server does not answer"
kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null ||
  fail "CRDs not established"
kubectl create namespace "$NS" >/dev/null
pass "API server $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}'), CRDs established, namespace $NS"

# --- two replicas on one state directory -------------------------------------------------
head -c 24 /dev/urandom | base64 >"$WORK/secret"
start_replica() {
  "${OPENMB[@]}" operator --runtime process --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" \
    --namespace "$NS" --leader-elect --lease-namespace "$NS" \
    --lease-duration "$LEASE_S" --renew-deadline "$RENEW_S" --retry-period "$RETRY_S" >"$WORK/operator-$1.log" 2>&1 &
}
# The address a replica serves on (logged before it waits for the lease).
http_of() { sed -n 's/.*"http":"\([^"]*\)".*"msg":"serving \/healthz.*/\1/p' "$WORK/operator-$1.log" 2>/dev/null | head -n 1; }
serves() { [[ -n $(http_of "$1") ]]; }
leads() { grep -q '"msg":"became the leader"' "$WORK/operator-$1.log"; }
# lead_time_ms NAME: when (epoch ms, the replica's own log) it became the leader.
lead_time_ms() { grep '"msg":"became the leader"' "$WORK/operator-$1.log" | head -n 1 | sed -n 's/.*"time":\([0-9]*\).*/\1/p'; }
leader_metric() { curl -sf "http://$(http_of "$1")/metrics" | sed -n 's/^openmb_leader \([0-9]*\)$/\1/p'; }

start_replica a
LEADER_PID=$!
OPERATOR_PID=$LEADER_PID
wait_until 60 "replica a serves" serves a
wait_until 60 "replica a leads" leads a
start_replica b
STANDBY_PID=$!
standby_serves() { kill -0 "$STANDBY_PID" 2>/dev/null || fail "replica b exited: $(tail -n 5 "$WORK/operator-b.log")"; serves b; }
wait_until 60 "replica b serves" standby_serves
STANDBY_HTTP="http://$(http_of b)"
sleep $((LEASE_S + 2))
leads b && fail "replica b took the lease while replica a renewed it"
for probe in healthz readyz; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$STANDBY_HTTP/$probe")
  [[ $code == 200 ]] || fail "the standby's /$probe answered $code"
done
[[ $(leader_metric b) == 0 && $(leader_metric a) == 1 ]] || fail "openmb_leader: replica a $(leader_metric a), replica b $(leader_metric b)"
pass "replica a (pid $LEADER_PID, http://$(http_of a)) leads lease $NS/openmb-operator (${LEASE_S} s, renew deadline ${RENEW_S} s, retry ${RETRY_S} s); replica b (pid $STANDBY_PID, $STANDBY_HTTP) waits: /healthz 200, /readyz 200, openmb_leader 0 after $((LEASE_S + 2)) s"

# --- the reference: the same trace through one unscaled instance ------------------------
"${OPENMB[@]}" local --middlebox monitor --trace "$TRACE" --out "$WORK/reference" --rate 2000 >"$WORK/reference.log" 2>&1 ||
  fail "unscaled reference run (see $WORK/reference.log)"
pass "unscaled reference: $(head -n 1 "$WORK/reference.log")"

# --- the pool, under traffic -------------------------------------------------------------
k apply -f - >/dev/null <<EOF || fail "kubectl apply the pool"
apiVersion: openmb.io/v1alpha1
kind: MiddleboxPool
metadata:
  name: $POOL
spec:
  middlebox:
    type: monitor
  replicas: 1
  partitioning:
    key: flow
    buckets: 64
  migration:
    guarantee: loss-free
EOF
# settled: Ready=True at the generation and no StateOperation Pending or Running.
settled() {
  local gen phases
  gen=$(pool_field '{.metadata.generation}')
  [[ -n $gen && $(pool_field '{.status.conditions[?(@.type=="Ready")].status}') == True ]] || return 1
  [[ $(pool_field '{.status.conditions[?(@.type=="Ready")].observedGeneration}') == "$gen" && $(pool_field '{.status.observedGeneration}') == "$gen" ]] || return 1
  phases=$(k get sop -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}') || return 1
  ! grep -q -v -e '^Succeeded$' -e '^Failed$' -e '^$' <<<"$phases"
}
wait_until "$TIMEOUT" "pool Ready at 1 replica" settled
SWITCH=$(pool_field '{.status.switch.address}')
[[ -S $SWITCH ]] || fail "the pool's switch socket ($SWITCH) is not there"
pass "pool $POOL Ready at 1 replica, switch $SWITCH"

OPENMB_SECRET="$(cat "$WORK/secret")" node "$ROOT/e2e/handoff/watch-switch.mjs" "$SWITCH" >"$WORK/watch.out" 2>"$WORK/watch.log" &
WATCH_PID=$!
sampling() { grep -qs '^sampling$' "$WORK/watch.out"; }
wait_until 30 "the switch watch samples" sampling
OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$TRACE" --switch "$SWITCH" --rate "$RATE" \
  >"$WORK/replay.out" 2>"$WORK/replay.log" &
REPLAY_PID=$!
log "replaying $(basename "$TRACE") at $RATE packets/s into the pool"
flows_held() { (($(pool_field '{.status.instances[0].flows}') >= 100)) 2>/dev/null; }
poke() { k annotate mbp "$POOL" --overwrite "e2e/poke=$SECONDS" >/dev/null; }
# The pool's status counts flows when it is written: an annotation has it reconciled again.
until flows_held; do
  ((SECONDS < TIMEOUT)) || fail "the pool's instance holds 100 flows (it holds $(pool_field '{.status.instances[0].flows}'))"
  poke
  sleep 1
done
pass "the instance holds $(pool_field '{.status.instances[0].flows}') flows"

# --- the leader SIGKILLed in the middle of a move ------------------------------------------
node "$ROOT/e2e/handoff/kill-mid-move.mjs" "$NS" "$POOL" "$LEADER_PID" "$STEP" "$TIMEOUT" >"$WORK/kill.out" 2>"$WORK/kill.log" &
KILLER_PID=$!
watching() { grep -qs '^watching$' "$WORK/kill.out"; }
wait_until 30 "the StateOperation watch opens" watching
k scale mbp/"$POOL" --replicas="$REPLICAS" >/dev/null || fail "kubectl scale --replicas=$REPLICAS"
log "kubectl scale mbp/$POOL --replicas=$REPLICAS"
OPERATOR_PID=""
killer_done() { ! kill -0 "$KILLER_PID" 2>/dev/null; }
wait_until "$TIMEOUT" "a move reaches step $STEP and the leader is killed" killer_done
wait "$KILLER_PID" || fail "no move reached step $STEP: $(cat "$WORK/kill.log")"
KILLER_PID=""
KILL=$(tail -n 1 "$WORK/kill.out")
field() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; console.log(v ?? "")' "$KILL" "$1"; }
OP=$(field op)
KILLED_AT=$(field killedAtMs)
wait "$LEADER_PID" 2>/dev/null || true
kill -0 "$LEADER_PID" 2>/dev/null && fail "replica a survived its SIGKILL"
[[ $(field phaseAfter) == Running && -n $(field stepAfter) ]] || fail "after the kill, $OP is $(field phaseAfter) at step $(field stepAfter): the kill was not mid-move"
pass "replica a SIGKILLed while $OP ($(k get sop "$OP" -o jsonpath='{.spec.from[0]} -> {.spec.to}')) was Running at step $STEP; the journal the standby finds: $(field phaseAfter), step $(field stepAfter)"
kill -0 "$REPLAY_PID" 2>/dev/null || fail "the replay ended before the handoff: nothing to show it kept flowing (lower RATE)"

# --- the standby takes over ------------------------------------------------------------------
OPERATOR_PID=$STANDBY_PID
wait_until $((LEASE_S * 3)) "replica b leads" leads b
TAKEOVER_MS=$(($(lead_time_ms b) - KILLED_AT))
kill -0 "$REPLAY_PID" 2>/dev/null || fail "the replay ended before replica b led: the stall measured would not span the handoff (lower RATE)"
# The standby judges the lease by its own clock: it sees the last renewal at its next poll and
# takes the lease at the first poll a lease duration later, each poll up to a retry period and an
# API round trip late (1 s for the round trips on a loaded machine).
BOUND_MS=$(node -e 'console.log(Math.round((Number(process.argv[1]) + 2 * Number(process.argv[2]) + 1) * 1000))' "$LEASE_S" "$RETRY_S")
((TAKEOVER_MS <= BOUND_MS)) || fail "replica b led ${TAKEOVER_MS} ms after the kill, more than the lease (${LEASE_S} s), twice its retry period and 1 s"
pass "replica b leads ${TAKEOVER_MS} ms after replica a was killed, the replay still sending (lease ${LEASE_S} s; bound ${BOUND_MS} ms: the lease, two retry periods and 1 s of API round trips)"

op_ended() { [[ $(k get sop "$OP" -o jsonpath='{.status.phase}') =~ ^(Succeeded|Failed)$ ]]; }
wait_until "$TIMEOUT" "$OP ends" op_ended
PHASE=$(k get sop "$OP" -o jsonpath='{.status.phase}')
MESSAGE=$(k get sop "$OP" -o jsonpath='{.status.message}')
[[ $PHASE == Succeeded || ($PHASE == Failed && $MESSAGE == "rolled back"*) ]] || fail "$OP ended $PHASE: $MESSAGE"
RESUMED=$(k get events --field-selector involvedObject.kind=StateOperation,involvedObject.name="$OP",reason=OperationResumed -o jsonpath='{.items[*].message}')
[[ -n $RESUMED ]] || fail "no OperationResumed event on $OP"
grep -q '"msg":"adopted the pool'"'"'s running data plane"' "$WORK/operator-b.log" || fail "replica b did not adopt the pool's data plane"
LOST=$(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=InstanceLost -o jsonpath='{.items[*].message}')
[[ -z $LOST ]] || fail "instances lost in the handoff: $LOST"
pass "replica b adopted the data plane (no InstanceLost); $OP ended $PHASE (${MESSAGE:-no message}), progress $(k get sop "$OP" -o jsonpath='{.status.progress.flowsDone}/{.status.progress.flowsTotal}') flows; event: $RESUMED"

wait_until "$TIMEOUT" "pool Ready at $REPLICAS replicas" settled
[[ $(pool_field '{.status.replicas}') == "$REPLICAS" && $(pool_field '{.status.readyReplicas}') == "$REPLICAS" ]] ||
  fail "pool at $REPLICAS replicas: status.replicas=$(pool_field '{.status.replicas}') readyReplicas=$(pool_field '{.status.readyReplicas}')"
OTHERS_FAILED=$(k get sop -o jsonpath='{range .items[?(@.status.phase=="Failed")]}{.metadata.name}: {.status.message}{"\n"}{end}' | grep -v "^$OP: " || true)
[[ -z $OTHERS_FAILED ]] || fail "operations other than $OP failed: $OTHERS_FAILED"
pass "pool Ready at generation $(pool_field '{.metadata.generation}') with $REPLICAS/$REPLICAS ready; no StateOperation Running, none failed but $OP's rollback if any"
show_ops

# --- traffic: it kept flowing, and every packet was processed once --------------------------
finish_replay
SENT=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' "$WORK/replay.out")
pass "replay done: $(cat "$WORK/replay.out")"
processed() { curl -sf "$STANDBY_HTTP/metrics" | awk -v pool="pool=\"$POOL\"" '/^openmb_instance_packets_processed_total\{/ && index($0, pool) { n += $NF } END { print n + 0 }'; }
all_processed() { (($(processed) >= SENT)); }
wait_until 60 "the instances' counters reach the $SENT packets sent" all_processed
PROCESSED=$(processed)
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || fail "the switch watch: $(cat "$WORK/watch.log")"
WATCH_PID=""
TRAFFIC=$(tail -n 1 "$WORK/watch.out")
traffic() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$TRAFFIC" "$1"; }
STALL_MS=$(traffic stallMs)
((STALL_MS < LEASE_S * 1000)) || fail "the switch forwarded nothing for ${STALL_MS} ms while the replay sent, longer than the lease (${LEASE_S} s)"
pass "traffic kept flowing: the switch's forwarded count never stood still more than ${STALL_MS} ms while the replay sent (received: $(traffic receiveStallMs) ms; sampled every $(traffic intervalMs) ms, $(traffic samples) samples); the move's hold kept packets for at most $(traffic heldMs) ms"
[[ $(traffic received) == "$SENT" && $(traffic forwarded) == "$SENT" && $(traffic held) == 0 && $(traffic dropped) == 0 ]] ||
  fail "the switch: received $(traffic received), forwarded $(traffic forwarded), held $(traffic held), dropped $(traffic dropped) of $SENT sent"
((PROCESSED == SENT)) || fail "the instances processed $PROCESSED packets of the $SENT sent"
pass "every packet processed once: sent $SENT = received $SENT = forwarded $SENT = processed $PROCESSED (openmb_instance_packets_processed_total), 0 dropped at the switch"

curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$STANDBY_HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs.json" || fail "GET /pools/$NS/$POOL/outputs"
same_outputs "$WORK/outputs.json" "handed over mid-move"
pass "outputs of the pool handed over mid-move equal the unscaled run's"

log "PASS: handoff e2e (takeover ${TAKEOVER_MS} ms, longest forwarding stall ${STALL_MS} ms)"
