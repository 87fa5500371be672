#!/usr/bin/env bash
# reconfigure.e2e.sh - a live pool's configuration changed under traffic, and wrong configurations
# refused at apply time by the operator's validating webhook, on a real node.
#
# Usage: e2e/reconfigure/reconfigure.e2e.sh
#
# Without $KUBECONFIG: starts a control plane and a real node (containerd, kubelet, scheduler) in
# a temporary directory, builds and imports the openmb image, and tears it all down on exit (as
# root). With $KUBECONFIG: set CONTROLLER_HOST (and HOST_IP) to an address of this machine that
# Pods and the API server reach, and the API server must dial webhook endpoints itself
# (--enable-aggregator-routing=true) or route Service IPs.
#
# Then: starts `openmb operator --runtime pod --webhook` on this machine and registers the
# ValidatingWebhookConfiguration of manifests/webhook/ (a Service and Endpoints pointing at the
# operator, caBundle its serving CA). Runs the reference: one unscaled ids instance
# (`openmb local --reconfigure AT:FILE`) whose rule set changes, at AT of the capture, from the
# sample rules to one that alerts on every GET. Applies an ids pool of two instances, replays the
# capture up to that same packet into its switch Pod, patches spec.middlebox.config to the new
# rule set (the pool shows Progressing, reason Reconfiguring, until every instance runs it), checks
# that every instance reports the new configuration generation, scales the pool to 3 (the new
# instance starts with the new configuration), replays the rest, and compares the alerts,
# connections and counters with the reference: exactly equal. Then a wrong configuration of each
# middlebox (ids, monitor, nat, re) is refused by `kubectl apply` with the middlebox's message
# naming the field, as is a wrong patch of the live pool (which keeps its configuration), while
# other resources are not sent to the webhook at all.
#
# Env:
#   TRACE            capture (default data/traces/tryzeek_http.pcap: 197 GETs)
#   AT               where the configuration changes, a fraction of the capture (default 0.6)
#   RATE             replay rate in packets/s (default 500)
#   TIMEOUT          seconds to wait for each convergence (default 180)
#   IMAGE            image of the Pods (default openmb:dev)
#   CONTROLLER_HOST  where Pods reach the operator (default: the node's address)
#   HOST_IP          where the API server reaches the webhook, not loopback (default CONTROLLER_HOST)
#   KEEP             1: keep the work directory (logs) even when the suite passes
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TRACE="${TRACE:-$ROOT/data/traces/tryzeek_http.pcap}"
AT="${AT:-0.6}"
RATE="${RATE:-500}"
TIMEOUT="${TIMEOUT:-180}"
IMAGE="${IMAGE:-openmb:dev}"
POOL=ids
NS="openmb-reconfigure-$$"
API_NS=openmb-system
WEBHOOK=openmb-validation
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-reconfigure-e2e.XXXXXX")"
OPENMB=(node "$ROOT/bin/openmb.js")
CP_DIR=""
NODE_RUN=""
OPERATOR_PID=""
REPLAY_PID=""
WATCH_PID=""
REGISTERED=0
MADE_API_NS=0
# shellcheck source=e2e/lib/suite.sh
source "$ROOT/e2e/lib/suite.sh"

