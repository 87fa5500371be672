#!/usr/bin/env bash
# incluster.e2e.sh - the operator installed with `kubectl apply -k`, running in the cluster from
# the built image, scales a sample pool.
#
# Usage: e2e/incluster/incluster.e2e.sh
#
# Starts a control plane and a real node with the image (as e2e/pods/pods.e2e.sh does), then
# applies manifests/ through a small overlay made for this cluster, which has neither DNS nor
# kube-proxy: Pods reach no Service IP and the API server listens on 127.0.0.1 only. So the
# overlay runs the one operator replica on the node's network (hostNetwork), where it reaches
# the API server at 127.0.0.1 as an in-cluster client (its ServiceAccount token, the cluster's
# CA, KUBERNETES_SERVICE_HOST/PORT pointing there), and tells Pods to dial the controller at the
# node's address rather than the Service name. Everything else is the base as users get it:
# the RBAC, the image, the probes, the leader label, the Secrets the operator keeps.
# Then: the operator becomes leader and labels its Pod, sets the caBundle of its APIService and of
# its webhook configuration, and its webhook refuses a pool with a wrong configuration (naming the
# field); the sample monitor pool is applied in a
# namespace of its own, scaled 1 -> 2 under traffic replayed from the host over TLS, and its
# outputs (read from the operator's endpoint with the Secret it keeps) equal the unscaled run.
#
# Env: TRACE, RATE, TIMEOUT, KEEP as for the other suites.
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRACE="${TRACE:-$ROOT/data/traces/tryzeek_sumstat.pcap}"
RATE="${RATE:-250}"
TIMEOUT="${TIMEOUT:-180}"
POOL=monitor
NS="openmb-incluster-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-incluster-e2e.XXXXXX")"
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
  if ((rc != 0 || FAILED)); then
    kubectl -n openmb-system logs deploy/openmb-operator --tail=40 >"$WORK/operator.log" 2>&1
  fi
  end_suite "$rc"
  kubectl delete -k "$WORK/overlay" --wait=false >/dev/null 2>&1
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

[[ -z ${KUBECONFIG:-} ]] || fail "this suite makes its own cluster (the overlay is for a cluster without DNS or kube-proxy)"
start_cluster_with_node
APISERVER_PORT="$(sed -n 's/^APISERVER_PORT=//p' "$CP_DIR/ports.env")"

# --- the overlay: the base as users apply it, fitted to this cluster ---------------------------
mkdir -p "$WORK/overlay"
cat >"$WORK/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$WORK/overlay" "$ROOT/manifests")
patches:
  - target: {kind: Deployment, name: openmb-operator}
    patch: |-
      - {op: replace, path: /spec/replicas, value: 1}
      - {op: add, path: /spec/template/spec/hostNetwork, value: true}
      - {op: add, path: /spec/template/spec/dnsPolicy, value: ClusterFirstWithHostNet}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_HOST, value: "127.0.0.1"}}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: KUBERNETES_SERVICE_PORT, value: "$APISERVER_PORT"}}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--controller-address=$NODE_IP:7100"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--controller-listen=$NODE_IP:7100"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--http=$NODE_IP:8080"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--metrics-api=$NODE_IP:6443"}
      - {op: add, path: /spec/template/spec/containers/0/args/-, value: "--webhook=$NODE_IP:9443"}
EOF
kubectl apply -k "$WORK/overlay" >"$WORK/apply.log" 2>&1 || fail "kubectl apply -k (see $WORK/apply.log)"
pass "kubectl apply -k manifests/ (through the overlay): $(grep -c . "$WORK/apply.log") objects"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null || fail "CRDs"
kubectl -n openmb-system rollout status deploy/openmb-operator --timeout=120s >/dev/null || fail "the operator Deployment did not become available"
kubectl -n openmb-system get pods -o wide | sed 's/^/    /'
leader_labelled() { [[ -n $(kubectl -n openmb-system get pods -l openmb.io/leader=true -o name) ]]; }
wait_until 60 "the operator labels its Pod as the leader" leader_labelled
LEADER=$(kubectl -n openmb-system get pods -l openmb.io/leader=true -o jsonpath='{.items[0].metadata.name}')
[[ $(kubectl -n openmb-system get pod "$LEADER" -o jsonpath='{.spec.serviceAccountName}') == openmb-operator ]] || fail "the operator does not run as its ServiceAccount"
pass "operator $LEADER Running and Ready as openmb-operator, leader (openmb.io/leader=true), image $(kubectl -n openmb-system get pod "$LEADER" -o jsonpath='{.spec.containers[0].image}')"

