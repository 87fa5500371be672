#!/usr/bin/env bash
# hpa.e2e.sh - a HorizontalPodAutoscaler scales a pool on its load, on a real node.
#
# Usage: e2e/hpa/hpa.e2e.sh
#
# Starts a control plane (with the aggregation layer, and the HPA controller syncing every 5 s)
# and a real node with the image, starts `openmb operator --runtime pod` on this machine with
# its custom metrics API, registered as v1beta2.custom.metrics.k8s.io (manifests/metrics-api/),
# applies a monitor pool of one instance and an autoscaling/v2 HPA whose target is the pool
# (through its scale subresource) with a Pods metric, packets_per_second, at an AverageValue.
# Then replays a long capture (the bundled one, repeated) from this machine into the switch Pod
# at a rate three instances' worth: the HPA controller in kube-controller-manager raises
# spec.replicas and the operator moves state to the new Pods. When the traffic stops, the rate
# falls to 0: the HPA lowers the replicas (after a short scale-down stabilization) and state
# merges away. The outputs equal one unscaled instance's on the same capture. Prints `kubectl get
# hpa` as it goes and `kubectl get --raw` of the custom metric.
#
# Env: RATE (default 900 packets/s), TARGET (AverageValue per instance, default 300), COPIES
# (times the capture is repeated, default 12), TIMEOUT, KEEP.
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
RATE="${RATE:-900}"
TARGET="${TARGET:-300}"
COPIES="${COPIES:-12}"
TIMEOUT="${TIMEOUT:-240}"
POOL=monitor
NS="openmb-hpa-$$"
API_NS=openmb-system
APISERVICE=v1beta2.custom.metrics.k8s.io
METRICS_API=/apis/custom.metrics.k8s.io/v1beta2
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-hpa-e2e.XXXXXX")"
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
  kubectl -n "$NS" delete hpa --all --wait=false >/dev/null 2>&1
  end_suite "$rc"
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

[[ -z ${KUBECONFIG:-} ]] || fail "this suite makes its own cluster (it sets the HPA controller's sync period)"
# The HPA controller looks every 5 s (the default is 15) so that the suite takes minutes, not more.
export KUBE_CONTROLLER_MANAGER_ARGS="--horizontal-pod-autoscaler-sync-period=5s ${KUBE_CONTROLLER_MANAGER_ARGS:-}"
start_cluster_with_node
kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io >/dev/null || fail "CRDs"
kubectl create namespace "$NS" >/dev/null
kubectl create namespace "$API_NS" >/dev/null

# --- the capture: the bundled one, repeated with its timestamps shifted, so traffic lasts -------
TRACE="$WORK/repeated.pcap"
node --input-type=module -e '
  const [dist, src, out, copies] = process.argv.slice(1);
  const { readCaptureFile, writePcap } = await import(`${dist}/shims/flow/pcap.js`);
  const { writeFileSync } = await import("node:fs");
  const { packets } = readCaptureFile(src);
  const span = packets.at(-1).tsSec - packets[0].tsSec + 1;
  const all = [];
  for (let k = 0; k < Number(copies); k++) for (const p of packets) all.push({ ...p, tsSec: p.tsSec + k * span });
  writeFileSync(out, writePcap(all, { nanosecond: true }));
' "$ROOT/dist" "$ROOT/data/traces/tryzeek_sumstat.pcap" "$TRACE" "$COPIES" || fail "writing the repeated capture"
"${OPENMB[@]}" local --middlebox monitor --trace "$TRACE" --out "$WORK/reference" >"$WORK/reference.log" 2>&1 ||
  fail "unscaled reference run (see $WORK/reference.log)"
pass "capture: tryzeek_sumstat.pcap x $COPIES; unscaled reference: $(head -n 1 "$WORK/reference.log")"

# --- the operator with its custom metrics API, registered with the aggregation layer ------------
CONTROLLER_PORT=7100
head -c 24 /dev/urandom | base64 >"$WORK/secret"
"${OPENMB[@]}" operator --runtime pod --controller-listen "$NODE_IP:$CONTROLLER_PORT" --controller-address "$NODE_IP:$CONTROLLER_PORT" \
  --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" --namespace "$NS" --leader-elect --lease-namespace "$NS" \
  --metrics-api "$NODE_IP:6443" --metrics-api-names "openmb-metrics-api.$API_NS.svc,$NODE_IP" \
  --requestheader-client-ca-file "$CP_DIR/front-proxy/ca.crt" --requestheader-allowed-names front-proxy-client >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
