#!/usr/bin/env bash
# run.sh - every end-to-end suite against a real Kubernetes API server (`npm run e2e`).
#
# Builds the Kubernetes binaries once (cached under ~/.cache/openmb/), puts them first on PATH,
# then runs the CRD suite, the manifests suite (kubectl apply -k manifests/, the operator's
# RBAC), the operator suite (process runtime), the metrics suite (the custom metrics API through
# the aggregation layer, and /metrics), the Pod suite (Pod runtime on a real node: containerd
# and a kubelet; needs root) and the in-cluster suite (the operator itself a Pod, installed with
# kubectl apply -k). Each suite uses $KUBECONFIG when it is set
# (any cluster, e.g. kind), and otherwise starts its own control plane on loopback (and, for the
# Pod suite, its own node) and stops it when done.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$(bash "$ROOT/e2e/controlplane/build.sh")"
export PATH="$BIN_DIR:$PATH"
bash "$ROOT/e2e/crds/crds.test.sh"
bash "$ROOT/e2e/manifests/manifests.e2e.sh"
bash "$ROOT/e2e/operator/operator.e2e.sh"
bash "$ROOT/e2e/metrics/metrics.e2e.sh"
bash "$ROOT/e2e/pods/pods.e2e.sh"
bash "$ROOT/e2e/incluster/incluster.e2e.sh"
echo "e2e: all suites passed"
