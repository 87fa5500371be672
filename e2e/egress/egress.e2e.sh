#!/usr/bin/env bash
# egress.e2e.sh - where a cluster pool's packets go: a nat pool and an re pool on a real node,
# each with spec.egress naming an `openmb sink` on this machine.
#
# Usage: e2e/egress/egress.e2e.sh
#
# Without $KUBECONFIG: starts a control plane and a real node (as the Pod suite does: containerd,
# runc, bridge CNI, kubelet, scheduler; as root), builds the openmb image without Docker and
# imports it, and tears it all down on exit. With $KUBECONFIG (any cluster whose Pods reach this
# machine at HOST and whose Pod IPs this machine reaches): the cluster and its image are yours.
#
# Then: starts `openmb operator --runtime pod` on this machine; runs each capture through one
# unscaled instance (`openmb local`) as the reference; applies a nat pool whose spec.egress names
# a port where nothing listens yet (status.egress counts the waiting packets, EgressReachable is
# False with the reason, an EgressUnreachable Event is recorded), then starts two sinks on HOST,
# `openmb sink --check nat` and `--check re`, over mutual TLS with the pool namespace's
# certificate (EgressReachable turns True); applies an re pool; replays both captures from this
# machine into the two switch Pods while `kubectl scale` takes both pools 1 -> 3 -> 2; and then
# checks, for each pool, that the sink received every packet the pool emitted (the switch's
# counters in status.egress and in the pool's outputs: sent = delivered = what the sink counted,
# nothing queued or undeliverable), none out of its flow's order (the moves are order-preserving:
# with loss-free ones a destination may process a new packet before the held ones it is given,
# and the egress shows that order), and that the sink's check
# equals the unscaled run's: for the nat no bad checksum the captured packet did not have and no
# external address:port shared by two flows; for the re 0 decode failures.
#
# Env:
#   NAT_TRACE  capture for the nat pool (default data/traces/mercury_emix.pcap: 7133 packets,
#              6 with a UDP checksum already bad on capture)
#   RE_TRACE   capture for the re pool (default data/traces/tryzeek_http.pcap: 4767 packets of web
#              browsing, 197 HTTP requests over many connections, so moves carry flows)
#   RATE       replay rate of each capture in packets/s (default 80: both scalings happen under traffic)
#   TIMEOUT    seconds to wait for each convergence (default 240)
#   IMAGE      image of the Pods (default openmb:dev)
#   HOST       an address of this machine that Pods reach: the operator's controller and the
#              sinks listen there (default: the node's address, 10.250.0.1)
#   KEEP       1: keep the work directory (logs) even when the suite passes
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
NAT_TRACE="${NAT_TRACE:-$ROOT/data/traces/mercury_emix.pcap}"
RE_TRACE="${RE_TRACE:-$ROOT/data/traces/tryzeek_http.pcap}"
RATE="${RATE:-80}"
TIMEOUT="${TIMEOUT:-240}"
IMAGE="${IMAGE:-openmb:dev}"
POOL=nat
NS="openmb-egress-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-egress-e2e.XXXXXX")"
OPENMB=(node "$ROOT/bin/openmb.js")
CP_DIR=""
NODE_RUN=""
OPERATOR_PID=""
REPLAY_PID=""
SINK_PIDS=()
NAT_CONFIG='{"internalPrefixes":["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16"],"externalAddresses":["203.0.113.1"],"portRange":[1024,65535]}'
RE_CONFIG='{"cacheBytes":4194304}'
# shellcheck source=e2e/lib/suite.sh
source "$ROOT/e2e/lib/suite.sh"

