#!/usr/bin/env bash
# smoke.sh - prove the local control plane works end to end.
#
# Usage: e2e/controlplane/smoke.sh [DIR]
#
# Runs up.sh DIR (default: a new temp dir), then checks: namespaces list; a
# CRD with a CEL validation rule and status/scale subresources; a custom
# object, rejected when the rule fails, scaled with `kubectl scale`; garbage
# collection of a ConfigMap whose owner ConfigMap was deleted. down.sh runs
# on exit, whatever happens.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${1:-$(mktemp -d /tmp/openmb-cp.XXXXXX)}"
trap '"$HERE/down.sh" "$DIR"' EXIT

"$HERE/up.sh" "$DIR"
k() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }
step() { echo "smoke.sh: $*" >&2; }
fail() { echo "smoke.sh: FAIL: $*" >&2; exit 1; }
# until_true SECONDS CMD...: poll CMD until it succeeds
until_true() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 1; done
}

step "server version: $(k get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')"
step "namespaces"
k get ns

step "CRD with CEL validation and status/scale subresources"
k apply -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.openmb.test
spec:
  group: smoke.openmb.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
            x-kubernetes-validations:
            - rule: "!has(self.replicas) || self.replicas <= 5"
              message: replicas must be at most 5
          status:
            type: object
            properties:
              replicas: {type: integer}
EOF
k wait --for condition=established --timeout=60s crd/widgets.smoke.openmb.test
# Discovery of the new type can lag a moment behind Established.
until_true 30 k get widgets.smoke.openmb.test || fail "widgets not served"

widget() {
  printf 'apiVersion: smoke.openmb.test/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {replicas: %s}\n' "$1"
}
widget 1 | k apply -f -
step "CEL rule rejects replicas=9"
if out="$(widget 9 | k apply -f - 2>&1)"; then fail "replicas=9 was accepted"; fi
grep -q 'replicas must be at most 5' <<<"$out" || fail "unexpected error: $out"

step "status subresource and kubectl scale"
k patch widget w1 --subresource=status --type=merge -p '{"status":{"replicas":1}}'
k scale widget w1 --replicas=3
[[ "$(k get widget w1 -o jsonpath='{.spec.replicas}')" == 3 ]] || fail "scale did not set spec.replicas"
k get --raw /apis/smoke.openmb.test/v1/namespaces/default/widgets/w1/scale | grep -q '"replicas":3' ||
  fail "scale subresource does not report replicas 3"

step "garbage collection of a dependent whose owner was deleted"
k create configmap gc-owner --from-literal=a=b
uid="$(k get configmap gc-owner -o jsonpath='{.metadata.uid}')"
k apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: gc-child
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: gc-owner, uid: $uid}
data: {a: b}
EOF
k delete configmap gc-owner
until_true 60 bash -c "! kubectl --kubeconfig '$DIR/kubeconfig' get configmap gc-child" ||
  fail "gc-child was not garbage-collected"

step "PASS"