cleanup() {
  local rc=$?
  set +e
  [[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null
  end_suite "$rc"
  if ((REGISTERED)); then
    kubectl delete validatingwebhookconfiguration "$WEBHOOK" --wait=false >/dev/null 2>&1
    kubectl -n "$API_NS" delete service,endpoints openmb-webhook --wait=false >/dev/null 2>&1
  fi
  ((MADE_API_NS)) && kubectl delete namespace "$API_NS" --wait=false >/dev/null 2>&1
  stop_cluster
  keep_work "$rc"
  exit "$rc"
}
on_exit cleanup

# --- a cluster with a node, and the image ----------------------------------------------------
start_cluster_with_node
CONTROLLER_HOST="${CONTROLLER_HOST:-${NODE_IP:-}}"
HOST_IP="${HOST_IP:-$CONTROLLER_HOST}"
[[ -n $CONTROLLER_HOST && -n $HOST_IP && $HOST_IP != 127.* ]] || fail "set CONTROLLER_HOST (and HOST_IP) to an address of this machine that Pods and the API server reach"
kubectl get validatingwebhookconfiguration "$WEBHOOK" >/dev/null 2>&1 && fail "ValidatingWebhookConfiguration $WEBHOOK already exists: this suite would replace it"
kubectl apply -f "$ROOT/manifests/crds/" >/dev/null || fail "kubectl apply -f manifests/crds/"
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null || fail "CRDs not established"
kubectl create namespace "$NS" >/dev/null
kubectl get namespace "$API_NS" >/dev/null 2>&1 || { kubectl create namespace "$API_NS" >/dev/null && MADE_API_NS=1; }
pass "CRDs applied; namespace $NS"

# --- the operator with its webhook, on this machine --------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/$CONTROLLER_HOST/$1") 2>/dev/null; }
CONTROLLER_PORT=$((20000 + RANDOM % 12000))
until port_free "$CONTROLLER_PORT"; do CONTROLLER_PORT=$((20000 + RANDOM % 12000)); done
head -c 24 /dev/urandom | base64 >"$WORK/secret"
"${OPENMB[@]}" operator --runtime pod --controller-listen "$CONTROLLER_HOST:$CONTROLLER_PORT" --controller-address "$CONTROLLER_HOST:$CONTROLLER_PORT" \
  --image "$IMAGE" --secret-file "$WORK/secret" --http 127.0.0.1:0 --state-dir "$WORK/state" --namespace "$NS" --leader-elect --lease-namespace "$NS" \
  --webhook "$HOST_IP:0" --webhook-names "openmb-webhook.$API_NS.svc,$HOST_IP" >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
address_of() { sed -n "s/^$1 \(.*\)\$/\1/p" "$WORK/operator.log" | head -n 1; }
started() { [[ -n $(address_of http) && -n $(address_of webhook) ]]; }
wait_until 60 "operator started" started
HTTP="http://$(address_of http)"
WEBHOOK_PORT="$(address_of webhook)"
WEBHOOK_PORT="${WEBHOOK_PORT##*:}"
pass "operator running (pid $OPERATOR_PID, Pod runtime, webhook on $HOST_IP:$WEBHOOK_PORT)"

REGISTERED=1
sed -e "s/10\.250\.0\.1/$HOST_IP/" -e "s/targetPort: 9443/targetPort: $WEBHOOK_PORT/" -e "s/port: 9443/port: $WEBHOOK_PORT/" "$ROOT/manifests/webhook/service.yaml" |
  kubectl apply -f - >/dev/null 2>"$WORK/apply.log" || fail "apply the webhook's Service and Endpoints: $(cat "$WORK/apply.log")"
sed "s|CA_BUNDLE|$(base64 -w0 "$WORK/state/webhook/ca.crt")|" "$ROOT/manifests/webhook/validatingwebhookconfiguration.yaml" | kubectl apply -f - >/dev/null 2>"$WORK/apply.log" ||
  fail "apply the ValidatingWebhookConfiguration: $(cat "$WORK/apply.log")"
pass "ValidatingWebhookConfiguration $WEBHOOK registered, its Service's Endpoints at $HOST_IP:$WEBHOOK_PORT"

# --- the reference: one unscaled instance, the same change at the same packet -----------------------
printf '{"rules": ["alert id=every-get msg=\\"a GET request\\" method=GET"]}\n' >"$WORK/every-get.json"
"${OPENMB[@]}" local --middlebox ids --trace "$TRACE" --out "$WORK/reference" --rate 2000 --reconfigure "$AT:$WORK/every-get.json" >"$WORK/reference.log" 2>&1 ||
  fail "unscaled reference run (see $WORK/reference.log)"
SPLIT=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).reconfigurations[0].packet)' "$WORK/reference/report.json")
node "$ROOT/e2e/reconfigure/split.mjs" "$TRACE" "$SPLIT" "$WORK/before.pcap" "$WORK/after.pcap" >"$WORK/split.log" || fail "split the capture at $SPLIT"
count_alerts() { node -e 'const a = JSON.parse(require("fs").readFileSync(process.argv[1])).outputs.alerts; const by = {}; for (const x of a) by[x.rule] = (by[x.rule] ?? 0) + 1; console.log(JSON.stringify(by))' "$1"; }
pass "unscaled reference: $(head -n 2 "$WORK/reference.log" | tr '\n' ' '); alerts by rule $(count_alerts "$WORK/reference/report.json"); the capture split at packet $SPLIT ($(cat "$WORK/split.log"))"

