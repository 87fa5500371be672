#!/usr/bin/env bash
# smoke.sh - prove a real node runs the project's image, and that teardown restores the machine.
#
# Usage: e2e/node/smoke.sh
#
# As root. Records the machine's state (links, addresses, routes, nft ruleset, iptables rules,
# mounts, the sysctls a node changes, kubepods cgroups, the kubelet's well-known paths), starts a
# control plane (e2e/controlplane/up.sh) and a node (e2e/node/up.sh) in a new temp dir, builds
# the image (e2e/image/build.sh) and imports it (e2e/node/import.sh), then checks:
#   - a Pod whose containers run `openmb --help` and `openmb switch --help` completes, and
#     `kubectl logs` shows both usages;
#   - a Pod running `openmb switch` (read-only root filesystem, non-root, no capabilities)
#     is Running with an IP in the Pod subnet (kubectl get -o wide), and dials the controller
#     address it was given, a listener on the host at NODE_IP (Pods reach the host there);
#   - a Pod running a TCP server through `node -e` (command override, same security context)
#     answers the host at its Pod IP, `kubectl exec` works in it, and from it the switch Pod's
#     port is reachable (Pod to Pod);
# then tears the node and the control plane down and checks that none of their processes is
# left, that cni0 is gone and that the machine's state is what it was. Prints how long each
# step took. Exits non-zero on any failure; the temp dir (logs) is kept then.
set -euo pipefail

[[ $# -eq 0 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
((EUID == 0)) || { echo "smoke.sh: must run as root" >&2; exit 1; }
WORK="$(mktemp -d /tmp/openmb-node-smoke.XXXXXX)"
CPDIR="$WORK/cp"
RUN="$WORK/node"
T0=$(date +%s%N)
LAST=$T0
TIMES=()

say() { echo "smoke.sh: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
# step NAME: close the previous step's timing and log the next one
elapsed() { local now; now=$(date +%s%N); printf '%d.%01d' $((($1) / 1000000000)) $((($1) / 100000000 % 10)); }
timed() {
  local now; now=$(date +%s%N)
  TIMES+=("$(printf '%-38s %6ss' "$1" "$(elapsed "$now - $LAST")")")
  LAST=$now
}
until_true() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 0.5; done
}

SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv6.conf.all.forwarding"
PATHS="/var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd /run/netns /opt/containerd /usr/libexec/kubernetes /etc/cni /opt/cni /run/openmb-node.run"
machine_state() {
  echo "## links"; ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
  echo "## addresses"; ip -o addr show | awk '{print $2, $4}' | sort
  echo "## routes"; ip route show table all | sort
  # Counters change by themselves; the rules are what matter.
  echo "## nft"; nft list ruleset 2>/dev/null | sed 's/counter packets [0-9]* bytes [0-9]*/counter/'
  echo "## iptables"; iptables -S 2>/dev/null; for t in nat mangle; do iptables -t "$t" -S 2>/dev/null; done
  echo "## mounts"; findmnt -rn -o TARGET,FSTYPE | sort
  echo "## sysctls"; for s in $SYSCTLS; do echo "$s=$(cat "/proc/sys/${s//.//}" 2>/dev/null)"; done
  echo "## cgroups"; ls -d /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods 2>/dev/null || true
  echo "## paths"; for p in $PATHS; do if [[ -e $p ]]; then echo "$p"; fi; done
}
# our_processes: the node's and control plane's processes, and any kubelet or containerd
our_processes() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
    case "$cmd" in
      *"$WORK"*) echo "${p#/proc/} $cmd" ;;
    esac
    case "$(cat "$p/comm" 2>/dev/null)" in
      kubelet | kube-scheduler | containerd | containerd-shim*) echo "${p#/proc/} $cmd" ;;
    esac
  done | sort -u
}

torn_down=0
teardown() {
  ((torn_down)) && return
  torn_down=1
  if [[ -n ${LISTENER_PID:-} ]]; then kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null || true; fi
  bash "$HERE/down.sh" "$RUN" || say "node teardown reported errors"
  bash "$ROOT/e2e/controlplane/down.sh" "$CPDIR" || say "control plane teardown reported errors"
  rm -f "$WORK/openmb.tar"
}
on_exit() {
  local rc=$?
  teardown
  if ((rc == 0)); then rm -rf "$WORK"; else say "logs kept in $WORK"; fi
  exit "$rc"
}
# Before the trap: someone else's node is not ours to tear down.
if our_processes | grep . >&2; then
  rm -rf "$WORK"
  fail "a node is already running on this machine (listed above); one node runs at a time"
fi
trap on_exit EXIT
machine_state >"$WORK/state.before"

BIN="$(bash "$ROOT/e2e/controlplane/build.sh")"
export PATH="$BIN:$PATH"
timed "build (cached) Kubernetes binaries"

say "control plane"
# Capture first: eval "$(failing command)" would succeed.
env_out="$(bash "$ROOT/e2e/controlplane/up.sh" "$CPDIR")" || fail "control plane did not come up"
eval "$env_out"
timed "control plane up"
say "node"
env_out="$(bash "$HERE/up.sh" "$RUN" "$CPDIR")" || fail "node did not come up"
eval "$env_out"
timed "node up (Ready, test Pod ran)"
say "image"
bash "$ROOT/e2e/image/build.sh" "$WORK/openmb.tar" >/dev/null
timed "image build"
bash "$HERE/import.sh" "$RUN" "$WORK/openmb.tar" >/dev/null
timed "image import"

