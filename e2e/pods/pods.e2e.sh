#!/usr/bin/env bash
# pods.e2e.sh - the operator with the Pod runtime, on a real node.
#
# Usage: e2e/pods/pods.e2e.sh
#
# Without $KUBECONFIG: starts a control plane (e2e/controlplane/up.sh) and a real node
# (e2e/node/up.sh: containerd, runc, bridge CNI, kubelet, kube-scheduler) in a temporary
# directory, builds the openmb image without Docker (e2e/image/build.sh) and imports it into the
# node, and tears it all down on exit (as root). With $KUBECONFIG (any cluster, e.g. kind with
# the image loaded by `kind load docker-image openmb:dev`): set CONTROLLER_HOST to an address of
# this machine that Pods reach, and this machine must reach Pod IPs (true for kind on Linux).
#
# Then: applies manifests/crds/, starts `openmb operator --runtime pod` on this machine with the MB
# controller at CONTROLLER_HOST, runs the capture through one unscaled instance (`openmb local`)
# as the reference, applies a monitor pool, replays the capture from this machine into the
# switch Pod while `kubectl scale` takes the pool 1 -> 3 -> 2, and at each step checks that
# `kubectl get pods -l openmb.io/pool=monitor` lists exactly the pool's instances, Running and
# Ready, owned by the pool (printing `kubectl get pods -o wide`), and that the scale-down deleted
# the Pod whose state was merged away; compares the outputs with the reference; restarts the
# operator (the Pods keep running and the new operator adopts them, outputs unchanged); deletes
# one instance Pod while traffic flows (Degraded, InstanceLost event, lost flows in status, back
# to Ready with a new Pod); and deletes the pool: drained, its Pods and StateOperations collected.
#
# Env:
#   TRACE            capture to replay (default: the bundled data/traces/tryzeek_sumstat.pcap)
#   RATE             replay rate in packets/s (default 250: the scaling happens under traffic)
#   TIMEOUT          seconds to wait for each convergence (default 180)
#   IMAGE            image of the Pods (default openmb:dev)
#   CONTROLLER_HOST  where Pods reach the operator (default: the node's address)
#   KEEP             1: keep the work directory (logs) even when the suite passes
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRACE="${TRACE:-$ROOT/data/traces/tryzeek_sumstat.pcap}"
RATE="${RATE:-250}"
TIMEOUT="${TIMEOUT:-180}"
IMAGE="${IMAGE:-openmb:dev}"
POOL=monitor
NS="openmb-pods-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-pods-e2e.XXXXXX")"
OPENMB=(node "$ROOT/bin/openmb.js")
CP_DIR=""
NODE_RUN=""
OPERATOR_PID=""
REPLAY_PID=""
# shellcheck source=e2e/lib/suite.sh
source "$ROOT/e2e/lib/suite.sh"