apiservice_available() { [[ $(kubectl get apiservice v1beta2.custom.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}') == True ]]; }
wait_until 90 "the custom metrics APIService is Available (its caBundle set by the leader)" apiservice_available
pass "APIService v1beta2.custom.metrics.k8s.io Available, served by the in-cluster leader"
[[ -n $(kubectl get validatingwebhookconfiguration openmb-validation -o jsonpath='{.webhooks[0].clientConfig.caBundle}') ]] ||
  fail "the leader did not set the webhook configuration's caBundle"
kubectl get namespace "$NS" >/dev/null 2>&1 || kubectl create namespace "$NS" >/dev/null
if out=$(k apply -f - 2>&1 <<<'{"apiVersion": "openmb.io/v1alpha1", "kind": "MiddleboxPool", "metadata": {"name": "wrong"}, "spec": {"middlebox": {"type": "monitor", "config": {"hosts": "yes"}}}}'); then
  fail "a pool with a wrong configuration was admitted"
fi
[[ $out == *'denied the request: spec.middlebox.config.hosts: must be true or false'* ]] || fail "a wrong pool was refused, but not by the webhook: $out"
pass "the in-cluster webhook (caBundle set by the leader) refuses a wrong configuration: $out"

# --- the sample pool ------------------------------------------------------------------------------
"${OPENMB[@]}" local --middlebox monitor --trace "$TRACE" --out "$WORK/reference" --rate 2000 >"$WORK/reference.log" 2>&1 ||
  fail "unscaled reference run (see $WORK/reference.log)"
k apply -f "$ROOT/manifests/samples/monitor-pool.yaml" >/dev/null || fail "kubectl apply the sample pool"
check_scaled 1
k get pods -o wide | sed 's/^/    /'
SWITCH=$(pool_field '{.status.switch.address}')
fetch_tls "$NS" "$WORK/tls"
kubectl -n openmb-system get secret openmb-shared-secret -o jsonpath='{.data.secret}' | base64 -d >"$WORK/secret" || fail "the operator's shared secret"
OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$TRACE" --switch "$SWITCH" --tls-dir "$WORK/tls" --rate "$RATE" \
  >"$WORK/replay.out" 2>"$WORK/replay.log" &
REPLAY_PID=$!
sleep 2
k scale mbp/"$POOL" --replicas=2 >/dev/null || fail "kubectl scale --replicas=2"
log "kubectl scale mbp/$POOL --replicas=2"
check_scaled 2
k get pods -o wide | sed 's/^/    /'
[[ $(k get pods -l "openmb.io/pool=$POOL,openmb.io/role=instance" -o name | wc -l) == 2 ]] || fail "not 2 instance Pods"
finish_replay
pass "replay done under the scale-up: $(cat "$WORK/replay.out")"
METRIC="/apis/custom.metrics.k8s.io/v1beta2/namespaces/$NS/middleboxpools.openmb.io/$POOL/packets_per_second"
kubectl get --raw "$METRIC" >"$WORK/metric.json" || fail "kubectl get --raw $METRIC"
log "kubectl get --raw $METRIC"
sed 's/^/    /' "$WORK/metric.json"; echo
grep -q '"kind":"MetricValueList"' "$WORK/metric.json" || fail "not a MetricValueList"
curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "http://$NODE_IP:8080/pools/$NS/$POOL/outputs" >"$WORK/outputs.json" ||
  fail "GET the pool's outputs from the operator in the cluster"
same_outputs "$WORK/outputs.json" "the in-cluster operator's pool"
pass "the pool the in-cluster operator scaled 1 -> 2 under traffic reports the unscaled run's outputs"
k delete mbp "$POOL" --timeout="${TIMEOUT}s" >/dev/null || fail "kubectl delete mbp/$POOL"
pass "pool deleted (drained by the in-cluster operator)"

log "PASS: in-cluster operator e2e"
