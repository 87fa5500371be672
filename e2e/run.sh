#!/usr/bin/env bash
# run.sh - every end-to-end suite against a real Kubernetes API server (`npm run e2e`).
#
# Builds the Kubernetes binaries once (cached under ~/.cache/openmb/), puts them first on PATH,
# then runs, in order: the CRD suite; the manifests suite (kubectl apply -k manifests/, the
# operator's RBAC); the operator suite (process runtime); the handoff suite (two operator
# replicas, the leader SIGKILLed mid-move: the standby takes the move over under traffic); the
# metrics suite (the custom metrics API through the aggregation layer, and /metrics); and, on a real node (containerd and a
# kubelet; needs root), the Pod suite (Pod runtime), the egress suite (a nat and an re pool's
# emitted packets at an `openmb sink` while they scale), the reconfiguration suite (an ids pool's
# rules changed under traffic, wrong configurations refused by the admission webhook), the in-cluster suite (the operator itself a
# Pod, installed with kubectl apply -k) and the HPA suite (an autoscaling/v2 HPA scales a pool on
# its load). The first five use $KUBECONFIG when it is set (any cluster, e.g. kind), and
# otherwise start their own control plane on loopback; the node suites start their own cluster
# and node (the Pod suite also runs on $KUBECONFIG), and stop them when done.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$(bash "$ROOT/e2e/controlplane/build.sh")"
export PATH="$BIN_DIR:$PATH"
bash "$ROOT/e2e/crds/crds.test.sh"
bash "$ROOT/e2e/manifests/manifests.e2e.sh"
bash "$ROOT/e2e/operator/operator.e2e.sh"
bash "$ROOT/e2e/handoff/handoff.e2e.sh"
bash "$ROOT/e2e/metrics/metrics.e2e.sh"
bash "$ROOT/e2e/pods/pods.e2e.sh"
bash "$ROOT/e2e/egress/egress.e2e.sh"
bash "$ROOT/e2e/reconfigure/reconfigure.e2e.sh"
bash "$ROOT/e2e/incluster/incluster.e2e.sh"
bash "$ROOT/e2e/hpa/hpa.e2e.sh"
echo "e2e: all suites passed"
