#!/usr/bin/env bash
# up.sh - start a real Kubernetes node (containerd + runc + bridge CNI + kubelet) and a scheduler.
#
# Usage: e2e/node/up.sh RUN CP
#
# CP is a control plane directory started by e2e/controlplane/up.sh (its kubeconfig, ca.crt,
# ca.key and ports.env are used). RUN (created) receives the node's configuration, certificates,
# containerd's root and state, the kubelet's root, logs (RUN/*.log) and pid files. Needs root.
# The node:
#   - holds NODE_IP on a port-less bridge of its own (the kernel may lack a dummy driver), so
#     the kubelet serves on NODE_IP:10250 and nothing listens on the machine's real interfaces;
#   - runs containerd (socket RUN/containerd/containerd.sock) with a bridge CNI network: Pods
#     get addresses from POD_SUBNET on cni0, whose gateway (.1) is the host;
#   - uses a sandbox image built locally (e2e/image/pause.sh); other images come in with
#     e2e/node/import.sh RUN IMAGE.tar and run with imagePullPolicy: Never (no registry);
#   - runs kube-scheduler (on 127.0.0.1) so Pods without spec.nodeName get placed.
# Waits until the Node is Ready and a test Pod was scheduled and ran, then prints `export`
# lines (NODE_NAME, NODE_IP, POD_SUBNET, POD_GATEWAY, CONTAINERD_ADDRESS,
# CONTAINERD_NAMESPACE, OPENMB_NODE_RUN) and writes them to RUN/node.env. Stop it with
# e2e/node/down.sh RUN, which also undoes what the kubelet and CNI changed on the machine; it
# runs by itself when up.sh fails, and e2e/controlplane/down.sh CP runs it first too.
# One node runs on a machine at a time: the kubelet always uses /var/lib/kubelet/device-plugins
# and /var/log/containers.
#
# Pods reach a process on the host at NODE_IP or POD_GATEWAY, never at 127.0.0.1: the kubelet
# installs a KUBE-FIREWALL rule that drops traffic to 127.0.0.0/8 not coming from loopback.
# Pods have routes only to POD_SUBNET and NODE_IP (no default route), so nothing in them can
# reach beyond this machine.
#
# Env:
#   NODE_NAME     node name (default openmb-node); also the node bridge's name
#   NODE_IP       the node's address (default 10.250.0.1)
#   POD_SUBNET    a /24 for Pod addresses (default 10.244.0.0/24)
#   KUBE_BIN_DIR  dir with kubelet and kube-scheduler (default: output of
#                 e2e/controlplane/build.sh, which builds them if needed)
#   UP_TIMEOUT    seconds to wait for each step (default 120)
#   KUBELET_ARGS, KUBE_SCHEDULER_ARGS   extra flags (space-separated)
set -euo pipefail