cleanup() {
  local rc=$?
  set +e
  end_suite "$rc"
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

# --- a cluster with a node, and the image ----------------------------------------------------
start_cluster_with_node
CONTROLLER_HOST="${CONTROLLER_HOST:-${NODE_IP:-}}"
[[ -n ${CONTROLLER_HOST:-} ]] || fail "set CONTROLLER_HOST to an address of this machine that Pods reach"
kubectl get --raw /readyz >/dev/null 2>&1 || fail "the API server does not answer"
kubectl get nodes -o wide | sed 's/^/    /'

kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null ||
  fail "CRDs not established"
kubectl create namespace "$NS" >/dev/null
pass "kubectl apply -f manifests/crds/; namespace $NS"

# --- the operator, on this machine; its MB controller where the Pods reach it ---------------
port_free() { ! (exec 3<>"/dev/tcp/$CONTROLLER_HOST/$1") 2>/dev/null; }
CONTROLLER_PORT=$((20000 + RANDOM % 12000))
until port_free "$CONTROLLER_PORT"; do CONTROLLER_PORT=$((20000 + RANDOM % 12000)); done
head -c 24 /dev/urandom | base64 >"$WORK/secret"
start_operator() {
  "${OPENMB[@]}" operator --runtime pod --controller-listen "$CONTROLLER_HOST:$CONTROLLER_PORT" \
    --controller-address "$CONTROLLER_HOST:$CONTROLLER_PORT" --image "$IMAGE" \
    --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" \
    --namespace "$NS" --leader-elect --lease-namespace "$NS" >"$WORK/operator.log" 2>&1 &
  OPERATOR_PID=$!
  wait_until 60 "operator started" has_http
  HTTP="http://$(http_address)"
}
http_address() { sed -n 's/^http \(.*\)$/\1/p' "$WORK/operator.log" | head -n 1; }
has_http() { [[ -n $(http_address) ]]; }
start_operator
pass "operator running (pid $OPERATOR_PID, Pod runtime, controller at $CONTROLLER_HOST:$CONTROLLER_PORT, $HTTP)"

"${OPENMB[@]}" local --middlebox monitor --trace "$TRACE" --out "$WORK/reference" --rate 2000 >"$WORK/reference.log" 2>&1 ||
  fail "unscaled reference run (see $WORK/reference.log)"
pass "unscaled reference: $(head -n 1 "$WORK/reference.log")"

# --- checks on the pool's Pods ---------------------------------------------------------------
show_pods() {
  log "kubectl get pods -o wide -n $NS"
  k get pods -o wide | sed 's/^/    /'
}
# check_pods N: exactly the pool's N instances as Pods, Running and Ready, owned by the pool.
check_pods() {
  local n=$1 uid want got
  uid=$(pool_field '{.metadata.uid}')
  want=$(pool_field '{range .status.instances[*]}{.name}{"\n"}{end}' | sort)
  k get pods -l "openmb.io/pool=$POOL" -o json >"$WORK/pods.json"
  got=$(node -e '
    const pods = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).items;
    const bad = [];
    for (const p of pods) {
      const ready = (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
      const owner = (p.metadata.ownerReferences ?? []).find((r) => r.controller);
      if (p.status.phase !== "Running" || !ready) bad.push(`${p.metadata.name}: ${p.status.phase}, ready ${ready}`);
      if (!owner || owner.kind !== "MiddleboxPool" || owner.uid !== process.argv[2]) bad.push(`${p.metadata.name}: not owned by the pool`);
      if (!p.status.podIP) bad.push(`${p.metadata.name}: no Pod IP`);
    }
    if (bad.length) { console.error(bad.join("; ")); process.exit(1); }
    console.log(pods.map((p) => p.metadata.name).sort().join("\n"));
  ' "$WORK/pods.json" "$uid" 2>"$WORK/pods.err") || return 1
  [[ $(wc -l <<<"$want") == "$n" && $got == "$want" ]]
}
pods_match() {
  wait_until 60 "the pool's Pods are its $1 instances, Running and Ready" check_pods "$1"
  show_pods
  pass "kubectl get pods -l openmb.io/pool=$POOL: exactly $1 instance Pods ($(tr '\n' ' ' <<<"$(pool_field '{range .status.instances[*]}{.name}{"\n"}{end}')")), Running, Ready, owned by the pool"
}
instances() { pool_field '{range .status.instances[*]}{.name}{"\n"}{end}' | sort; }

# --- the pool ------------------------------------------------------------------------------
k apply -f - >/dev/null <<EOF || fail "kubectl apply the pool"
apiVersion: openmb.io/v1alpha1
kind: MiddleboxPool
metadata:
  name: $POOL
spec:
  middlebox: {type: monitor}
  replicas: 1
  partitioning: {key: flow, buckets: 64}
  migration: {guarantee: loss-free}
  template:
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 512Mi}}
EOF
check_scaled 1
pods_match 1
SWITCH=$(pool_field '{.status.switch.address}')
SWITCH_POD=$(pool_field '{.status.switch.pod}')
[[ $SWITCH == *:* && -n $SWITCH_POD ]] || fail "status.switch does not name the switch Pod's address ($SWITCH, $SWITCH_POD)"
[[ $(k get pod "$SWITCH_POD" -o jsonpath='{.status.podIP}'):7000 == "$SWITCH" ]] || fail "status.switch.address is not the switch Pod's IP"
[[ $(k get pod "$SWITCH_POD" -o jsonpath='{.metadata.ownerReferences[0].name}') == "$POOL" ]] || fail "the switch Pod is not owned by the pool"
[[ $(pool_field '{.status.selector}') == "openmb.io/pool=$POOL,openmb.io/role=instance" ]] || fail "status.selector: $(pool_field '{.status.selector}')"
pass "switch Pod $SWITCH_POD at $SWITCH; selector $(pool_field '{.status.selector}')"