# --- a live ids pool of two, on the sample rules -----------------------------------------------------
k apply -f - >/dev/null 2>"$WORK/apply.log" <<EOF || fail "kubectl apply the pool: $(cat "$WORK/apply.log")"
apiVersion: openmb.io/v1alpha1
kind: MiddleboxPool
metadata:
  name: $POOL
spec:
  middlebox: {type: ids}
  replicas: 2
  migration: {guarantee: loss-free}
  template:
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 512Mi}}
EOF
check_scaled 2
# on_generation G: status.configuration.generation is G, and every instance reports it.
on_generation() {
  [[ $(pool_field '{.status.configuration.generation}') == "$1" ]] || return 1
  local gens
  gens=$(pool_field '{range .status.instances[*]}{.configGeneration}{"\n"}{end}')
  [[ -n $gens && -z $(grep -vx "$1" <<<"$gens") ]]
}
instance_generations() { pool_field '{range .status.instances[*]}{.name}={.configGeneration} {end}'; }
GEN1=$(pool_field '{.metadata.generation}')
on_generation "$GEN1" || fail "the instances do not report configuration generation $GEN1: $(instance_generations)"
pass "every instance runs configuration generation $GEN1: $(instance_generations)"
SWITCH=$(pool_field '{.status.switch.address}')
fetch_tls "$NS" "$WORK/tls"
replay() {
  OPENMB_SECRET="$(cat "$WORK/secret")" "${OPENMB[@]}" replay --trace "$1" --switch "$SWITCH" --tls-dir "$WORK/tls" --rate "$RATE" >"$WORK/replay.out" 2>"$WORK/replay.log" &
  REPLAY_PID=$!
  log "replaying $(basename "$1") at $RATE packets/s into the switch Pod"
}
outputs() { curl -sf -H "Authorization: Bearer $(cat "$WORK/secret")" "$HTTP/pools/$NS/$POOL/outputs" >"$1" || fail "GET /pools/$NS/$POOL/outputs"; }

replay "$WORK/before.pcap"
finish_replay
outputs "$WORK/outputs-before.json"
pass "the capture up to packet $SPLIT replayed and processed ($(cat "$WORK/replay.out")); alerts so far by rule $(count_alerts "$WORK/outputs-before.json")"

# --- the new rule set on the live pool ------------------------------------------------------------
k get mbp "$POOL" -w -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="Progressing")].reason} {.status.configuration.generation}{"\n"}' >"$WORK/watch.txt" 2>/dev/null &
WATCH_PID=$!
sleep 1
k patch mbp "$POOL" --type merge -p "{\"spec\":{\"middlebox\":{\"config\":$(cat "$WORK/every-get.json")}}}" >/dev/null 2>"$WORK/patch.log" ||
  fail "kubectl patch the rule set: $(cat "$WORK/patch.log")"
GEN2=$(pool_field '{.metadata.generation}')
log "kubectl patch mbp/$POOL: spec.middlebox.config.rules = every GET (generation $GEN2)"
reconfigured() { converged && on_generation "$GEN2"; }
wait_until "$TIMEOUT" "every instance runs configuration generation $GEN2" reconfigured
kill "$WATCH_PID" 2>/dev/null
WATCH_PID=""
grep -q "^Reconfiguring Reconfiguring $GEN2\$" "$WORK/watch.txt" || fail "the pool never showed phase Reconfiguring with Progressing=True (Reconfiguring) at generation $GEN2: $(tr '\n' '|' <"$WORK/watch.txt")"
pass "kubectl get -w saw: $(uniq "$WORK/watch.txt" | tr '\n' '|')"
pass "every instance runs configuration generation $GEN2: $(instance_generations); event: $(k get events --field-selector involvedObject.kind=MiddleboxPool,reason=Reconfigured -o jsonpath='{.items[-1:].message}')"

