#!/usr/bin/env bash
# down.sh - stop a node started by e2e/node/up.sh and undo what it changed on the machine.
#
# Usage: e2e/node/down.sh RUN
#
# In this order:
#   1. stops the scheduler (so nothing new lands on the node), then deletes the node's Pods
#      through the API server when it and the kubelet answer, so the kubelet stops their
#      containers and CNI releases their addresses;
#   2. stops the kubelet, force-deletes any Pod object still bound to the node, deletes the Node;
#   3. kills and removes the containers that are left, stops containerd, kills shims and
#      container processes that outlived it;
#   4. unmounts everything under RUN (the kubelet bind-mounts its root onto itself, so twice),
#      under /var/lib/kubelet and /run/containerd;
#   5. deletes the veths on cni0, cni0 and the node bridge;
#   6. deletes the kubelet's KUBE-* iptables chains and the iptables nft tables that did not
#      exist before up.sh;
#   7. removes the kubepods cgroups, depth first, in every hierarchy;
#   8. restores the sysctls up.sh recorded (the kubelet's kernel tunables, IP forwarding);
#   9. removes containerd's and the kubelet's roots under RUN, and /var/lib/kubelet,
#      /var/lib/cni, /var/log/containers, /run/containerd... where they did not exist before.
# RUN keeps its logs and configuration. When the machine's node is another RUN's (the marker up.sh
# writes names it), nothing is touched. Safe to run twice and after a failed up.sh; exits
# non-zero (keeping RUN/state for another try) if something could not be undone.
#
# Env:
#   DOWN_TIMEOUT  seconds to wait for each process before SIGKILL (default 30)
set -euo pipefail