cleanup() {
  local rc=$?
  set +e
  [[ -n ${NAT_REPLAY:-} ]] && kill "$NAT_REPLAY" 2>/dev/null
  [[ -n ${RE_REPLAY:-} ]] && kill "$RE_REPLAY" 2>/dev/null
  end_suite "$rc"
  for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

# --- a cluster with a node, the operator on this machine ---------------------------------------
start_cluster_with_node
HOST="${HOST:-${NODE_IP:-}}"
[[ -n $HOST ]] || fail "set HOST to an address of this machine that Pods reach"
kubectl get --raw /readyz >/dev/null 2>&1 || fail "the API server does not answer"
kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null ||
  fail "CRDs not established"
kubectl create namespace "$NS" >/dev/null
pass "kubectl apply -f manifests/crds/; namespace $NS"

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
free_port() {
  local p=$((20000 + RANDOM % 12000))
  until port_free "$p"; do p=$((20000 + RANDOM % 12000)); done
  echo "$p"
}
CONTROLLER_PORT=$(free_port)
head -c 24 /dev/urandom | base64 >"$WORK/secret"
"${OPENMB[@]}" operator --runtime pod --controller-listen "$HOST:$CONTROLLER_PORT" --controller-address "$HOST:$CONTROLLER_PORT" \
  --image "$IMAGE" --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" \
  --namespace "$NS" --leader-elect --lease-namespace "$NS" >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
http_address() { sed -n 's/^http \(.*\)$/\1/p' "$WORK/operator.log" | head -n 1; }
has_http() { [[ -n $(http_address) ]]; }
wait_until 60 "operator started" has_http
HTTP="http://$(http_address)"
pass "operator running (pid $OPERATOR_PID, Pod runtime, controller at $HOST:$CONTROLLER_PORT)"

"${OPENMB[@]}" local --middlebox nat --trace "$NAT_TRACE" --config "$NAT_CONFIG" --out "$WORK/ref-nat" --rate 3000 >"$WORK/ref-nat.log" 2>&1 ||
  fail "unscaled nat reference run (see $WORK/ref-nat.log)"
"${OPENMB[@]}" local --middlebox re --trace "$RE_TRACE" --config "$RE_CONFIG" --out "$WORK/ref-re" --rate 3000 >"$WORK/ref-re.log" 2>&1 ||
  fail "unscaled re reference run (see $WORK/ref-re.log)"
pass "unscaled references: $(head -n 1 "$WORK/ref-nat.log"); $(head -n 1 "$WORK/ref-re.log")"

# --- the pools -------------------------------------------------------------------------------
NAT_SINK_PORT=$(free_port)
RE_SINK_PORT=$(free_port)
while [[ $RE_SINK_PORT == "$NAT_SINK_PORT" ]]; do RE_SINK_PORT=$(free_port); done
apply_pool() { # NAME TYPE CONFIG EGRESS
  k apply -f - >/dev/null <<EOF || fail "kubectl apply the $1 pool"
apiVersion: openmb.io/v1alpha1
kind: MiddleboxPool
metadata:
  name: $1
spec:
  middlebox: {type: $2, config: $3}
  replicas: 1
  partitioning: {key: flow, buckets: 64}
  migration: {guarantee: order-preserving}
  egress: {address: "$4"}
  template:
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 512Mi}}
EOF
}
field() { k get mbp "$1" -o jsonpath="$2" 2>/dev/null; }
egress_condition() { field "$1" '{.status.conditions[?(@.type=="EgressReachable")].status}'; }

# scaled POOL N: the pool converges at N replicas. status.replicas is waited for too: once, right
# after `kubectl scale` of both pools, a pool read as converged with the old replicas.
scaled() {
  log "$1: waiting for $2 replicas"
  at_replicas() { converged && [[ $(pool_field '{.status.replicas}') == "$1" ]]; }
  POOL=$1 wait_until "$TIMEOUT" "$1 converges at $2 replicas" at_replicas "$2"
  POOL=$1 check_scaled "$2"
}
apply_pool nat nat "$NAT_CONFIG" "$HOST:$NAT_SINK_PORT"
scaled nat 1
unreachable() { [[ $(egress_condition nat) == False ]]; }
wait_until 60 "EgressReachable=False while no sink listens" unreachable
pass "no sink yet: EgressReachable=False ($(field nat '{.status.conditions[?(@.type=="EgressReachable")].reason}: {.status.conditions[?(@.type=="EgressReachable")].message}'))"
unreachable_event() { [[ -n $(k get events --field-selector involvedObject.name=nat,reason=EgressUnreachable -o name) ]]; }
wait_until 30 "an EgressUnreachable event on the pool" unreachable_event
pass "event EgressUnreachable: $(k get events --field-selector involvedObject.name=nat,reason=EgressUnreachable -o jsonpath='{.items[0].message}')"

