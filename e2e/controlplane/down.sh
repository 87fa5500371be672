#!/usr/bin/env bash
# down.sh - stop a control plane started by up.sh.
#
# Usage: e2e/controlplane/down.sh DIR
#
# Stops the processes recorded in DIR/*.pid (controller-manager, apiserver,
# then etcd), waits for them to exit (SIGKILL after DOWN_TIMEOUT seconds,
# default 30) and removes the pid files. Logs, certs and etcd data are kept.
# A node that joined with e2e/node/up.sh RUN DIR (recorded in DIR/node.run) is torn down
# first, with e2e/node/down.sh RUN, while the API server still answers.
set -euo pipefail

[[ $# -eq 1 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
DIR="$1"
TIMEOUT="${DOWN_TIMEOUT:-30}"
HERE="$(cd "$(dirname "$0")" && pwd)"

if [[ -f $DIR/node.run ]]; then
  bash "$HERE/../node/down.sh" "$(cat "$DIR/node.run")" || echo "down.sh: the node did not stop cleanly" >&2
  rm -f "$DIR/node.run"
fi

# Reverse start order, so etcd outlives its clients.
for name in kube-controller-manager kube-apiserver etcd; do
  pidfile="$DIR/$name.pid"
  [[ -f $pidfile ]] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    echo "down.sh: stopping $name (pid $pid)" >&2
    kill "$pid"
    deadline=$((SECONDS + TIMEOUT))
    # A zombie has exited: its parent (often PID 1, after up.sh is gone) may reap it late.
    while [[ -e /proc/$pid && "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; do
      if ((SECONDS >= deadline)); then
        echo "down.sh: $name did not exit in ${TIMEOUT}s, killing it" >&2
        kill -9 "$pid" 2>/dev/null || true
      fi
      sleep 0.2
    done
  fi
  rm -f "$pidfile"
done
echo "down.sh: stopped; logs are in $DIR/*.log" >&2
