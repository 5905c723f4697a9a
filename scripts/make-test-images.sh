#!/usr/bin/env bash
# make-test-images.sh OUTDIR
#
# Builds small, offline, (mostly) deterministic test images for the registry's
# third-party client tests. Needs root (buildah vfs storage) and:
# buildah skopeo umoci jq tar sha256sum flock.
#
#   OUTDIR/oci/<name>                 OCI image layout per image (tag = ref.name)
#   OUTDIR/docker-archive/<name>.tar  docker-archive tarballs of tiny and layers
#   OUTDIR/images.tsv                 name, oci_ref, tag, digest, media_type, layers, bytes
#   OUTDIR/timings.tsv                step, seconds
#
#   tiny       buildah FROM scratch, one UNCOMPRESSED layer (…layer.v1.tar)     tag latest
#   layers     umoci, 4 hand-made tar layers: whiteout (.wh.file), opaque dir
#              (.wh..wh..opq), file overwrite, hardlink + symlink              tag v1
#   multiarch  OCI image index, linux/amd64 + linux/arm64/v8, both sharing one
#              base layer blob                                                 tag latest
#
# Idempotent: exits 0 at once if OUTDIR/images.tsv exists. images.tsv is written
# last (atomically), so its presence means a complete set. Concurrent runs on the
# same OUTDIR serialise on OUTDIR/.lock.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUTDIR=$1
[ -f "$OUTDIR/images.tsv" ] && exit 0
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

for t in buildah skopeo umoci jq tar sha256sum flock; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done

exec 9>"$OUTDIR/.lock"
flock 9
[ -f "$OUTDIR/images.tsv" ] && exit 0   # another run finished while we waited

WORK="$OUTDIR/work"
MTIME='2024-01-01 00:00:00Z'
CREATED='2024-01-01T00:00:00Z'
TSV="$OUTDIR/images.tsv.tmp"
BUILDAH=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)

