# pki.sh - client and server certificates signed by the e2e cluster's CA, and kubeconfigs that
# use them. Sourced by e2e/controlplane/up.sh and e2e/node/up.sh.
# shellcheck shell=bash

# sign_cert CA_DIR OUT_BASE SUBJECT EXTENSIONS: OUT_BASE.key and OUT_BASE.crt, signed by
# CA_DIR/ca.crt and CA_DIR/ca.key (serial kept beside the output).
sign_cert() {
  local ca=$1 out=$2
  openssl req -new -newkey rsa:2048 -nodes -keyout "$out.key" -subj "$3" 2>/dev/null |
    openssl x509 -req -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -CAserial "$(dirname "$out")/ca.srl" \
      -days 3650 -extfile <(printf '%s\n' "$4") -out "$out.crt" 2>/dev/null
  chmod 600 "$out.key"
}

# write_kubeconfig FILE PORT CA_CERT USER CERT_BASE: a kubeconfig for the API server on
# 127.0.0.1:PORT as USER, with the client certificate CERT_BASE.crt / CERT_BASE.key.
write_kubeconfig() {
  cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: openmb-e2e
  cluster:
    server: https://127.0.0.1:$2
    certificate-authority: $3
users:
- name: $4
  user:
    client-certificate: $5.crt
    client-key: $5.key
contexts:
- name: openmb-e2e
  context: {cluster: openmb-e2e, user: $4}
current-context: openmb-e2e
KUBECONFIG
}
