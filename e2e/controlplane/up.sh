#!/usr/bin/env bash
# up.sh - start a local Kubernetes control plane (no Docker, no kubelet; e2e/node/up.sh adds one).
#
# Usage: e2e/controlplane/up.sh DIR
#
# Starts etcd, kube-apiserver and kube-controller-manager as background
# processes listening on 127.0.0.1 only. DIR receives the certificates (the
# aggregation layer's front-proxy CA and client certificate in DIR/front-proxy/),
# DIR/kubeconfig (admin, client cert), DIR/*.log, DIR/*.pid and the etcd data.
# Running up.sh again on a stopped DIR restarts it with the same ports, certs
# and data; `rm -rf DIR` for a fresh cluster. Stop it with down.sh DIR.
#
# Env:
#   ETCD_PORT, ETCD_PEER_PORT, APISERVER_PORT, KCM_PORT
#                  ports to use (default: free ports, remembered in DIR/ports.env)
#   KUBE_BIN_DIR   dir with kube-apiserver and kube-controller-manager
#                  (default: output of build.sh, which builds them if needed)
#   UP_TIMEOUT     seconds to wait for readiness (default 180)
#   KUBE_APISERVER_ARGS, KUBE_CONTROLLER_MANAGER_ARGS
#                  extra flags (space-separated), e.g. --feature-gates=...
set -euo pipefail