# Traffic reaches the switch Pod over mutual TLS, with the certificate the operator put in the pool's namespace.
fetch_tls "$NS" "$WORK/tls"
plain_refused() {
  ! OPENMB_SECRET="$(cat "$WORK/secret")" timeout 20 "${OPENMB[@]}" replay --trace "$TRACE" --switch "$SWITCH" >"$WORK/plain.out" 2>&1
}
plain_refused || fail "a replay without TLS was let into the switch Pod"
pass "the switch Pod refuses a source without TLS ($(tail -n 1 "$WORK/plain.out" | cut -c1-120))"
replay() {
  OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$TRACE" --switch "$SWITCH" --tls-dir "$WORK/tls" --rate "$1" \
    >"$WORK/replay.out" 2>"$WORK/replay.log" &
  REPLAY_PID=$!
  log "replaying $(basename "$TRACE") at $1 packets/s from this machine into the switch Pod"
}
replay "$RATE"
sleep 2

k scale mbp/"$POOL" --replicas=3 >/dev/null || fail "kubectl scale --replicas=3"
log "kubectl scale mbp/$POOL --replicas=3"
check_scaled 3
pods_match 3
[[ -z $(failed_ops) ]] || fail "failed operations: $(failed_ops)"
AT3=$(instances)
# Moves go direct between instance Pods (each listens for its peers on its Pod IP), the default transfer.
MOVES=$(k get sop -o jsonpath='{range .items[?(@.spec.kind=="move")]}{.status.progress.transfer}{"\n"}{end}' | sort | uniq -c | xargs)
[[ $MOVES =~ ^[0-9]+\ direct$ ]] || fail "the scale-out's moves should have gone direct between instance Pods: $MOVES"
pass "the scale-out's moves went direct, Pod to Pod ($MOVES)"

k scale mbp/"$POOL" --replicas=2 >/dev/null || fail "kubectl scale --replicas=2"
log "kubectl scale mbp/$POOL --replicas=2"
check_scaled 2
pods_match 2
GONE=$(comm -23 <(echo "$AT3") <(instances))
[[ $(wc -w <<<"$GONE") == 1 ]] || fail "the scale-down should remove one instance, removed: $GONE"
k get pod "$GONE" >/dev/null 2>&1 && fail "the Pod of $GONE, merged away, still exists"
k get sop -o jsonpath='{range .items[?(@.spec.kind=="merge")]}{.spec.from[0]}{"\n"}{end}' | grep -qx "$GONE" ||
  fail "no merge StateOperation took $GONE's state before its Pod was deleted"
pass "the scale-down merged $GONE's state away, then deleted its Pod"
TRAFFIC_DURING_SCALE=0
kill -0 "$REPLAY_PID" 2>/dev/null && TRAFFIC_DURING_SCALE=1
finish_replay
((TRAFFIC_DURING_SCALE)) && when="both scalings happened while traffic flowed" || when="the replay ended before the scale to 2 converged"
pass "replay done: $(cat "$WORK/replay.out") ($when)"

check_operations
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs.json" || fail "GET /pools/$NS/$POOL/outputs"
same_outputs "$WORK/outputs.json" "scaled 1 -> 3 -> 2 on Pods"
pass "outputs of the pool scaled 1 -> 3 -> 2 on Pods equal the unscaled run's"

