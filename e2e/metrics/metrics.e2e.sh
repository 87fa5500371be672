#!/usr/bin/env bash
# metrics.e2e.sh - the operator's metrics and its custom metrics API through a real API server's
# aggregation layer.
#
# Usage: e2e/metrics/metrics.e2e.sh
#
# Uses $KUBECONFIG if set (the API server must run with the aggregation layer: --requestheader-*,
# --proxy-client-*, and --enable-aggregator-routing unless a kube-proxy routes Service IPs);
# otherwise starts a control plane (e2e/controlplane/up.sh, which configures it) in a temporary
# directory and stops it on exit. Then: starts `openmb operator --runtime process` with
# --metrics-api on this host, registers the APIService v1beta2.custom.metrics.k8s.io with a
# Service and Endpoints (manifests/metrics-api/) pointing at it, applies a monitor pool, replays
# a capture into it and scales it 1 -> 2, and checks: `kubectl get --raw` of the pool's
# packets_per_second (an Object metric) and of the instance Pods' (a Pods metric), 404s for an
# unknown metric and pool, 401 for a caller that is not the front proxy, and `curl` of the
# operator's /metrics with the per-pool and per-instance series and the operations.
# Prints PASS/FAIL per step; exits non-zero on the first failure.
#
# Env:
#   HOST_IP   an address of this host the API server can dial, not loopback (Endpoints refuse
#             it) (default: the node IP 10.250.0.1 when this host has it, else 10.250.9.1 on a
#             port-less bridge the suite makes and removes; needs root)
#   TRACE     capture to replay (default: the bundled data/traces/tryzeek_sumstat.pcap)
#   RATE      replay rate in packets/s (default 200)
#   TIMEOUT   seconds to wait for each convergence (default 120)
#   KEEP      1: keep the work directory (logs) even when the suite passes
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRACE="${TRACE:-$ROOT/data/traces/tryzeek_sumstat.pcap}"
RATE="${RATE:-200}"
TIMEOUT="${TIMEOUT:-120}"
POOL=monitor
NS="openmb-metrics-e2e-$$"
API_NS=openmb-system
APISERVICE=v1beta2.custom.metrics.k8s.io
METRICS_API=/apis/custom.metrics.k8s.io/v1beta2
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-metrics-e2e.XXXXXX")"
OPENMB=(node "$ROOT/bin/openmb.js")
# shellcheck source=e2e/lib/suite.sh
source "$ROOT/e2e/lib/suite.sh"
CP_DIR=""
OPERATOR_PID=""
REPLAY_PID=""
REGISTERED=0
MADE_API_NS=0
MADE_BRIDGE=0
BRIDGE=openmb-metrics