# --- the sinks, on this machine, over mutual TLS with the pool namespace's certificate ---------
fetch_tls "$NS" "$WORK/tls"
start_sink() { # TYPE PORT CONFIG
  OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" sink --listen "$HOST:$2" --tls-dir "$WORK/tls" --check "$1" --config "$3" \
    --http 127.0.0.1:0 --print-every 10 >"$WORK/sink-$1.out" 2>"$WORK/sink-$1.log" &
  SINK_PIDS+=($!)
  sink_up() { [[ -s $WORK/sink-$1.out ]]; }
  wait_until 30 "openmb sink --check $1 listening" sink_up "$1"
}
start_sink nat "$NAT_SINK_PORT" "$NAT_CONFIG"
start_sink re "$RE_SINK_PORT" "$RE_CONFIG"
sink_http() { head -n 1 "$WORK/sink-$1.out" | node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).http))'; }
NAT_SINK_HTTP=$(sink_http nat)
RE_SINK_HTTP=$(sink_http re)
pass "sinks listening at $HOST:$NAT_SINK_PORT (--check nat, counters at $NAT_SINK_HTTP) and $HOST:$RE_SINK_PORT (--check re, $RE_SINK_HTTP)"
reachable() { [[ $(egress_condition "$1") == True ]]; }
wait_until 60 "EgressReachable=True once the nat sink listens" reachable nat
pass "EgressReachable=True: $(field nat '{.status.conditions[?(@.type=="EgressReachable")].message}')"

apply_pool re re "$RE_CONFIG" "$HOST:$RE_SINK_PORT"
scaled re 1
wait_until 60 "the re pool's EgressReachable=True" reachable re

# --- traffic from this machine into both switch Pods while both pools scale 1 -> 3 -> 2 ----------
replay() { # POOL TRACE
  local sw
  sw=$(field "$1" '{.status.switch.address}')
  OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$2" --switch "$sw" --tls-dir "$WORK/tls" --rate "$RATE" \
    >"$WORK/replay-$1.out" 2>"$WORK/replay-$1.log" &
  log "replaying $(basename "$2") at $RATE packets/s into $1's switch Pod ($sw)"
}
replay nat "$NAT_TRACE"
NAT_REPLAY=$!
replay re "$RE_TRACE"
RE_REPLAY=$!
# Scale once each pool's instance holds some flows (its status, sampled every few seconds), so the
# moves have flows to carry: the first seconds of a capture may open few, all in buckets that stay.
holds_flows() {
  local a b
  a=$(field nat '{.status.instances[0].flows}')
  b=$(field re '{.status.instances[0].flows}')
  ((${a:-0} >= 20 && ${b:-0} >= 20))
}
wait_until 60 "both pools hold 20 flows" holds_flows
for n in 3 2; do
  k scale mbp/nat mbp/re --replicas="$n" >/dev/null || fail "kubectl scale --replicas=$n"
  log "kubectl scale mbp/nat mbp/re --replicas=$n"
  scaled nat "$n"
  scaled re "$n"
done
during=0
kill -0 "$NAT_REPLAY" 2>/dev/null && kill -0 "$RE_REPLAY" 2>/dev/null && during=1
for p in "$NAT_REPLAY" "$RE_REPLAY"; do
  REPLAY_PID=$p
  finish_replay
done
NAT_REPLAY=""
RE_REPLAY=""
((during)) && when="both scalings of both pools happened while traffic flowed" || when="a replay ended before the scale to 2 converged"
pass "replays done: nat $(cat "$WORK/replay-nat.out"), re $(cat "$WORK/replay-re.out") ($when)"