cleanup() {
  "${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
  "${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

rm -rf "$OUTDIR/oci" "$OUTDIR/docker-archive" "$WORK" "$TSV"
mkdir -p "$OUTDIR/oci" "$OUTDIR/docker-archive" "$WORK"
: > "$OUTDIR/timings.tsv"
printf 'name\toci_ref\ttag\tdigest\tmedia_type\tlayers\tbytes\n' > "$TSV"

log() { echo "[make-test-images] $*" >&2; }
now() { date +%s.%N; }
record() { # step start
  local secs; secs=$(awk -v a="$2" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\n' "$1" "$secs" >> "$OUTDIR/timings.tsv"
  log "$1 took ${secs}s"
}
mktar() { # srcdir out.tar — deterministic, uncompressed
  tar --sort=name --mtime="$MTIME" --owner=0 --group=0 --numeric-owner \
      --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$1" -cf "$2" .
}
to_docker_archive() { # name tag
  skopeo copy -q "oci:$OUTDIR/oci/$1:$2" \
    "docker-archive:$OUTDIR/docker-archive/$1.tar:kura-test/$1:$2" >/dev/null
}
tag_field() { # layout-dir tag field
  jq -r --arg t "$2" --arg f "$3" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .[$f]' "$1/index.json"
}
summarize() { # name tag
  local name=$1 tag=$2 dir="$OUTDIR/oci/$1" digest mt blob layers bytes
  # index.json's descriptor is authoritative: never round-trip manifest bytes
  # through a shell variable (a trailing newline would be lost)
  digest=$(tag_field "$dir" "$tag" digest)
  mt=$(tag_field "$dir" "$tag" mediaType)
  blob="$dir/blobs/sha256/${digest#sha256:}"
  [ "$(sha256sum "$blob" | cut -d' ' -f1)" = "${digest#sha256:}" ] \
    || { echo "$name: manifest blob does not match its digest" >&2; exit 1; }
  if jq -e '.manifests' "$blob" >/dev/null; then
    layers="$(jq '.manifests | length' "$blob") manifests"
    bytes=$(du -sb "$dir" | cut -f1)
  else
    layers=$(jq '.layers | length' "$blob")
    bytes=$(jq '[.layers[].size] | add + 0' "$blob")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "oci:$dir:$tag" "$tag" "$digest" "$mt" "$layers" "$bytes" >> "$TSV"
}

T_ALL=$(now)

###############################################################################
# (a) tiny: buildah FROM scratch, uncompressed layer
###############################################################################
t=$(now); log "(a) tiny"
src="$WORK/tiny-src"; mkdir -p "$src/etc" "$src/data/nested" "$src/bin"
echo "hello from kura tests" > "$src/hello.txt"
printf 'NAME="kura-test-tiny"\nVERSION_ID="1"\n' > "$src/etc/os-release"
seq 1 1000 > "$src/data/numbers.txt"
echo nested > "$src/data/nested/file.txt"
ln -s ../hello.txt "$src/data/hello-link"
printf '#!/bin/sh\necho tiny\n' > "$src/bin/tiny"; chmod 755 "$src/bin/tiny"
touch -h -d "$MTIME" "$src" "$src"/* "$src"/*/* "$src"/*/*/* 2>/dev/null || true
ctr=$("${BUILDAH[@]}" from scratch)
"${BUILDAH[@]}" copy "$ctr" "$src/." / >/dev/null
"${BUILDAH[@]}" config --cmd '["/bin/tiny"]' --label org.opencontainers.image.title=kura-test-tiny \
  --created-by "kura-test: tiny" --os linux --arch amd64 "$ctr"
"${BUILDAH[@]}" commit -q --format oci --timestamp 0 "$ctr" "oci:$OUTDIR/oci/tiny:latest" >/dev/null
"${BUILDAH[@]}" rm "$ctr" >/dev/null
[ "$(jq -r '.layers[0].mediaType' "$OUTDIR/oci/tiny/blobs/sha256/$(tag_field "$OUTDIR/oci/tiny" latest digest | cut -d: -f2)")" \
  = application/vnd.oci.image.layer.v1.tar ] || { echo "tiny: layer is not uncompressed" >&2; exit 1; }
to_docker_archive tiny latest
summarize tiny latest
record tiny "$t"

###############################################################################
# (b) layers: whiteout + opaque dir (hand-made tar layers added with umoci)
###############################################################################
t=$(now); log "(b) layers (whiteout + opaque)"
L="$OUTDIR/oci/layers"; lw="$WORK/layers"; mkdir -p "$lw"
umoci init --layout "$L"
umoci new --image "$L:v1"
# layer 1: base content
mkdir -p "$lw/l1/data" "$lw/l1/opq/sub" "$lw/l1/etc"
echo keep > "$lw/l1/data/keep.txt"
echo "deleted by a whiteout in layer 2" > "$lw/l1/data/remove-me.txt"
echo old1 > "$lw/l1/opq/old1.txt"; echo old2 > "$lw/l1/opq/sub/old2.txt"
echo "release=1" > "$lw/l1/etc/kura-release"
mktar "$lw/l1" "$lw/l1.tar"
# layer 2: whiteout of data/remove-me.txt, one new file
mkdir -p "$lw/l2/data"; : > "$lw/l2/data/.wh.remove-me.txt"; echo added > "$lw/l2/data/added.txt"
mktar "$lw/l2" "$lw/l2.tar"
# layer 3: opaque whiteout of /opq (hides old1.txt and sub/), new content
mkdir -p "$lw/l3/opq"; : > "$lw/l3/opq/.wh..wh..opq"; echo new > "$lw/l3/opq/new.txt"
mktar "$lw/l3" "$lw/l3.tar"
# layer 4: overwrite a layer-1 file, add a hardlink and a symlink
mkdir -p "$lw/l4/etc" "$lw/l4/data"; echo "release=2" > "$lw/l4/etc/kura-release"
echo linked > "$lw/l4/data/linked-a.txt"; ln "$lw/l4/data/linked-a.txt" "$lw/l4/data/linked-b.txt"
ln -s keep.txt "$lw/l4/data/keep-link"
mktar "$lw/l4" "$lw/l4.tar"
for i in 1 2 3 4; do
  umoci raw add-layer --image "$L:v1" --history.created "$CREATED" \
    --history.created_by "kura-test: layer $i" "$lw/l$i.tar"
done
umoci config --image "$L:v1" --architecture amd64 --os linux --created "$CREATED" \
  --config.cmd /bin/sh --config.label org.opencontainers.image.title=kura-test-layers \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --no-history
umoci gc --layout "$L"
# verify that the whiteouts apply as intended
umoci unpack --image "$L:v1" "$lw/bundle" >/dev/null
r="$lw/bundle/rootfs"
[ -f "$r/data/keep.txt" ] && [ ! -e "$r/data/remove-me.txt" ] && [ -f "$r/data/added.txt" ] \
  && [ -f "$r/opq/new.txt" ] && [ ! -e "$r/opq/old1.txt" ] && [ ! -e "$r/opq/sub" ] \
  && grep -q release=2 "$r/etc/kura-release" \
  || { echo "layers: whiteout verification failed" >&2; find "$r" >&2; exit 1; }
to_docker_archive layers v1
summarize layers v1
record layers "$t"

###############################################################################
# (c) multiarch: OCI image index, linux/amd64 + linux/arm64/v8, shared base layer
###############################################################################
t=$(now); log "(c) multiarch index"
M="$OUTDIR/oci/multiarch"; mw="$WORK/multiarch"; mkdir -p "$mw/common/etc"
umoci init --layout "$M"
printf 'shared base layer for both platforms\n' > "$mw/common/etc/motd"
mktar "$mw/common" "$mw/common.tar"
for arch in amd64 arm64; do
  mkdir -p "$mw/$arch/etc"
  printf 'ARCH=%s\n' "$arch" > "$mw/$arch/etc/platform"
  for i in $(seq 1 64); do printf '%s payload line %04d\n' "$arch" "$i"; done > "$mw/$arch/etc/payload.txt"
  mktar "$mw/$arch" "$mw/$arch.tar"
  umoci new --image "$M:$arch"
  umoci raw add-layer --image "$M:$arch" --history.created "$CREATED" --history.created_by "kura-test: common" "$mw/common.tar"
  umoci raw add-layer --image "$M:$arch" --history.created "$CREATED" --history.created_by "kura-test: $arch" "$mw/$arch.tar"
  umoci config --image "$M:$arch" --architecture "$arch" --os linux --created "$CREATED" \
    --config.cmd /bin/sh --config.label "org.opencontainers.image.title=kura-test-multiarch-$arch" --no-history
done
idx_entry() { # tag -> that tag's descriptor in index.json, without annotations
  jq -c --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | del(.annotations)' "$M/index.json"
}
amd=$(idx_entry amd64); arm=$(idx_entry arm64)
jq -n --argjson a "$amd" --argjson b "$arm" '{
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    ($a + {platform: {architecture: "amd64", os: "linux"}}),
    ($b + {platform: {architecture: "arm64", os: "linux", variant: "v8"}})
  ],
  annotations: {"org.opencontainers.image.title": "kura-test-multiarch"}
}' > "$mw/index-blob.json"
idxdig=$(sha256sum "$mw/index-blob.json" | cut -d' ' -f1)
idxsize=$(stat -c %s "$mw/index-blob.json")
cp "$mw/index-blob.json" "$M/blobs/sha256/$idxdig"
# the layout's index.json holds only the image index, tagged "latest"
jq -n --arg d "sha256:$idxdig" --argjson s "$idxsize" '{
  schemaVersion: 2,
  manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
               annotations: {"org.opencontainers.image.ref.name": "latest"}}]
}' > "$M/index.json"
umoci gc --layout "$M"   # drop per-arch manifests/configs superseded by the index
# 1 index + 2 manifests + 2 configs + 1 shared layer + 2 arch layers
n=$(find "$M/blobs/sha256" -type f | wc -l)
[ "$n" = 8 ] || { echo "multiarch: expected 8 blobs after gc, got $n" >&2; ls -la "$M/blobs/sha256" >&2; exit 1; }
for arch in amd64 arm64; do
  got=$(skopeo --override-arch "$arch" --override-os linux inspect "oci:$M:latest" | jq -r .Architecture)
  [ "$got" = "$arch" ] || { echo "multiarch: $arch resolved to $got" >&2; exit 1; }
done
summarize multiarch latest
record multiarch "$t"

###############################################################################
# report
###############################################################################
record total "$T_ALL"
mv "$TSV" "$OUTDIR/images.tsv"
log "done: $OUTDIR"
column -t -s $'\t' "$OUTDIR/images.tsv" >&2 2>/dev/null || cat "$OUTDIR/images.tsv" >&2