http_address() { sed -n 's/^http \(.*\)$/\1/p' "$WORK/operator.log" | head -n 1; }
has_http() { [[ -n $(http_address) && -f $WORK/state/metrics-api/ca.crt ]]; }
wait_until 60 "operator started" has_http
HTTP="http://$(http_address)"
kubectl apply -f "$ROOT/manifests/metrics-api/service.yaml" >/dev/null || fail "the metrics API's Service and Endpoints"
sed "s|CA_BUNDLE|$(base64 -w0 "$WORK/state/metrics-api/ca.crt")|" "$ROOT/manifests/metrics-api/apiservice.yaml" | kubectl apply -f - >/dev/null ||
  fail "the APIService"
available() { [[ $(kubectl get apiservice "$APISERVICE" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}') == True ]]; }
wait_until 60 "APIService $APISERVICE is Available" available
pass "operator running (Pod runtime, controller at $NODE_IP:$CONTROLLER_PORT), custom metrics API registered: $(kubectl get apiservice "$APISERVICE" --no-headers)"

# --- the pool and its HPA ------------------------------------------------------------------------
k apply -f - >/dev/null <<EOF || fail "kubectl apply the pool and the HPA"
apiVersion: openmb.io/v1alpha1
kind: MiddleboxPool
metadata:
  name: $POOL
spec:
  middlebox: {type: monitor}
  replicas: 1
  partitioning: {key: flow, buckets: 64}
  migration: {guarantee: loss-free}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: $POOL
spec:
  scaleTargetRef: {apiVersion: openmb.io/v1alpha1, kind: MiddleboxPool, name: $POOL}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Pods
      pods:
        metric: {name: packets_per_second}
        target: {type: AverageValue, averageValue: "$TARGET"}
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0}
    scaleDown:
      stabilizationWindowSeconds: 10
      policies: [{type: Pods, value: 1, periodSeconds: 5}]
EOF
check_scaled 1
show_hpa() { log "kubectl get hpa"; k get hpa "$POOL" | sed 's/^/    /'; }
raw_metric() {
  log "kubectl get --raw $METRICS_API/namespaces/$NS/pods/*/packets_per_second?labelSelector=$(pool_field '{.status.selector}')"
  kubectl get --raw "$METRICS_API/namespaces/$NS/pods/*/packets_per_second?labelSelector=$(pool_field '{.status.selector}' | sed 's/=/%3D/g; s/,/%2C/g')" 2>&1 |
    node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{try{for(const i of JSON.parse(s).items)console.log(`    ${i.describedObject.name} ${i.value}`)}catch{console.log(`    ${s.trim()}`)}})'
}
show_hpa

SWITCH=$(pool_field '{.status.switch.address}')
fetch_tls "$NS" "$WORK/tls"
OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$TRACE" --switch "$SWITCH" --tls-dir "$WORK/tls" --rate "$RATE" \
  >"$WORK/replay.out" 2>"$WORK/replay.log" &
REPLAY_PID=$!
log "replaying $COPIES copies of the capture at $RATE packets/s (the HPA aims at $TARGET per instance)"

# The HPA controller, not us, sets spec.replicas: wait for it to ask for more than one instance.
scaled_up() { (($(pool_field '{.spec.replicas}') > 1)); }
for _ in $(seq 12); do scaled_up && break; sleep 5; show_hpa; done
wait_until "$TIMEOUT" "the HPA raises the pool's replicas" scaled_up
UP=$(pool_field '{.spec.replicas}')
pass "the HPA raised spec.replicas to $UP (scale subresource: $(kubectl get --raw "/apis/openmb.io/v1alpha1/namespaces/$NS/middleboxpools/$POOL/scale" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const o=JSON.parse(s);console.log(`spec.replicas ${o.spec.replicas}, status.replicas ${o.status.replicas}, selector ${o.status.selector}`)})'))"
show_hpa
raw_metric
check_scaled "$UP"
k get pods -o wide | sed 's/^/    /'
kill -0 "$REPLAY_PID" 2>/dev/null && log "(traffic still flowing)"
finish_replay
pass "replay done: $(cat "$WORK/replay.out")"

# No traffic: the rate falls to 0 and the HPA brings the pool back to one instance.
at_one() { [[ $(pool_field '{.spec.replicas}') == 1 ]]; }
for _ in $(seq 12); do at_one && break; sleep 5; show_hpa; done
wait_until "$TIMEOUT" "the HPA lowers the pool's replicas to 1" at_one
pass "the HPA lowered spec.replicas to 1 once the traffic stopped"
show_hpa
raw_metric
check_scaled 1
k get pods -o wide | sed 's/^/    /'
[[ -n $(k get sop -o jsonpath='{range .items[?(@.spec.kind=="merge")]}{.metadata.name}{"\n"}{end}') ]] || fail "no merge on the way down"
check_operations
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$WORK/outputs.json" || fail "GET the pool's outputs"
same_outputs "$WORK/outputs.json" "scaled by the HPA"
pass "outputs of the pool the HPA scaled 1 -> $UP -> 1 equal the unscaled run's"

log "PASS: HPA e2e"