# Every StateOperation Succeeded with final progress, each pool had moves, clones and merges, and
# some move of each pool carried flows (a single move may find none in its buckets at that moment).
k get sop -o json >"$WORK/ops.json"
node -e '
  const ops = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).items;
  const bad = [];
  const per = {};
  for (const o of ops) {
    const s = o.status ?? {}, p = s.progress ?? {};
    const k = (per[o.spec.pool] ??= { move: 0, clone: 0, merge: 0, flows: 0 });
    k[o.spec.kind]++;
    if (o.spec.kind === "move") k.flows += p.flowsDone ?? 0;
    if (s.phase !== "Succeeded") bad.push(`${o.metadata.name}: phase ${s.phase}`);
    if (p.flowsDone === undefined || p.flowsDone !== p.flowsTotal) bad.push(`${o.metadata.name}: progress ${p.flowsDone}/${p.flowsTotal}`);
  }
  for (const pool of ["nat", "re"]) {
    const k = per[pool];
    if (!k || !k.move || !k.clone || !k.merge) bad.push(`${pool}: expected moves, clones and merges, got ${JSON.stringify(k)}`);
    else if (k.flows === 0) bad.push(`${pool}: no move carried a flow`);
  }
  if (bad.length) { console.log(bad.join("; ")); process.exit(1); }
  console.log(Object.entries(per).map(([p, k]) => `${p}: ${k.move} moves (${k.flows} flows), ${k.clone} clones, ${k.merge} merges`).join("; ") + ", all Succeeded");
' "$WORK/ops.json" >"$WORK/ops.txt" || fail "operations: $(cat "$WORK/ops.txt")"
pass "$(cat "$WORK/ops.txt")"

# --- every emitted packet at its sink, checked, and equal to the unscaled run ----------------------
for pool in nat re; do
  curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$pool/outputs" >"$WORK/outputs-$pool.json" ||
    fail "GET /pools/$NS/$pool/outputs"
  [[ $pool == nat ]] && sink=$NAT_SINK_HTTP || sink=$RE_SINK_HTTP
  curl -sf "http://$sink/counters" >"$WORK/sink-$pool.json" || fail "GET /counters of the $pool sink"
  node "$ROOT/e2e/egress/check.mjs" "$pool" "$WORK/sink-$pool.json" "$WORK/outputs-$pool.json" "$WORK/ref-$pool/report.json" "$NS/$pool/switch" \
    >"$WORK/check-$pool.txt" || fail "$pool: $(cat "$WORK/check-$pool.txt")"
  pass "$pool pool scaled 1 -> 3 -> 2 on Pods: $(cat "$WORK/check-$pool.txt")"
done

# status.egress shows the same: connected, nothing queued or undeliverable, and sent and delivered
# as in the outputs (a figure there is rewritten once it moved by a tenth, so it may lag by less).
status_final() {
  k get mbp "$1" -o json >"$WORK/pool-$1.json"
  node -e '
    const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).status.egress ?? {};
    const final = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8")).egress.delivered;
    const near = (x) => x === final || (x < final && final - x < Math.max(1, x / 10));
    const u = e.undeliverable ?? {};
    process.exit(e.connected === true && e.queued === 0 && u.queueFull === 0 && u.egressRemoved === 0 && near(e.sent) && near(e.delivered) ? 0 : 1);
  ' "$WORK/pool-$1.json" "$WORK/outputs-$1.json"
}
for pool in nat re; do
  wait_until 60 "status.egress of $pool: connected, nothing queued or undeliverable, the counts of its outputs" status_final "$pool"
  pass "kubectl get mbp $pool -o jsonpath='{.status.egress}': $(field "$pool" '{.status.egress}'); $(field "$pool" '{.status.conditions[?(@.type=="EgressReachable")].type}={.status.conditions[?(@.type=="EgressReachable")].status}')"
done
log "kubectl get mbp -n $NS"
k get mbp | sed 's/^/    /'

log "PASS: egress e2e"