k scale mbp/"$POOL" --replicas=3 >/dev/null || fail "kubectl scale --replicas=3"
log "kubectl scale mbp/$POOL --replicas=3"
check_scaled 3
on_generation "$GEN2" || fail "after the scale-up, not every instance runs configuration generation $GEN2: $(instance_generations)"
pass "the instance the scale-up added runs the new configuration too: $(instance_generations)"

replay "$WORK/after.pcap"
finish_replay
outputs "$WORK/outputs.json"
node "$ROOT/e2e/operator/compare.mjs" "$WORK/outputs.json" "$WORK/reference/report.json" alerts connections counters >"$WORK/compare.txt" ||
  fail "the pool's outputs differ from the unscaled instance given the same change: $(cat "$WORK/compare.txt")"
sed 's/^/    /' "$WORK/compare.txt"
BEFORE_GETS=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).outputs.alerts.filter((a) => a.rule === "every-get").length)' "$WORK/outputs-before.json")
AFTER_GETS=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).outputs.alerts.filter((a) => a.rule === "every-get").length)' "$WORK/outputs.json")
((BEFORE_GETS == 0 && AFTER_GETS > 0)) || fail "every-get alerts: $BEFORE_GETS before the change (want 0), $AFTER_GETS at the end (want some)"
pass "alerts by rule $(count_alerts "$WORK/outputs.json"): the sample rules' before packet $SPLIT, $AFTER_GETS every-get after, equal to the unscaled instance's"
[[ -z $(failed_ops) ]] || fail "failed operations: $(failed_ops)"

# --- wrong configurations refused at apply time -----------------------------------------------------
# refused NAME TYPE CONFIG_JSON EXPECTED: kubectl apply of a pool with CONFIG fails with EXPECTED in its message.
refused() {
  local out
  if out=$(k apply -f - 2>&1 <<EOF
apiVersion: openmb.io/v1alpha1
kind: MiddleboxPool
metadata:
  name: $1
spec:
  middlebox: {type: $2, config: $3}
EOF
  ); then fail "kubectl apply of a $2 pool with config $3 was accepted"; fi
  [[ $out == *'denied the request'* && $out == *"$4"* ]] || fail "$2: expected the webhook's refusal with \"$4\", got: $out"
  pass "$2: kubectl apply refused: $out"
}
refused wrong-ids ids '{"rules": ["alert id=every-get msg=\"a GET\" method=GET", "alert id=bad msg=bad uri~\"/x"]}' \
  'spec.middlebox.config.rules[1]: column 26: string is not closed with "'
refused wrong-monitor monitor '{"hosts": "yes"}' 'spec.middlebox.config.hosts: must be true or false, got "yes"'
refused wrong-nat nat '{"portRange": [2000, 1000]}' 'spec.middlebox.config.portRange: [2000, 1000] is inverted: first must not exceed last'
refused wrong-re re '{"cacheBytes": 512}' 'spec.middlebox.config.cacheBytes: 512 is smaller than maxChunk 1024: every chunk must fit in the cache'
[[ -z $(k get mbp -o name | grep -v "/$POOL\$") ]] || fail "a refused pool was created: $(k get mbp -o name)"
GEN3=$(pool_field '{.metadata.generation}')
if out=$(k patch mbp "$POOL" --type merge -p '{"spec":{"middlebox":{"config":{"portScanThreshold":0}}}}' 2>&1); then fail "a wrong patch of the live pool was accepted"; fi
[[ $out == *'spec.middlebox.config.portScanThreshold: must be a positive integer'* ]] || fail "the wrong patch was refused without the field: $out"
[[ $(pool_field '{.metadata.generation}') == "$GEN3" && $(pool_field '{.status.configuration.generation}') == "$GEN2" ]] || fail "the refused patch changed the pool"
pass "a wrong patch of the live pool is refused ($out); the pool stays at generation $GEN3, its configuration at $GEN2"
k create configmap not-a-pool --from-literal=a=b >/dev/null || fail "a ConfigMap was refused"
k scale mbp/"$POOL" --replicas=2 >/dev/null || fail "kubectl scale (the scale subresource) was refused"
check_scaled 2
pass "other resources and the scale subresource do not go through the webhook"

log "kubectl get mbp,sop -n $NS"
k get mbp,sop -o wide | sed 's/^/    /'
log "PASS: reconfigure e2e"