[[ $# -eq 2 && $1 != -* && $2 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
mkdir -p "$1"
RUN="$(cd "$1" && pwd)"
CP="$(cd "$2" && pwd)"
TIMEOUT="${UP_TIMEOUT:-120}"
NODE_NAME="${NODE_NAME:-openmb-node}"
NODE_IP="${NODE_IP:-10.250.0.1}"
POD_SUBNET="${POD_SUBNET:-10.244.0.0/24}"
POD_GATEWAY="${POD_SUBNET%.*/*}.1"
SANDBOX_IMAGE=localhost/openmb/pause:dev
# The machine-wide marker of the node that runs here (its RUN dir); down.sh removes it.
MARKER=/run/openmb-node.run

die() { echo "up.sh: $*" >&2; exit 1; }
((EUID == 0)) || die "must run as root (containerd, network and cgroups)"
[[ $POD_SUBNET =~ ^[0-9]+\.[0-9]+\.[0-9]+\.0/24$ ]] || die "POD_SUBNET must be a /24 (a.b.c.0/24)"
[[ $NODE_NAME =~ ^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$ ]] ||
  die "NODE_NAME must be a DNS label of at most 15 characters (it names the bridge too)"
for c in containerd containerd-shim-runc-v2 ctr runc ip iptables nft openssl curl kubectl findmnt; do
  command -v "$c" >/dev/null || die "$c not found in PATH (apt-get install containerd runc iptables nftables)"
done
for p in bridge host-local loopback; do
  [[ -x /usr/lib/cni/$p ]] || die "/usr/lib/cni/$p missing (apt-get install containernetworking-plugins)"
done
for f in kubeconfig ca.crt ca.key ports.env; do [[ -f $CP/$f ]] || die "$CP/$f missing: start the control plane with e2e/controlplane/up.sh $CP"; done
BIN="${KUBE_BIN_DIR:-$(bash "$ROOT/e2e/controlplane/build.sh")}"
[[ -x $BIN/kubelet && -x $BIN/kube-scheduler ]] || die "kubelet or kube-scheduler missing in $BIN"
k() { kubectl --kubeconfig "$CP/kubeconfig" --request-timeout=10s "$@"; }
k get --raw /readyz >/dev/null 2>&1 || die "the API server of $CP does not answer"

# A node left behind by a run that was never torn down: clean it up if it is dead, refuse if not.
if [[ -f $MARKER ]]; then
  old="$(cat "$MARKER")"
  for p in "$old"/{kubelet,containerd,kube-scheduler}.pid; do
    [[ -f $p ]] && kill -0 "$(cat "$p")" 2>/dev/null && die "a node is running from $old (stop it: e2e/node/down.sh $old)"
  done
  echo "up.sh: tearing down a stale node left in $old" >&2
  bash "$HERE/down.sh" "$old" >&2
fi
ip link show cni0 >/dev/null 2>&1 && die "cni0 exists: another node or CNI network uses this machine"
ip -o addr show | grep -qw "inet $NODE_IP" && die "$NODE_IP is already assigned on this machine"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free port"
}
SCHED_PORT="$(free_port)"
HEALTHZ_PORT="$(free_port)"
[[ $SCHED_PORT != "$HEALTHZ_PORT" ]] || HEALTHZ_PORT="$(free_port)"

# --- record what the node changes on the machine, before it changes it ------------------------
# down.sh restores the sysctls, deletes the nft tables that were not there, and removes the
# well-known paths that did not exist. The marker goes first so that a failure from here on
# is cleaned up by down.sh.
echo "$RUN" >"$MARKER"
echo "$CP" >"$RUN/cp"
cleanup_on_failure() {
  local rc=$?
  ((rc == 0)) && return
  echo "up.sh: failed (exit $rc); tearing the node down" >&2
  bash "$HERE/down.sh" "$RUN" >&2 || true
  exit "$rc"
}
trap cleanup_on_failure EXIT
mkdir -p "$RUN/state"
printf '%s\n' "$NODE_NAME" >"$RUN/state/node-name"
# The kubelet sets the first six (its kernel tunables); the bridge plugin turns on forwarding.
for s in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward \
  net.ipv6.conf.all.forwarding net.bridge.bridge-nf-call-iptables; do
  f="/proc/sys/${s//.//}"
  if [[ -f $f ]]; then echo "$s=$(cat "$f")"; fi
done >"$RUN/state/sysctl"
nft list tables >"$RUN/state/nft-tables" 2>/dev/null || : >"$RUN/state/nft-tables"
for p in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd \
  /run/netns /opt/containerd /usr/libexec/kubernetes /etc/cni /opt/cni; do
  if [[ -e $p ]]; then echo "$p"; fi
done >"$RUN/state/paths-existing"
# e2e/controlplane/down.sh stops this node first: a kubelet must not outlive its API server.
echo "$RUN" >"$CP/node.run"

# --- certificates, signed by the control plane's CA ----------------------------------------
mkdir -p "$RUN/pki"
# sign NAME SUBJECT EXTENSIONS: RUN/pki/NAME.{key,crt}
# shellcheck source=e2e/lib/pki.sh
source "$HERE/../lib/pki.sh"
sign() { sign_cert "$CP" "$RUN/pki/$1" "$2" "$3"; }
# The Node authorizer and NodeRestriction admit a kubelet by this exact identity.
sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "extendedKeyUsage=clientAuth"
# The API server checks this against the CA (--kubelet-certificate-authority) when it dials
# NODE_IP for logs and exec.
sign kubelet-serving "/CN=$NODE_NAME" "extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
# RBAC bootstraps the scheduler's permissions for this user name.
sign kube-scheduler /CN=system:kube-scheduler "extendedKeyUsage=clientAuth"

APISERVER_PORT="$(sed -n 's/^APISERVER_PORT=//p' "$CP/ports.env")"
kubeconfig() { write_kubeconfig "$RUN/$1.kubeconfig" "$APISERVER_PORT" "$CP/ca.crt" "$1" "$RUN/pki/$1"; }
kubeconfig kubelet
kubeconfig kube-scheduler

# --- processes -------------------------------------------------------------------------------
start() {
  local name=$1; shift
  echo "up.sh: starting $name" >&2
  nohup "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}
fail() {
  echo "up.sh: $1; last lines of $RUN/$2.log:" >&2
  tail -n 30 "$RUN/$2.log" >&2
  exit 1
}
# wait_for WHAT LOG CMD...: poll CMD until it succeeds or TIMEOUT expires
wait_for() {
  local what=$1 log=$2 deadline=$((SECONDS + TIMEOUT)); shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$RUN/$log.pid")" 2>/dev/null || fail "$log exited" "$log"
    ((SECONDS < deadline)) || fail "timed out after ${TIMEOUT}s waiting for $what" "$log"
    sleep 0.5
  done
}

# --- network: the node's address, the Pod network ---------------------------------------------
ip link add "$NODE_NAME" type bridge
ip addr add "$NODE_IP/32" dev "$NODE_NAME"
ip link set "$NODE_NAME" up

mkdir -p "$RUN/cni/net.d" "$RUN/cni/ipam"
# hairpinMode: a Pod may reach itself through the bridge. ipMasq off and no default route:
# Pods talk to each other, to the gateway and to NODE_IP, nothing else.
cat >"$RUN/cni/net.d/10-openmb.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "openmb-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "$NODE_IP/32"}],
        "dataDir": "$RUN/cni/ipam"
      }
    }
  ]
}
EOF

