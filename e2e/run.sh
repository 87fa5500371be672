#!/usr/bin/env bash
# run.sh - every end-to-end suite against a real Kubernetes API server (`npm run e2e`).
#
# Builds kube-apiserver, kube-controller-manager and kubectl once (cached under
# ~/.cache/openmb/), puts them first on PATH, then runs the CRD suite and the operator suite.
# Each suite uses $KUBECONFIG when it is set (any cluster, e.g. kind), and otherwise starts its
# own control plane on loopback and stops it when done.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$(bash "$ROOT/e2e/controlplane/build.sh")"
export PATH="$BIN_DIR:$PATH"
bash "$ROOT/e2e/crds/crds.test.sh"
bash "$ROOT/e2e/operator/operator.e2e.sh"
echo "e2e: all suites passed"
