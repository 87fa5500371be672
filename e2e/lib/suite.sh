# suite.sh - what the operator e2e suites share: logging, waiting, and the checks on a pool.
# Sourced by e2e/operator/operator.e2e.sh and e2e/pods/pods.e2e.sh; they set NS, POOL,
# TIMEOUT, WORK and ROOT first, and OPERATOR_PID once the operator runs.
# shellcheck shell=bash

FAILED=0
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
pass() { log "PASS $*"; }
fail() {
  log "FAIL $*"
  FAILED=1
  exit 1
}

# wait_until SECONDS WHAT CMD...: poll CMD every second until it succeeds.
wait_until() {
  local secs=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what (not within ${secs}s)"
    [[ -z ${OPERATOR_PID:-} ]] || kill -0 "$OPERATOR_PID" 2>/dev/null || fail "$what: the operator exited"
    sleep 1
  done
}

k() { kubectl -n "$NS" "$@"; }
pool_field() { k get mbp "$POOL" -o jsonpath="$1" 2>/dev/null; }

# converged: Ready=True with observedGeneration == generation, and every StateOperation Succeeded.
converged() {
  local gen ready rgen phases
  gen=$(pool_field '{.metadata.generation}')
  ready=$(pool_field '{.status.conditions[?(@.type=="Ready")].status}')
  rgen=$(pool_field '{.status.conditions[?(@.type=="Ready")].observedGeneration}')
  [[ -n $gen && $ready == True && $rgen == "$gen" && $(pool_field '{.status.observedGeneration}') == "$gen" ]] || return 1
  phases=$(k get sop -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}')
  [[ -z $(grep -v -e '^Succeeded$' -e '^$' <<<"$phases") ]]
}
show_ops() { k get sop --no-headers 2>/dev/null | sed 's/^/    /'; }
check_scaled() {
  local n=$1 replicas ready
  wait_until "$TIMEOUT" "pool converges at $n replicas" converged
  replicas=$(pool_field '{.status.replicas}')
  ready=$(pool_field '{.status.readyReplicas}')
  [[ $replicas == "$n" && $ready == "$n" ]] || fail "pool at $n replicas: status.replicas=$replicas readyReplicas=$ready"
  pass "pool converged: $ready/$n ready, Ready=True, observedGeneration $(pool_field '{.status.observedGeneration}') = generation $(pool_field '{.metadata.generation}'), phase $(pool_field '{.status.phase}')"
  show_ops
}
failed_ops() { k get sop -o jsonpath='{range .items[?(@.status.phase=="Failed")]}{.metadata.name}: {.status.message}{"\n"}{end}'; }

# check_operations: every StateOperation is Succeeded, owned by the pool, with final progress,
# and moves, clones and merges all happened.
check_operations() {
  k get sop -o json >"$WORK/ops.json"
  node -e '
    const ops = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).items;
    const bad = [];
    const kinds = {};
    for (const o of ops) {
      const s = o.status ?? {}, p = s.progress ?? {};
      kinds[o.spec.kind] = (kinds[o.spec.kind] ?? 0) + 1;
      const owner = (o.metadata.ownerReferences ?? []).find((r) => r.kind === "MiddleboxPool" && r.controller);
      if (!owner) bad.push(`${o.metadata.name}: no controller owner reference`);
      if (s.phase !== "Succeeded") bad.push(`${o.metadata.name}: phase ${s.phase}`);
      if (!s.startTime || !s.completionTime) bad.push(`${o.metadata.name}: no start or completion time`);
      if (p.flowsDone === undefined || p.flowsDone !== p.flowsTotal) bad.push(`${o.metadata.name}: progress ${p.flowsDone}/${p.flowsTotal}`);
      if (o.spec.kind === "move" && !(p.flowsDone > 0)) bad.push(`${o.metadata.name}: a move under traffic moved no flows`);
    }
    if (!kinds.move || !kinds.clone || !kinds.merge) bad.push(`expected moves, clones and merges, got ${JSON.stringify(kinds)}`);
    if (bad.length) { console.log(bad.join("\n")); process.exit(1); }
    console.log(`${ops.length} operations (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")}), all Succeeded, owned by the pool, progress final`);
  ' "$WORK/ops.json" >"$WORK/ops.txt" || fail "operations: $(cat "$WORK/ops.txt")"
  pass "$(cat "$WORK/ops.txt")"
}

# same_outputs FILE WHAT: the pool's outputs in FILE equal the unscaled reference run's.
same_outputs() {
  node "$ROOT/e2e/operator/compare.mjs" "$1" "$WORK/reference/report.json" flows hosts totals >"$WORK/compare.txt" ||
    fail "$2: the pool's outputs differ from the unscaled run's: $(cat "$WORK/compare.txt")"
  sed 's/^/    /' "$WORK/compare.txt"
}

# finish_replay: waits (at most TIMEOUT seconds) for the replay in REPLAY_PID to end, and fails
# if it failed.
finish_replay() {
  replay_ended() { ! kill -0 "$REPLAY_PID" 2>/dev/null; }
  wait_until "$TIMEOUT" "the replay finishes (a stalled switch would hold it)" replay_ended
  wait "$REPLAY_PID" || fail "replay (see $WORK/replay.log)"
  REPLAY_PID=""
}