cleanup() {
  local rc=$?
  set +e
  end_suite "$rc"
  if ((REGISTERED)); then
    kubectl delete apiservice "$APISERVICE" --wait=false >/dev/null 2>&1
    kubectl -n "$API_NS" delete service,endpoints openmb-metrics-api --wait=false >/dev/null 2>&1
  fi
  ((MADE_API_NS)) && kubectl delete namespace "$API_NS" --wait=false >/dev/null 2>&1
  stop_cluster
  ((MADE_BRIDGE)) && ip link delete "$BRIDGE" 2>/dev/null
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

# --- a cluster with the aggregation layer, and the build ---------------------------------
start_control_plane
kubectl get --raw /readyz >/dev/null 2>&1 || fail "the API server does not answer"
FRONT_PROXY_CA=$(kubectl -n kube-system get configmap extension-apiserver-authentication -o jsonpath='{.data.requestheader-client-ca-file}')
[[ $FRONT_PROXY_CA == *"BEGIN CERTIFICATE"* ]] ||
  fail "the API server runs without the aggregation layer (no requestheader-client-ca-file in kube-system/extension-apiserver-authentication)"
pass "API server $(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}') with the aggregation layer"
if kubectl get apiservice "$APISERVICE" >/dev/null 2>&1; then
  fail "APIService $APISERVICE already exists (another custom metrics adapter?): this suite would replace it"
fi

kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null ||
  fail "CRDs not established"
kubectl create namespace "$NS" >/dev/null
kubectl get namespace "$API_NS" >/dev/null 2>&1 || { kubectl create namespace "$API_NS" >/dev/null && MADE_API_NS=1; }

# Endpoints refuse loopback, and traffic stays on this machine: without HOST_IP the suite holds
# an address of its own on a port-less bridge (as the e2e node does), removed on exit.
if [[ -z ${HOST_IP:-} ]]; then
  if ip -4 -o addr show 2>/dev/null | grep -q ' 10\.250\.0\.1/'; then HOST_IP=10.250.0.1
  else
    ip link add "$BRIDGE" type bridge && ip addr add 10.250.9.1/32 dev "$BRIDGE" && ip link set "$BRIDGE" up ||
      fail "could not make the bridge $BRIDGE for a host address (needs root, or set HOST_IP)"
    MADE_BRIDGE=1
    HOST_IP=10.250.9.1
  fi
fi
[[ -n $HOST_IP && $HOST_IP != 127.* ]] || fail "no address of this host for the Endpoints (set HOST_IP)"

# --- the operator, with the custom metrics API on this host ------------------------------
head -c 24 /dev/urandom | base64 >"$WORK/secret"
# The front proxy's CA: the file up.sh made, or else what the API server publishes in its ConfigMap.
CA_FLAGS=()
[[ -n $CP_DIR ]] && CA_FLAGS=(--requestheader-client-ca-file "$CP_DIR/front-proxy/ca.crt" --requestheader-allowed-names front-proxy-client)
"${OPENMB[@]}" operator --runtime process --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" --namespace "$NS" \
  --metrics-api 0.0.0.0:0 --metrics-api-names "openmb-metrics-api.$API_NS.svc,$HOST_IP" "${CA_FLAGS[@]}" >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
address_of() { sed -n "s/^$1 \(.*\)\$/\1/p" "$WORK/operator.log" | head -n 1; }
started() { [[ -n $(address_of http) && -n $(address_of metrics-api) ]]; }
wait_until 60 "operator started" started
HTTP="http://$(address_of http)"
API_PORT="$(address_of metrics-api)"
API_PORT="${API_PORT##*:}"
pass "operator running (pid $OPERATOR_PID, $HTTP, custom metrics API on $HOST_IP:$API_PORT)"

# --- the APIService, its Service and Endpoints --------------------------------------------
REGISTERED=1
sed -e "s/10\.250\.0\.1/$HOST_IP/" -e "s/port: 6443/port: $API_PORT/" -e "s/targetPort: 6443/targetPort: $API_PORT/" \
  "$ROOT/manifests/metrics-api/service.yaml" | kubectl apply -f - >/dev/null 2>"$WORK/apply.log" || fail "apply the Service and Endpoints: $(cat "$WORK/apply.log")"
sed "s|CA_BUNDLE|$(base64 -w0 "$WORK/state/metrics-api/ca.crt")|" "$ROOT/manifests/metrics-api/apiservice.yaml" | kubectl apply -f - >/dev/null ||
  fail "apply the APIService"
available() { [[ $(kubectl get apiservice "$APISERVICE" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}') == True ]]; }
wait_until 60 "APIService $APISERVICE is Available (see kubectl get apiservice $APISERVICE -o yaml)" available
pass "APIService $APISERVICE Available: $(kubectl get apiservice "$APISERVICE" --no-headers)"
kubectl get --raw "$METRICS_API" >"$WORK/discovery.json" || fail "discovery of $METRICS_API"
for resource in pods middleboxpools.openmb.io; do
  grep -q "\"$resource/packets_per_second\"" "$WORK/discovery.json" || fail "discovery lacks $resource/packets_per_second: $(cat "$WORK/discovery.json")"
done
pass "discovery: $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).resources.map((r) => r.name).join(", "))' "$WORK/discovery.json")"

# --- a pool under traffic: its load through the aggregation layer --------------------------
k apply -f "$ROOT/e2e/operator/pool.yaml" >/dev/null || fail "kubectl apply the pool"
check_scaled 1
OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$TRACE" --switch "$(pool_field '{.status.switch.address}')" --rate "$RATE" \
  >"$WORK/replay.out" 2>"$WORK/replay.log" &
REPLAY_PID=$!
log "replaying $(basename "$TRACE") at $RATE packets/s into the pool"

POOL_METRIC="$METRICS_API/namespaces/$NS/middleboxpools.openmb.io/$POOL/packets_per_second"
# quantity_of FILE: the first item's value as a number ("1500m" -> 1.5).
quantity_of() { node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1])).items[0].value; console.log(v.endsWith("m") ? Number(v.slice(0, -1)) / 1000 : Number(v))' "$1"; }
pool_loaded() {
  kubectl get --raw "$POOL_METRIC" >"$WORK/pool-metric.json" 2>/dev/null || return 1
  node -e 'process.exit(Number(process.argv[1]) > 0 ? 0 : 1)' "$(quantity_of "$WORK/pool-metric.json")"
}
wait_until 60 "the pool's packets_per_second rises above 0" pool_loaded
log "kubectl get --raw $POOL_METRIC"
sed 's/^/    /' "$WORK/pool-metric.json"
node -e '
  const l = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const [i] = l.items, o = i.describedObject;
  const ok = l.kind === "MetricValueList" && l.items.length === 1 && o.kind === "MiddleboxPool" && o.name === process.argv[2] && o.namespace === process.argv[3] &&
    i.metric.name === "packets_per_second" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(i.timestamp) && i.windowSeconds > 0;
  process.exit(ok ? 0 : 1);' "$WORK/pool-metric.json" "$POOL" "$NS" || fail "the pool's MetricValueList is not one item describing the pool"
pass "the pool's packets_per_second through the aggregation layer: $(quantity_of "$WORK/pool-metric.json") packets/s (replaying at $RATE)"

PODS_METRIC="$METRICS_API/namespaces/$NS/pods/*/packets_per_second?labelSelector=$(pool_field '{.status.selector}' | sed 's|/|%2F|g; s|=|%3D|g; s|,|%2C|g')"
kubectl get --raw "$PODS_METRIC" >"$WORK/pods-metric.json" || fail "GET the Pods metric"
log "kubectl get --raw '$PODS_METRIC' (the process runtime runs no Pods: no items)"
sed 's/^/    /' "$WORK/pods-metric.json"
grep -q '"kind":"MetricValueList"' "$WORK/pods-metric.json" || fail "the Pods metric is not a MetricValueList"
pass "the Pods metric answers a MetricValueList for the pool's selector"

# --- refusals --------------------------------------------------------------------------------
not_found() {
  kubectl get --raw "$1" >/dev/null 2>"$WORK/err.txt" && fail "GET $1 should fail"
  grep -q "NotFound" "$WORK/err.txt" || fail "GET $1: expected NotFound, got $(cat "$WORK/err.txt")"
  pass "404 for $2: $(cat "$WORK/err.txt")"
}
not_found "$METRICS_API/namespaces/$NS/middleboxpools.openmb.io/$POOL/cpu_usage" "an unknown metric"
not_found "$METRICS_API/namespaces/$NS/middleboxpools.openmb.io/nosuch/packets_per_second" "a pool that does not exist"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=front-proxy-client -keyout "$WORK/impostor.key" -out "$WORK/impostor.crt" 2>/dev/null
for who in "a self-signed certificate named front-proxy-client" "no certificate"; do
  cert=()
  [[ $who == a* ]] && cert=(--cert "$WORK/impostor.crt" --key "$WORK/impostor.key")
  code=$(curl -s -o "$WORK/refused.json" -w '%{http_code}' --cacert "$WORK/state/metrics-api/ca.crt" "${cert[@]}" "https://$HOST_IP:$API_PORT$POOL_METRIC")
  [[ $code == 401 ]] || fail "a direct caller with $who should get 401, got $code"
  pass "a direct caller with $who gets 401: $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).message)' "$WORK/refused.json")"
done

# --- scale under traffic; /metrics shows per-pool and per-instance series --------------------
k scale mbp/"$POOL" --replicas=2 >/dev/null || fail "kubectl scale --replicas=2"
log "kubectl scale mbp/$POOL --replicas=2"
check_scaled 2
two_instances() { [[ $(curl -sf "$HTTP/metrics" | grep -c '^openmb_instance_packets_per_second{') == 2 ]]; }
wait_until 30 "/metrics shows both instances" two_instances
curl -sf "$HTTP/metrics" >"$WORK/metrics.txt" || fail "curl $HTTP/metrics"
log "curl $HTTP/metrics (the pool and instance series, operations, reconciles, queues, leader)"
grep -E '^openmb_(pool_|instance_|operations_total|operation_duration_seconds_count|reconcile_duration_seconds_count|workqueue_|leader)' "$WORK/metrics.txt" | sed 's/^/    /'
for series in "openmb_pool_packets_per_second{namespace=\"$NS\",pool=\"$POOL\"}" "openmb_pool_flows{namespace=\"$NS\",pool=\"$POOL\"}" \
  "openmb_instance_flows{namespace=\"$NS\",pool=\"$POOL\",instance=\"$POOL-0\"}" "openmb_instance_packets_per_second{namespace=\"$NS\",pool=\"$POOL\",instance=\"$POOL-1\"}" \
  "openmb_operations_total{namespace=\"$NS\",pool=\"$POOL\",kind=\"move\",result=\"succeeded\"}" "openmb_leader"; do
  grep -qF "$series " "$WORK/metrics.txt" || fail "/metrics has no $series"
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$HTTP/pools") == 401 ]] || fail "/pools should still need the bearer token"
pass "/metrics (open) has the per-pool and per-instance series and the moves; /pools still needs the token"
finish_replay
pass "replay done: $(cat "$WORK/replay.out")"
kubectl get --raw "$POOL_METRIC" >"$WORK/pool-metric-2.json" || fail "GET the pool's metric after scaling"
log "kubectl get --raw $POOL_METRIC (after the scale to 2)"
sed 's/^/    /' "$WORK/pool-metric-2.json"

log "PASS: metrics e2e"