[[ $# -eq 1 && $1 != -* ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
TIMEOUT="${UP_TIMEOUT:-180}"

die() { echo "up.sh: $*" >&2; exit 1; }
for c in etcd kubectl openssl curl; do command -v "$c" >/dev/null || die "$c not found in PATH"; done
for p in "$DIR"/*.pid; do
  [[ -e $p ]] && kill -0 "$(cat "$p")" 2>/dev/null && die "$(basename "$p" .pid) already running in $DIR (run down.sh $DIR first)"
done

BIN="${KUBE_BIN_DIR:-$("$HERE/build.sh")}"
[[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager ]] || die "binaries missing in $BIN"

# --- ports: env override > remembered in DIR/ports.env > a free port --------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range (32768 and up by default): a port found free there can be
# taken as the source port of any outgoing connection before the component binds it.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    [[ " $USED " != *" $p "* ]] && port_free "$p" && { echo "$p"; return; }
  done
}
USED=""
saved_port() { [[ -f $DIR/ports.env ]] && sed -n "s/^$1=//p" "$DIR/ports.env"; }
for v in ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT; do
  [[ -n ${!v:-} ]] || printf -v "$v" %s "$(saved_port "$v" || true)"
  [[ -n ${!v:-} ]] || printf -v "$v" %s "$(free_port)"
  [[ -n ${!v} ]] || die "no free port for $v"
  port_free "${!v}" || die "port ${!v} ($v) is in use"
  USED+=" ${!v}"
done
printf '%s=%s\n' ETCD_PORT "$ETCD_PORT" ETCD_PEER_PORT "$ETCD_PEER_PORT" \
  APISERVER_PORT "$APISERVER_PORT" KCM_PORT "$KCM_PORT" >"$DIR/ports.env"

# --- certificates (kept across restarts) -------------------------------------
cd "$DIR"
# shellcheck source=e2e/lib/pki.sh
source "$HERE/../lib/pki.sh"
sign() { sign_cert "$DIR" "$DIR/$1" "$2" "$3"; }
if [[ ! -f ca.crt ]]; then
  echo "up.sh: generating certificates in $DIR" >&2
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=openmb-e2e-ca \
    -keyout ca.key -out ca.crt 2>/dev/null
  # 10.96.0.1 is the `kubernetes` service IP (first IP of the service range).
  sign apiserver /CN=kube-apiserver "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=kubernetes-admin" "extendedKeyUsage=clientAuth"
  # RBAC bootstraps permissions for this user name.
  sign controller-manager /CN=system:kube-controller-manager "extendedKeyUsage=clientAuth"
  # Service-account token signing key pair.
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  chmod 600 ./*.key
fi
# The API server's client certificate for kubelets (kubectl logs, exec, port-forward go
# through the kubelet's API, which authorizes callers with a SubjectAccessReview):
# system:masters may do anything there. Made apart from the rest so that a DIR from before
# it existed gets one on restart.
if [[ ! -f apiserver-kubelet-client.crt ]]; then
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
  chmod 600 apiserver-kubelet-client.key
fi

# The aggregation layer (APIServices, e.g. OpenMB's custom metrics API): the API server proxies
# to an extension server with this client certificate, from a CA of its own so that no other
# client certificate passes for the front proxy. Made apart, like the one above.
if [[ ! -f front-proxy/client.crt ]]; then
  mkdir -p front-proxy
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=openmb-e2e-front-proxy-ca \
    -keyout front-proxy/ca.key -out front-proxy/ca.crt 2>/dev/null
  chmod 600 front-proxy/ca.key
  sign_cert "$DIR/front-proxy" "$DIR/front-proxy/client" /CN=front-proxy-client "extendedKeyUsage=clientAuth"
fi

kubeconfig() { write_kubeconfig "$DIR/$1" "$APISERVER_PORT" "$DIR/ca.crt" "$2" "$DIR/$2"; }
kubeconfig kubeconfig admin
kubeconfig controller-manager.kubeconfig controller-manager

# --- processes ---------------------------------------------------------------
# start NAME CMD...: run in the background, log to NAME.log, pid in NAME.pid
start() {
  local name=$1; shift
  echo "up.sh: starting $name" >&2
  nohup "$@" >>"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}
fail() {
  echo "up.sh: $1; last lines of $DIR/$2.log:" >&2
  tail -n 30 "$DIR/$2.log" >&2
  "$HERE/down.sh" "$DIR" >&2 || true
  exit 1
}
# wait_for WHAT LOG CMD...: poll CMD until it succeeds or TIMEOUT expires
wait_for() {
  local what=$1 log=$2 deadline=$((SECONDS + TIMEOUT)); shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$DIR/$log.pid")" 2>/dev/null || fail "$log exited" "$log"
    ((SECONDS < deadline)) || fail "timed out after ${TIMEOUT}s waiting for $what" "$log"
    sleep 1
  done
}

start etcd etcd --name default --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT"
wait_for etcd etcd bash -c "exec 3<>/dev/tcp/127.0.0.1/$ETCD_PORT"

# shellcheck disable=SC2086 # *_ARGS are word-split on purpose
# No ConsistentListFromCache=false: in 1.34 the gate is GA and locked (setting
# it fails); the apiserver itself detects that etcd 3.4.23 (< 3.4.31) lacks
# reliable progress notifications and serves consistent lists from etcd.
# --endpoint-reconciler-type=none: the `kubernetes` Endpoints would point at
# 127.0.0.1, which Endpoints validation rejects (error spam every 10s).
# --requestheader-*, --proxy-client-*: the aggregation layer, as above; --enable-aggregator-routing:
# an APIService's Service is reached at its endpoints (no kube-proxy on loopback).
# --kubelet-*: only used when a node joins (e2e/node/up.sh): the apiserver dials a kubelet
# at its InternalIP (the node IP; the node's name resolves nowhere), presents the client
# certificate above and checks the kubelet's serving certificate, which the node signs with
# this CA.
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
  --endpoint-reconciler-type none \
  --service-cluster-ip-range 10.96.0.0/16 \
  --authorization-mode Node,RBAC --allow-privileged \
  --client-ca-file "$DIR/ca.crt" \
  --tls-cert-file "$DIR/apiserver.crt" --tls-private-key-file "$DIR/apiserver.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$DIR/sa.pub" \
  --service-account-signing-key-file "$DIR/sa.key" \
  --kubelet-client-certificate "$DIR/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$DIR/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$DIR/ca.crt" \
  --requestheader-client-ca-file "$DIR/front-proxy/ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$DIR/front-proxy/client.crt" --proxy-client-key-file "$DIR/front-proxy/client.key" \
  --enable-aggregator-routing=true \
  --kubelet-preferred-address-types InternalIP ${KUBE_APISERVER_ARGS:-}
wait_for "apiserver /readyz" kube-apiserver kubectl --kubeconfig "$DIR/kubeconfig" get --raw /readyz

# shellcheck disable=SC2086
# --leader-elect=false: a single instance; avoids waiting out a stale lease on
# restart. --use-service-account-credentials: each controller runs as its own
# service account with the RBAC role upstream gives it (as kubeadm does).
# --flex-volume-plugin-dir: the default, /usr/libexec/kubernetes/..., is created
# when missing and would be left behind on the machine.
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$DIR/kcm-certs" \
  --leader-elect=false --controllers '*' --use-service-account-credentials \
  --service-account-private-key-file "$DIR/sa.key" --root-ca-file "$DIR/ca.crt" \
  --cluster-signing-cert-file "$DIR/ca.crt" --cluster-signing-key-file "$DIR/ca.key" \
  --flex-volume-plugin-dir "$DIR/kcm-flexvolume" \
  ${KUBE_CONTROLLER_MANAGER_ARGS:-}
wait_for "controller-manager /healthz" kube-controller-manager \
  curl -ksf "https://127.0.0.1:$KCM_PORT/healthz"
wait_for "default serviceaccount" kube-controller-manager \
  kubectl --kubeconfig "$DIR/kubeconfig" -n default get serviceaccount default

echo "up.sh: control plane ready (apiserver https://127.0.0.1:$APISERVER_PORT)" >&2
echo "export KUBECONFIG=$DIR/kubeconfig"