# end_suite RC: what every suite does on exit before its cluster goes: stop the replay, show the
# operator's log and the namespace on failure, delete the pools while the operator still runs
# (so their finalizer does not hold the namespace), stop the operator and any pool processes it
# left ($WORK/state is the suites' --state-dir), delete the namespace.
end_suite() {
  local rc=$1
  [[ -n ${REPLAY_PID:-} ]] && kill "$REPLAY_PID" 2>/dev/null
  if ((rc != 0 || FAILED)); then
    log "--- last lines of the operator's log ($WORK/operator.log)"
    tail -n 40 "$WORK/operator.log" 2>/dev/null
    kubectl -n "$NS" get mbp,sop,pods -o wide 2>/dev/null
    kubectl -n "$NS" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20
  fi
  if [[ -n ${OPERATOR_PID:-} ]] && kill -0 "$OPERATOR_PID" 2>/dev/null; then
    kubectl -n "$NS" delete mbp --all --timeout=60s >/dev/null 2>&1
  fi
  if [[ -n ${OPERATOR_PID:-} ]]; then
    kill "$OPERATOR_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$OPERATOR_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$OPERATOR_PID" 2>/dev/null
  fi
  # The process runtime's switches and instances outlive the operator: what it left runs no more.
  [[ -d $WORK/state ]] && node "$ROOT/e2e/lib/stop-data-planes.mjs" "$WORK/state" | sed 's/^/    left running, stopped: /'
  kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1
}

# keep_work RC: the work directory goes when the suite passed (unless KEEP=1), else it stays for its logs.
keep_work() {
  if (($1 == 0 && !FAILED)) && [[ ${KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi
}

# start_control_plane: without $KUBECONFIG, a control plane in $WORK (CP_DIR is set; the suite's
# cleanup stops it), with the build in dist/ first.
start_control_plane() {
  [[ -f $ROOT/dist/cli/main.js ]] || (cd "$ROOT" && npx tsc -p tsconfig.json)
  [[ -z ${KUBECONFIG:-} ]] || return 0
  CP_DIR="$WORK/controlplane"
  log "no KUBECONFIG: starting a control plane in $CP_DIR"
  "$ROOT/e2e/controlplane/up.sh" "$CP_DIR" >/dev/null
  export KUBECONFIG="$CP_DIR/kubeconfig"
}

# start_cluster_with_node: without $KUBECONFIG, a control plane and a real node in $WORK (CP_DIR,
# NODE_RUN and the node's variables, e.g. NODE_IP, are set; the suite's cleanup stops them),
# with the openmb image built without Docker and imported. With $KUBECONFIG, nothing: the
# cluster and its image are the caller's.
start_cluster_with_node() {
  local given=${KUBECONFIG:-}
  start_control_plane
  [[ -z $given ]] || return 0
  NODE_RUN="$WORK/node"
  "$ROOT/e2e/node/up.sh" "$NODE_RUN" "$CP_DIR" >"$WORK/node-up.log" 2>&1 || { tail -n 30 "$WORK/node-up.log"; fail "e2e/node/up.sh"; }
  # shellcheck disable=SC1091
  source "$NODE_RUN/node.env"
  "$ROOT/e2e/image/build.sh" "$WORK/openmb.tar" >"$WORK/image.log" 2>&1 || { tail -n 20 "$WORK/image.log"; fail "e2e/image/build.sh"; }
  "$ROOT/e2e/node/import.sh" "$NODE_RUN" "$WORK/openmb.tar" >>"$WORK/image.log" 2>&1 || fail "e2e/node/import.sh"
  pass "node $NODE_NAME ($NODE_IP) Ready; image built and imported"
}

# fetch_tls NS DIR: the pool namespace's TLS Secret (openmb-tls) as a --tls-dir for traffic sources.
fetch_tls() {
  mkdir -p "$2"
  local f
  for f in ca.crt tls.crt tls.key; do
    kubectl -n "$1" get secret openmb-tls -o jsonpath="{.data.${f//./\\.}}" | base64 -d >"$2/$f" || fail "reading $f of Secret $1/openmb-tls"
  done
  chmod 600 "$2/tls.key"
}

# stop_cluster: the node and the control plane this suite started, if it started them.
stop_cluster() {
  [[ -n ${NODE_RUN:-} ]] && "$ROOT/e2e/node/down.sh" "$NODE_RUN" >"$WORK/node-down.log" 2>&1
  [[ -n ${CP_DIR:-} ]] && "$ROOT/e2e/controlplane/down.sh" "$CP_DIR" >/dev/null 2>&1
  return 0
}

# on_exit FUNCTION: FUNCTION runs when the suite exits, Ctrl-C ends it, a failing command is logged.
on_exit() {
  trap "$1" EXIT
  trap 'exit 130' INT TERM
  trap '((FAILED)) || log "FAIL (line $LINENO: $BASH_COMMAND)"' ERR
}
