#!/usr/bin/env bash
# manifests.e2e.sh - the install manifests on a real API server: `kubectl apply -k manifests/`,
# the operator's RBAC checked with `kubectl auth can-i`, and every sample accepted.
#
# Usage: e2e/manifests/manifests.e2e.sh
#
# Uses $KUBECONFIG if set; otherwise starts a control plane (e2e/controlplane/up.sh) in a
# temporary directory and stops it on exit. Applies manifests/ with kustomize (kubectl's own),
# waits for the CRDs, then asks the API server, as the operator's ServiceAccount, what it may do:
# everything the operator does (pools, StateOperations and their status, the Pods of pools,
# Events, its two Secrets by name, its Lease, a label on its own Pod), and none of what it must
# not (read other Secrets or list them, create workloads other than Pods, touch RBAC, patch Pods
# outside its namespace, patch another webhook configuration). With no operator serving the
# MiddleboxPool webhook, a pool is refused (it fails closed) and a ConfigMap is not; then, the
# webhook configuration deleted, applies each sample with a server-side dry run.
# Prints PASS/FAIL per check; exits non-zero if any failed.
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/openmb-manifests-e2e.XXXXXX")"
CP_DIR=""
PASSED=0
FAILED=0
cleanup() {
  local rc=$?
  set +e
  [[ -n $CP_DIR ]] && "$ROOT/e2e/controlplane/down.sh" "$CP_DIR" >/dev/null 2>&1
  if ((rc == 0 && FAILED == 0)); then rm -rf "$WORK"; else echo "manifests.e2e.sh: logs kept in $WORK" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

if [[ -z ${KUBECONFIG:-} ]]; then
  CP_DIR="$WORK/controlplane"
  "$ROOT/e2e/controlplane/up.sh" "$CP_DIR" >/dev/null
  export KUBECONFIG="$CP_DIR/kubeconfig"
fi

if out=$(kubectl apply -k "$ROOT/manifests/" 2>&1); then pass "kubectl apply -k manifests/ ($(grep -c . <<<"$out") objects)"; else fail "kubectl apply -k manifests/: $out"; exit 1; fi
kubectl wait --for condition=established --timeout=60s crd/middleboxpools.openmb.io crd/stateoperations.openmb.io >/dev/null &&
  pass "the CRDs are established" || fail "the CRDs are not established"
kubectl create namespace tenant-a >/dev/null

SA=system:serviceaccount:openmb-system:openmb-operator
# may VERB RESOURCE [NAMESPACE]: the operator's ServiceAccount is allowed to.
may() {
  local ns=(--all-namespaces)
  [[ -n ${3:-} ]] && ns=(-n "$3")
  if [[ $(kubectl auth can-i "$1" "$2" --as "$SA" "${ns[@]}" 2>/dev/null) == yes ]]; then pass "may $1 $2 ${3:+in $3}"; else fail "should be allowed: $1 $2 ${3:+in $3}"; fi
}
# may_not VERB RESOURCE [NAMESPACE]: it is refused.
may_not() {
  local ns=(--all-namespaces)
  [[ -n ${3:-} ]] && ns=(-n "$3")
  if [[ $(kubectl auth can-i "$1" "$2" --as "$SA" "${ns[@]}" 2>/dev/null) == no ]]; then pass "may not $1 $2 ${3:+in $3}"; else fail "should be refused: $1 $2 ${3:+in $3}"; fi
}
for verb in get list watch create patch; do may "$verb" middleboxpools.openmb.io; may "$verb" stateoperations.openmb.io; done
may patch middleboxpools.openmb.io/status tenant-a
may patch stateoperations.openmb.io/status tenant-a
for verb in get list watch create delete; do may "$verb" pods tenant-a; done
may create events tenant-a
may create secrets tenant-a
may get secrets/openmb-tls tenant-a
may update secrets/openmb-shared-secret tenant-a
may get leases.coordination.k8s.io openmb-system
may update leases.coordination.k8s.io openmb-system
may patch pods openmb-system
may patch apiservices.apiregistration.k8s.io/v1beta2.custom.metrics.k8s.io
may get configmaps/extension-apiserver-authentication kube-system
may patch validatingwebhookconfigurations.admissionregistration.k8s.io/openmb-validation

may_not get secrets/someone-elses tenant-a
may_not list secrets tenant-a
may_not watch secrets tenant-a
may_not delete secrets/openmb-tls tenant-a
may_not patch pods tenant-a
may_not update pods tenant-a
may_not get leases.coordination.k8s.io tenant-a
for r in deployments.apps statefulsets.apps daemonsets.apps replicasets.apps jobs.batch services; do may_not create "$r" tenant-a; done
may_not delete middleboxpools.openmb.io
for r in roles.rbac.authorization.k8s.io rolebindings.rbac.authorization.k8s.io clusterroles.rbac.authorization.k8s.io clusterrolebindings.rbac.authorization.k8s.io; do
  may_not create "$r"
  may_not patch "$r"
done
may_not escalate clusterroles.rbac.authorization.k8s.io
may_not patch apiservices.apiregistration.k8s.io/v1beta1.metrics.k8s.io
may_not patch validatingwebhookconfigurations.admissionregistration.k8s.io/someone-elses
may_not get configmaps/other kube-system
if [[ $(kubectl auth can-i create pods --subresource=exec --as "$SA" -n tenant-a 2>/dev/null) == no ]]; then pass "may not exec into Pods"; else fail "should be refused: exec into Pods"; fi

# No operator runs here, so nothing serves the MiddleboxPool webhook: it fails closed for pools
# only. Then, without it, the samples are checked against the schema alone.
if out=$(kubectl apply --dry-run=server -n tenant-a -f "$ROOT/manifests/samples/monitor-pool.yaml" 2>&1); then
  fail "a pool was admitted while nothing serves the webhook"
elif [[ $out == *'"middleboxpools.validate.openmb.io"'* ]]; then pass "the webhook fails closed for a pool while no operator serves it: $(head -c 200 <<<"$out")"
else fail "a pool refused without naming the webhook: $out"; fi
if out=$(kubectl create configmap not-a-pool -n tenant-a --from-literal=a=b --dry-run=server 2>&1); then pass "other resources do not go through the webhook"; else fail "a ConfigMap was refused: $out"; fi
kubectl delete validatingwebhookconfiguration openmb-validation >/dev/null
for f in "$ROOT"/manifests/samples/*.yaml; do
  if out=$(kubectl apply --dry-run=server -n tenant-a -f "$f" 2>&1); then pass "sample $(basename "$f") accepted"; else fail "sample $(basename "$f"): $out"; fi
done

echo "manifests.e2e.sh: $PASSED passed, $FAILED failed"
((FAILED == 0))
