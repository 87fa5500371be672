# shellcheck shell=bash
# oci.sh - write an OCI image layout tarball from root filesystem directories (sourced).
#
# Usage: source e2e/image/oci.sh; oci_image OUT.tar NAME CONFIG_JSON ROOTFS_DIR...
#
# Scratch files go under $OCI_TMP (default $TMPDIR or /tmp); callers that may fail midway
# point it at a directory they remove on exit.
#
# Each ROOTFS_DIR becomes one uncompressed layer, in order. CONFIG_JSON is the image's
# "config" object (Entrypoint, User, Env, ...). The layout (oci-layout, index.json, blobs/) is
# what `ctr images import` reads: index.json names the image with the
# io.containerd.image.name annotation, so the import needs no --index-name. No daemon, no
# registry: the digests are sha256 sums of files we write. Layers are reproducible (sorted,
# owned by root, mtime 0), so rebuilding unchanged inputs gives the same digests and containerd
# skips layers it already has.

# oci_arch: the image architecture of this machine's binaries (the image copies them).
oci_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# oci_blob LAYOUT FILE: move FILE into LAYOUT/blobs/sha256 under its digest; prints the digest.
oci_blob() {
  local digest
  digest="$(sha256sum "$2" | cut -d' ' -f1)"
  mv -f "$2" "$1/blobs/sha256/$digest"
  echo "$digest"
}

# oci_descriptor MEDIATYPE LAYOUT DIGEST: a content descriptor JSON object.
oci_descriptor() {
  printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' \
    "$1" "$3" "$(stat -c %s "$2/blobs/sha256/$3")"
}

oci_image() {
  local out=$1 name=$2 config=$3; shift 3
  # Names go into JSON unescaped: allow only what an image reference can hold.
  [[ $name =~ ^[a-z0-9][a-z0-9._/:@-]*$ ]] || { echo "oci.sh: bad image name: $name" >&2; return 1; }
  local work layout arch
  work="$(mktemp -d "${OCI_TMP:-${TMPDIR:-/tmp}}/oci.XXXXXX")"
  layout="$work/layout"
  arch="$(oci_arch)"
  mkdir -p "$layout/blobs/sha256"

  local dir digest layers="" diff_ids="" history=""
  for dir in "$@"; do
    # --sort/--owner/--mtime: the same bytes for the same files, whoever builds them and when.
    tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
      -cf "$work/layer.tar" .
    digest="$(oci_blob "$layout" "$work/layer.tar")"
    # Uncompressed layers: the digest is also the diff_id, and import skips a gunzip.
    layers+="${layers:+,}$(oci_descriptor application/vnd.oci.image.layer.v1.tar "$layout" "$digest")"
    diff_ids+="${diff_ids:+,}\"sha256:$digest\""
    history+="${history:+,}{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"e2e/image: $(basename "$dir")\"}"
  done

  printf '{"created":"1970-01-01T00:00:00Z","architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$arch" "$config" "$diff_ids" "$history" >"$work/config.json"
  local config_digest manifest_digest
  config_digest="$(oci_blob "$layout" "$work/config.json")"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$(oci_descriptor application/vnd.oci.image.config.v1+json "$layout" "$config_digest")" \
    "$layers" >"$work/manifest.json"
  manifest_digest="$(oci_blob "$layout" "$work/manifest.json")"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
    "$(oci_descriptor application/vnd.oci.image.manifest.v1+json "$layout" "$manifest_digest" |
      sed "s|}\$|,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"$name\"}}|")" \
    >"$layout/index.json"

  # Write next to OUT and rename, so a reader never sees half a tarball.
  tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
    -cf "$out.tmp" oci-layout index.json blobs
  mv -f "$out.tmp" "$out"
  rm -rf "$work"
  echo "oci.sh: $out: $name, manifest sha256:$manifest_digest, $(du -h "$out" | cut -f1)" >&2
}