# --- containerd ------------------------------------------------------------------------------
# Everything under RUN except what containerd 1.6 hard-codes (/run/containerd for shim sockets
# and runc state). restrict_oom_score_adj: root here may not lower oom_score_adj, and without
# it every sandbox fails ("can't get final child's PID from pipe: EOF").
# netns_mounts_under_state_dir: Pod network namespaces are mounted under RUN, not /run/netns.
mkdir -p "$RUN/containerd"
cat >"$RUN/containerd/config.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$RUN/containerd/containerd.sock"
[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
EOF
SOCK="$RUN/containerd/containerd.sock"
start containerd containerd --config "$RUN/containerd/config.toml"
wait_for "containerd" containerd ctr --address "$SOCK" version

# The sandbox image must be there before the first Pod: nothing can pull it.
mkdir -p "$RUN/images"
bash "$ROOT/e2e/image/pause.sh" "$RUN/images/pause.tar" "$SANDBOX_IMAGE" >/dev/null
bash "$HERE/import.sh" "$RUN" "$RUN/images/pause.tar" >&2

# --- kube-scheduler ------------------------------------------------------------------------------
# shellcheck disable=SC2086 # *_ARGS are word-split on purpose
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig "$RUN/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$RUN/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$RUN/kube-scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false \
  ${KUBE_SCHEDULER_ARGS:-}
wait_for "kube-scheduler /healthz" kube-scheduler curl -ksf "https://127.0.0.1:$SCHED_PORT/healthz"

# --- kubelet ---------------------------------------------------------------------------------
# failCgroupV1: this machine has cgroup v1. cgroupfs: no systemd. resolvConf "" and
# clusterDNS = NODE_IP: Pods get no nameserver or search domain of the host's, so no lookup
# leaves the machine (nothing answers on NODE_IP:53 unless a suite runs a server there), and
# ClusterFirst Pods raise no MissingClusterDNS events. Image GC off (high threshold 100):
# images imported by hand cannot be pulled again. Eviction only when really out of space.
# podLogsDir and volumePluginDir under RUN; /var/log/containers and
# /var/lib/kubelet/device-plugins are hard-coded in the kubelet.
cat >"$RUN/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $HEALTHZ_PORT
tlsCertFile: $RUN/pki/kubelet-serving.crt
tlsPrivateKeyFile: $RUN/pki/kubelet-serving.key
podLogsDir: $RUN/kubelet-pod-logs
volumePluginDir: $RUN/kubelet-volume-plugins
resolvConf: ""
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $CP/ca.crt}
authorization:
  mode: Webhook
rotateCertificates: false
serverTLSBootstrap: false
EOF
# shellcheck disable=SC2086
start kubelet "$BIN/kubelet" \
  --config "$RUN/kubelet-config.yaml" \
  --kubeconfig "$RUN/kubelet.kubeconfig" \
  --root-dir "$RUN/kubelet" --cert-dir "$RUN/pki" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
  ${KUBELET_ARGS:-}
wait_for "kubelet /healthz" kubelet curl -sf "http://127.0.0.1:$HEALTHZ_PORT/healthz"
node_ready() {
  [[ "$(k get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_for "node $NODE_NAME Ready" kubelet node_ready

# --- a Pod, scheduled and run ---------------------------------------------------------------
# Proves the scheduler, the kubelet, containerd, runc and CNI together (the controller-manager
# removes the not-ready taint a moment after Ready, and scheduling waits for that).
k -n default delete pod openmb-node-check --ignore-not-found --wait=true >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: openmb-node-check, namespace: default}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - name: check
    image: $SANDBOX_IMAGE
    imagePullPolicy: Never
EOF
pod_running() {
  [[ "$(k -n default get pod openmb-node-check -o jsonpath='{.status.phase}/{.status.podIP}')" == Running/"${POD_SUBNET%.*/*}".* ]]
}
wait_for "test Pod Running with an IP" kubelet pod_running
k -n default delete pod openmb-node-check --wait=true >/dev/null

cat >"$RUN/node.env" <<EOF
export NODE_NAME=$NODE_NAME
export NODE_IP=$NODE_IP
export POD_SUBNET=$POD_SUBNET
export POD_GATEWAY=$POD_GATEWAY
export CONTAINERD_ADDRESS=$SOCK
export CONTAINERD_NAMESPACE=k8s.io
export OPENMB_NODE_RUN=$RUN
EOF
trap - EXIT
echo "up.sh: node $NODE_NAME ready (kubelet https://$NODE_IP:10250, Pods on $POD_SUBNET)" >&2
cat "$RUN/node.env"