# KUBECONFIG is exported by up.sh's output, for the bash -c checks too.
k() { kubectl --request-timeout=30s "$@"; }
phase() { k get pod "$1" -o jsonpath='{.status.phase}'; }
pod_ip() { k get pod "$1" -o jsonpath='{.status.podIP}'; }
in_subnet() { [[ $1 == "${POD_SUBNET%.*/*}".* ]]; }
SECURE='{runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}'

# A listener on the host at NODE_IP standing in for the controller: it records who connects.
CTRL_PORT=$((20000 + RANDOM % 12000))
node -e "
  const fs = require('fs');
  require('net').createServer((s) => { fs.appendFileSync('$WORK/controller.log', s.remoteAddress + '\n'); s.destroy(); })
    .listen($CTRL_PORT, '$NODE_IP');
" &
LISTENER_PID=$!

say "Pods"
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: smoke-help}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  containers:
  - {name: help, image: openmb:dev, imagePullPolicy: Never, args: [--help], securityContext: $SECURE}
  - {name: switch-help, image: openmb:dev, imagePullPolicy: Never, args: [switch, --help], securityContext: $SECURE}
---
apiVersion: v1
kind: Pod
metadata: {name: smoke-switch}
spec:
  automountServiceAccountToken: false
  containers:
  - name: switch
    image: openmb:dev
    imagePullPolicy: Never
    args: [switch, --listen, "0.0.0.0:7000", --controller, "$NODE_IP:$CTRL_PORT", --name, smoke]
    env: [{name: OPENMB_SECRET, value: smoke-secret}]
    ports: [{containerPort: 7000}]
    securityContext: $SECURE
---
apiVersion: v1
kind: Pod
metadata: {name: smoke-echo}
spec:
  automountServiceAccountToken: false
  containers:
  - name: echo
    image: openmb:dev
    imagePullPolicy: Never
    command: [/usr/bin/node, -e]
    args:
    - |
      require('net').createServer((s) => s.end('hello from uid ' + process.getuid() + '\n'))
        .listen(7001, () => console.log('echo listening on 7001'));
    ports: [{containerPort: 7001}]
    securityContext: $SECURE
EOF

until_true 60 bash -c "[[ \$(kubectl get pod smoke-help -o jsonpath='{.status.phase}') =~ ^(Succeeded|Failed)$ ]]" ||
  fail "smoke-help did not finish (phase $(phase smoke-help))"
[[ $(phase smoke-help) == Succeeded ]] || { k describe pod smoke-help >&2; fail "smoke-help failed"; }
k logs smoke-help -c help | grep -q 'Usage: openmb' || fail "openmb --help printed no usage"
k logs smoke-help -c switch-help | grep -q 'Usage: openmb switch' || fail "openmb switch --help printed no usage"
timed "openmb --help Pod completed"

for p in smoke-switch smoke-echo; do
  until_true 60 bash -c "[[ \$(kubectl get pod $p -o jsonpath='{.status.phase}') == Running ]]" ||
    { k describe pod "$p" >&2; fail "$p is not Running"; }
done
timed "switch and echo Pods Running"
k get pods -o wide >&2
for p in smoke-switch smoke-echo; do
  ip="$(pod_ip "$p")"
  in_subnet "$ip" || fail "$p has IP '$ip', not in $POD_SUBNET"
  k get pods -o wide | grep -E "^$p .* Running .* $ip " >/dev/null || fail "kubectl get -o wide does not show $p Running at $ip"
done
SWITCH_IP="$(pod_ip smoke-switch)"
ECHO_IP="$(pod_ip smoke-echo)"

until_true 30 grep -qx "$SWITCH_IP" "$WORK/controller.log" ||
  fail "the switch Pod never reached its controller at $NODE_IP:$CTRL_PORT"
until_true 30 bash -c "kubectl logs smoke-switch | grep -q ." ||
  fail "kubectl logs shows nothing for smoke-switch"
timed "Pod -> host at NODE_IP, logs"

until_true 30 bash -c "exec 3<>/dev/tcp/$ECHO_IP/7001 && grep -q 'hello from uid 65532' <&3" ||
  fail "the host cannot reach the echo Pod at $ECHO_IP:7001"
until_true 30 bash -c "exec 3<>/dev/tcp/$SWITCH_IP/7000" || fail "the host cannot reach the switch Pod at $SWITCH_IP:7000"
k logs smoke-echo | grep -q 'echo listening on 7001' || fail "kubectl logs smoke-echo"
out="$(k exec smoke-echo -- /usr/bin/node -e "
  const s = require('net').connect(7000, '$SWITCH_IP', () => { console.log('pod-to-pod ok'); s.destroy(); });
  s.on('error', (e) => { console.log(e.message); process.exit(1); });
")" || fail "kubectl exec / Pod to Pod: $out"
[[ $out == 'pod-to-pod ok' ]] || fail "Pod to Pod: $out"
k exec smoke-echo -- /usr/bin/node -e "require('fs').writeFileSync('/x', '')" >/dev/null 2>&1 &&
  fail "the root filesystem is writable"
timed "host -> Pod, exec, Pod -> Pod"

say "teardown"
teardown
timed "teardown (node, control plane)"
left="$(our_processes)"
[[ -z $left ]] || fail "processes left after teardown:
$left"
! ip link show cni0 >/dev/null 2>&1 || fail "cni0 still exists"
machine_state >"$WORK/state.after"
diff -u "$WORK/state.before" "$WORK/state.after" >&2 || fail "the machine's state differs after teardown (above)"
timed "checks after teardown"

say "PASS"
for t in "${TIMES[@]}"; do echo "  $t" >&2; done
printf '  %-38s %6ss\n' total "$(elapsed "$(date +%s%N) - $T0")" >&2