[[ $# -eq 1 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ -d $1 ]] || { echo "down.sh: $1: no such directory" >&2; exit 1; }
RUN="$(cd "$1" && pwd)"
TIMEOUT="${DOWN_TIMEOUT:-30}"
MARKER=/run/openmb-node.run
SOCK="$RUN/containerd/containerd.sock"
NODE_NAME="$(cat "$RUN/state/node-name" 2>/dev/null || sed -n 's/^export NODE_NAME=//p' "$RUN/node.env" 2>/dev/null || true)"
NODE_NAME="${NODE_NAME:-openmb-node}"
CP="$(cat "$RUN/cp" 2>/dev/null || true)"
((EUID == 0)) || { echo "down.sh: must run as root" >&2; exit 1; }
# The machine's node is another RUN's (this one's up.sh refused, or never got as far as the
# marker): the links, chains, cgroups and containers on this machine are that node's, not ours.
if [[ -f $MARKER && $(cat "$MARKER") != "$RUN" ]]; then
  echo "down.sh: the node on this machine is $(cat "$MARKER")'s, not $RUN's: nothing of $RUN's to undo" >&2
  exit 0
fi

errors=0
say() { echo "down.sh: $*" >&2; }
warn() { echo "down.sh: WARNING: $*" >&2; errors=$((errors + 1)); }

# running NAME: the pid in RUN/NAME.pid if that process is alive and still NAME (pids get reused)
running() {
  local pid
  pid="$(cat "$RUN/$1.pid" 2>/dev/null)" || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$1" || return 1
  echo "$pid"
}
# alive PID: running and not a zombie (our parent, often PID 1 here, may reap late)
alive() { [[ -e /proc/$1 && "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }
# stop NAME: SIGTERM, then SIGKILL after TIMEOUT
stop() {
  local pid deadline
  if pid="$(running "$1")"; then
    say "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    deadline=$((SECONDS + TIMEOUT))
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then
        say "$1 did not exit in ${TIMEOUT}s, killing it"
        kill -9 "$pid" 2>/dev/null || true
      fi
      sleep 0.2
    done
  fi
  rm -f "$RUN/$1.pid"
}
api_up() {
  [[ -n $CP && -f $CP/kubeconfig ]] && command -v kubectl >/dev/null &&
    kubectl --kubeconfig "$CP/kubeconfig" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}
k() { kubectl --kubeconfig "$CP/kubeconfig" --request-timeout=30s "$@"; }

# --- 1, 2: Pods, scheduler, kubelet, Node ----------------------------------------------------
stop kube-scheduler
if api_up && running kubelet >/dev/null; then
  say "deleting the Pods on $NODE_NAME"
  k delete pods -A --field-selector "spec.nodeName=$NODE_NAME" --grace-period=1 --wait=true \
    --timeout=60s >/dev/null 2>&1 || say "some Pods did not go in time; removing their containers directly"
fi
stop kubelet
if api_up; then
  k delete pods -A --field-selector "spec.nodeName=$NODE_NAME" --grace-period=0 --force \
    >/dev/null 2>&1 || true
  k delete node "$NODE_NAME" --ignore-not-found >/dev/null 2>&1 || warn "could not delete Node $NODE_NAME"
fi

# --- 3: containers, containerd, leftover processes ------------------------------------------
c() { timeout 30 ctr --address "$SOCK" "$@"; }
if running containerd >/dev/null && [[ -S $SOCK ]]; then
  for ns in $(c namespaces ls -q 2>/dev/null); do
    for t in $(c -n "$ns" tasks ls -q 2>/dev/null); do
      c -n "$ns" tasks delete --force "$t" >/dev/null 2>&1 || true
    done
    for ctr_id in $(c -n "$ns" containers ls -q 2>/dev/null); do
      c -n "$ns" containers delete "$ctr_id" >/dev/null 2>&1 || true
    done
  done
fi
stop containerd

cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
    if [[ -d $d ]]; then echo "$d"; fi
  done
}
# Every process in a kubepods cgroup is a container of this node.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  pids="$(for d in $(cgroup_dirs); do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u)"
  [[ -n $pids ]] || break
  # A frozen (paused) container cannot die until thawed.
  find /sys/fs/cgroup/freezer/kubepods -name freezer.state -exec sh -c 'for f; do echo THAWED >"$f"; done' sh {} + 2>/dev/null || true
  say "killing container processes: ${pids//$'\n'/ }"
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null || true
  sleep 0.5
done
# Shims started by this containerd (they outlive it by design) know its socket address.
for p in /proc/[0-9]*; do
  cmd="$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" || continue
  if [[ $cmd == *containerd-shim* && $cmd == *"$SOCK"* ]]; then
    say "killing shim ${p#/proc/}"
    kill -9 "${p#/proc/}" 2>/dev/null || true
  fi
done

# --- 4: mounts ----------------------------------------------------------------------------------
ours() {
  findmnt -rn -o TARGET | while read -r t; do
    t="$(printf '%b' "$t")" # findmnt -r writes blanks and the like as \x20
    case "$t" in
      "$RUN"/* | /var/lib/kubelet | /var/lib/kubelet/* | /run/containerd/* | /run/netns/cni-*) echo "$t" ;;
    esac
  done | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}
for round in 1 2 3 4 5; do
  mounts="$(ours)"
  [[ -n $mounts ]] || break
  while read -r m; do
    if ((round < 5)); then umount "$m" 2>/dev/null || true; else umount -l "$m" 2>/dev/null || true; fi
  done <<<"$mounts"
done
[[ -z "$(ours)" ]] || warn "still mounted: $(ours | tr '\n' ' ')"

# --- 5: links ------------------------------------------------------------------------------------
for l in $(ip -o link show master cni0 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link del "$l" 2>/dev/null || true
done
for l in cni0 "$NODE_NAME"; do
  if ip link show "$l" >/dev/null 2>&1; then
    say "deleting link $l"
    ip link del "$l" || warn "could not delete link $l"
  fi
done

# --- 6: iptables chains and nft tables ----------------------------------------------------------
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for t in filter nat mangle raw; do
    rules="$("$ipt" -w -t "$t" -S 2>/dev/null)" || continue
    chains="$(sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p' <<<"$rules")"
    [[ -n $chains ]] || continue
    say "deleting $ipt $t chains: ${chains//$'\n'/ }"
    # Jumps into them from other chains first, then the chains (flushed, then deleted).
    while read -r rule; do
      [[ -n $rule ]] || continue
      eval "\"$ipt\" -w -t $t -D ${rule#-A }" || warn "could not delete $ipt -t $t rule: $rule"
    done < <(grep -E -- '^-A [^ ]+ .*-j KUBE-' <<<"$rules" | grep -Ev -- '^-A KUBE-' || true)
    for ch in $chains; do "$ipt" -w -t "$t" -F "$ch" || true; done
    for ch in $chains; do "$ipt" -w -t "$t" -X "$ch" || warn "could not delete $ipt -t $t chain $ch"; done
  done
done
# iptables-nft leaves the tables behind (with empty base chains) once it has made them.
if [[ -f $RUN/state/nft-tables ]] && command -v nft >/dev/null; then
  while read -r _ family name; do
    [[ $family == ip || $family == ip6 ]] || continue
    [[ $name =~ ^(filter|nat|mangle|raw|security)$ ]] || continue
    grep -qx "table $family $name" "$RUN/state/nft-tables" && continue
    say "deleting nft table $family $name"
    nft delete table "$family" "$name" || warn "could not delete nft table $family $name"
  done < <(nft list tables 2>/dev/null)
fi

# --- 7: cgroups ----------------------------------------------------------------------------------
for d in $(cgroup_dirs); do
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d $d ]] || break
    sleep 0.5
  done
  [[ ! -d $d ]] || warn "could not remove cgroup $d"
done

# --- 8: sysctls ----------------------------------------------------------------------------------
if [[ -f $RUN/state/sysctl ]]; then
  while IFS='=' read -r name value; do
    f="/proc/sys/${name//.//}"
    [[ -f $f ]] || continue
    [[ "$(cat "$f")" == "$value" ]] && continue
    say "restoring $name=$value"
    echo "$value" >"$f" || warn "could not restore $name=$value"
  done <"$RUN/state/sysctl"
fi

# --- 9: files --------------------------------------------------------------------------------------
# --one-file-system: never follow into something still mounted.
rm -rf --one-file-system "$RUN/containerd/root" "$RUN/containerd/state" "$RUN/containerd/opt" \
  "$RUN/kubelet" "$RUN/kubelet-volume-plugins" "$RUN/cni/ipam" "$RUN/images" ||
  warn "could not remove the node's files under $RUN"
rm -f "$SOCK" "$SOCK.ttrpc"
if [[ -f $RUN/state/paths-existing ]]; then
  for p in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd \
    /run/netns /opt/containerd /usr/libexec/kubernetes /etc/cni /opt/cni; do
    grep -qx "$p" "$RUN/state/paths-existing" && continue
    if [[ -e $p ]]; then
      say "removing $p"
      rm -rf --one-file-system "$p" || warn "could not remove $p"
    fi
  done
fi

if ((errors > 0)); then
  say "$errors thing(s) could not be undone; RUN/state kept, run down.sh $RUN again"
  exit 1
fi
rm -rf "$RUN/state"
[[ "$(cat "$MARKER" 2>/dev/null)" == "$RUN" ]] && rm -f "$MARKER"
[[ -n $CP && "$(cat "$CP/node.run" 2>/dev/null)" == "$RUN" ]] && rm -f "$CP/node.run"
say "node $NODE_NAME stopped; logs are in $RUN/*.log"