# --- the operator restarts: the Pods keep running and the new operator adopts them ------------------
pod_uids() { k get pods -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
BEFORE=$(pod_uids)
kill "$OPERATOR_PID"
wait "$OPERATOR_PID" || true
mv "$WORK/operator.log" "$WORK/operator-1.log"
[[ $(pod_uids) == "$BEFORE" ]] || fail "the pool's Pods changed when the operator stopped"
start_operator
pass "operator restarted (pid $OPERATOR_PID) while the pool's Pods kept running"
adopted() { grep -q 'adopted the instance Pods' "$WORK/operator.log"; }
wait_until 60 "the new operator adopts the instance Pods" adopted
check_scaled 2
[[ $(pod_uids) == "$BEFORE" ]] || fail "the new operator replaced Pods instead of adopting them: $(pod_uids)"
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs-adopted.json" || fail "GET outputs after the restart"
same_outputs "$WORK/outputs-adopted.json" "after the operator restarted" >/dev/null
pass "the new operator adopted the same Pods (switch and instances, same UIDs); the outputs still equal the unscaled run's"

# --- an instance Pod deleted under traffic: failover, then a new Pod ------------------------------
VICTIM=$(instances | head -n 1)
VICTIM_UID=$(k get pod "$VICTIM" -o jsonpath='{.metadata.uid}')
replay 500
sleep 2
k delete pod "$VICTIM" --wait=false >/dev/null || fail "kubectl delete pod $VICTIM"
log "kubectl delete pod $VICTIM (under traffic)"
degraded_seen=0
for _ in $(seq 300); do
  if [[ $(pool_field '{.status.conditions[?(@.type=="Degraded")].status}') == True ]]; then degraded_seen=1; break; fi
  sleep 0.1
done
((degraded_seen)) || fail "the pool never showed Degraded=True after $VICTIM's Pod was deleted"
pass "Degraded=True: $(pool_field '{.status.conditions[?(@.type=="Degraded")].reason}: {.status.conditions[?(@.type=="Degraded")].message}')"
lost_event() { [[ -n $(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=InstanceLost -o name) ]]; }
wait_until 60 "an InstanceLost event on the pool" lost_event
pass "event: $(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=InstanceLost -o jsonpath='{.items[0].message}')"
check_scaled 2
pods_match 2
# The replacement may take the dead instance's name; it is a new Pod all the same.
[[ $(k get pods -l "openmb.io/pool=$POOL" -o jsonpath='{range .items[*]}{.metadata.uid}{"\n"}{end}') != *"$VICTIM_UID"* ]] ||
  fail "the deleted Pod $VICTIM ($VICTIM_UID) is still there"
LOST=$(pool_field '{.status.lostFlows}')
[[ $LOST =~ ^[0-9]+$ ]] && ((LOST > 0)) || fail "status.lostFlows should count the dead instance's flows, is '$LOST'"
[[ $(pool_field '{.status.conditions[?(@.type=="Degraded")].status}') == False ]] || fail "still Degraded after the replacement"
pass "back to Ready with a new Pod in place of $VICTIM ($(tr '\n' ' ' <<<"$(instances)")); status.lostFlows $LOST"
finish_replay

log "kubectl get mbp,sop -n $NS"
k get mbp,sop -o wide | sed 's/^/    /'

# --- delete: drained, its Pods and StateOperations collected ---------------------------------------
k delete mbp "$POOL" --timeout="${TIMEOUT}s" >/dev/null || fail "kubectl delete mbp/$POOL"
DRAINED=$(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=Drained -o jsonpath='{.items[0].message}')
[[ -n $DRAINED ]] || fail "no Drained event: the finalizer did not run"
pass "pool deleted after the finalizer drained it: $DRAINED"
no_pods() { [[ -z $(k get pods -o name 2>/dev/null) ]]; }
wait_until 90 "the pool's Pods are gone" no_pods
no_ops() { [[ -z $(k get sop -o name 2>/dev/null) ]]; }
wait_until 90 "the pool's StateOperations are garbage-collected" no_ops
pass "its instance Pods, switch Pod and StateOperations are gone"
show_pods

log "PASS: Pod runtime e2e"
