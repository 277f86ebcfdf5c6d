#!/usr/bin/env bash
# Writes a container image as a docker-archive (the `docker save` format) with only tar, sha256sum
# and hand-written JSON: no Docker daemon, no registry.
#
#   tools/image/archive.sh --ref REF --out FILE.tar [--entrypoint JSON-ARRAY] [--cmd JSON-ARRAY]
#     [--user UID:GID] [--env K=V]... [--label K=V]... [--workdir DIR] [--volume PATH]...
#     [--expose PORT/tcp]... LAYERDIR...
#
#   tools/image/archive.sh --layer DIR --out LAYER.tar   only write DIR as a layer tar, and its
#                                                        digest into LAYER.tar.sha256
#
# Each LAYERDIR becomes one uncompressed layer, in the order given (later layers win). A LAYERDIR
# may instead be a layer tar written by --layer: it is used as it is, its digest read from the
# .sha256 file beside it (so a cached 100 MB layer is not hashed again). The archive
# holds both a docker `manifest.json` and an OCI layout (`oci-layout` + `index.json`) over the same
# blobs/sha256/ files, as `docker save` of Docker >= 25 does, so `docker load`, `ctr images import`,
# `kind load image-archive` and `skopeo` (docker-archive: and oci-archive:) all read it.
#
# Reproducible: entries sorted by name, mtime 0, every file owned by 0:0 (numeric), config
# `created` at the epoch, so the same inputs give the same bytes and the same digest. File modes
# are taken from the LAYERDIR as they are: the caller sets them. Nothing is owned by a non-root
# user on purpose: a container's writable paths should be volumes; a directory the image's user
# must be able to write even without a volume is made mode 1777 by the caller (as /tmp is).
# When no --env sets PATH, the usual PATH is added.
#
# stdout: the archive path (last line). stderr: the reference, image id and manifest digest.
set -euo pipefail

die() { echo "archive.sh: $*" >&2; exit 2; }

# A JSON string literal; refuses control characters other than tab and newline.
json_str() {
  local s=$1
  local t=${s//[$'\t\n']/}
  [[ ! $t =~ [[:cntrl:]] ]] || die "control character in value: $s"
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}
  printf '"%s"' "$s"
}
json_array_check() { [[ $1 == \[*\] ]] || die "$2 must be a JSON array, e.g. '[\"/bin/sh\"]', got: $1"; }
join() { local IFS=,; echo "$*"; }

ref='' out='' entrypoint='' cmd='' user='' workdir='' layer_only=''
envs=() labels=() volumes=() exposes=() layers=()
while [ $# -gt 0 ]; do
  case $1 in
    --ref) ref=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --layer) [ -d "$2" ] || die "layer directory not found: $2"; layer_only=$2; shift 2 ;;
    --entrypoint) json_array_check "$2" --entrypoint; entrypoint=$2; shift 2 ;;
    --cmd) json_array_check "$2" --cmd; cmd=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --env) [[ $2 == ?*=* ]] || die "--env wants K=V, got: $2"; envs+=("$2"); shift 2 ;;
    --label) [[ $2 == ?*=* ]] || die "--label wants K=V, got: $2"; labels+=("$2"); shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --volume) [[ $2 == /* ]] || die "--volume wants an absolute path, got: $2"; volumes+=("$2"); shift 2 ;;
    --expose) [[ $2 =~ ^[0-9]+/(tcp|udp)$ ]] || die "--expose wants PORT/tcp or PORT/udp, got: $2"; exposes+=("$2"); shift 2 ;;
    --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --*) die "unknown flag $1" ;;
    *.tar) [ -f "$1" ] && [ -f "$1.sha256" ] || die "layer tar (with .sha256 beside it) not found: $1"; layers+=("$(readlink -f "$1")"); shift ;;
    *) [ -d "$1" ] || die "layer directory not found: $1"; layers+=("$(cd "$1" && pwd)"); shift ;;
  esac
done
[ -n "$out" ] || die "--out is required"
TAR_REPRO=(--format=gnu --no-recursion --mtime=@0 --owner=0 --group=0 --numeric-owner --no-acls --no-xattrs --no-selinux)

# Writes directory $1 as a reproducible layer tar $2.
layer_tar() {
  (cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) > "$2.list"
  tar -C "$1" "${TAR_REPRO[@]}" -cf "$2" -T "$2.list"
  rm -f "$2.list"
}
if [ -n "$layer_only" ]; then
  mkdir -p "$(dirname "$out")"
  layer_tar "$layer_only" "$out.tmp"
  sha256sum "$out.tmp" | cut -d' ' -f1 > "$out.sha256.tmp"
  mv -f "$out.tmp" "$out" && mv -f "$out.sha256.tmp" "$out.sha256"
  echo "$out"; exit 0
fi
[ -n "$ref" ] || die "--ref is required"
[ ${#layers[@]} -gt 0 ] || die "at least one LAYERDIR is required"

# Full name for containerd (docker.io/library/x:latest style) and the tag for OCI ref.name.
name=${ref%@*}
tag=latest
[[ ${name##*/} == *:* ]] && { tag=${name##*:}; name=${name%:*}; }
first=${name%%/*}
if [[ $name != */* ]]; then full=docker.io/library/$name
elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then full=docker.io/$name
else full=$name; fi
full=$full:$tag
familiar=$ref; [[ ${ref##*/} == *:* ]] || familiar=$ref:latest

case $(uname -m) in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) die "unsupported arch $(uname -m)" ;; esac

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.archive.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

# Writes file $1 as a blob; sets $digest and $size.
blob() {
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv -f "$1" "$work/blobs/sha256/$digest"
}
diff_ids=() layer_descs=() layer_paths=() history=()
for dir in "${layers[@]}"; do
  if [ -f "$dir" ]; then
    digest=$(cat "$dir.sha256") size=$(stat -c %s "$dir")
    [[ $digest =~ ^[0-9a-f]{64}$ ]] || die "bad digest in $dir.sha256"
    ln -f "$dir" "$work/blobs/sha256/$digest" 2>/dev/null || cp "$dir" "$work/blobs/sha256/$digest"
  else
    layer_tar "$dir" "$work/layer.tar"
    blob "$work/layer.tar"
  fi
  diff_ids+=("\"sha256:$digest\"")
  layer_paths+=("\"blobs/sha256/$digest\"")
  layer_descs+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$digest\",\"size\":$size}")
  history+=("{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":$(json_str "archive.sh layer $(basename "$dir" .tar)")}")
done

has_path=0
for e in "${envs[@]}"; do [[ $e == PATH=* ]] && has_path=1; done
[ $has_path = 1 ] || envs=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${envs[@]}")

cfg=()
[ -z "$user" ] || cfg+=("\"User\":$(json_str "$user")")
items=(); for e in "${envs[@]}"; do items+=("$(json_str "$e")"); done
cfg+=("\"Env\":[$(join "${items[@]}")]")
[ -z "$entrypoint" ] || cfg+=("\"Entrypoint\":$entrypoint")
[ -z "$cmd" ] || cfg+=("\"Cmd\":$cmd")
[ -z "$workdir" ] || cfg+=("\"WorkingDir\":$(json_str "$workdir")")
if [ ${#exposes[@]} -gt 0 ]; then
  items=(); for p in "${exposes[@]}"; do items+=("$(json_str "$p"):{}"); done
  cfg+=("\"ExposedPorts\":{$(join "${items[@]}")}")
fi
if [ ${#volumes[@]} -gt 0 ]; then
  items=(); for v in "${volumes[@]}"; do items+=("$(json_str "$v"):{}"); done
  cfg+=("\"Volumes\":{$(join "${items[@]}")}")
fi
if [ ${#labels[@]} -gt 0 ]; then
  items=(); for l in "${labels[@]}"; do items+=("$(json_str "${l%%=*}"):$(json_str "${l#*=}")"); done
  cfg+=("\"Labels\":{$(join "${items[@]}")}")
fi

printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{%s},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
  "$arch" "$(join "${cfg[@]}")" "$(join "${diff_ids[@]}")" "$(join "${history[@]}")" > "$work/config.json"
blob "$work/config.json"
config_digest=$digest config_size=$size

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$config_digest" "$config_size" "$(join "${layer_descs[@]}")" > "$work/manifest.oci.json"
blob "$work/manifest.oci.json"
manifest_digest=$digest manifest_size=$size

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":%s,"org.opencontainers.image.ref.name":%s}}]}' \
  "$manifest_digest" "$manifest_size" "$(json_str "$full")" "$(json_str "$tag")" > "$work/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
printf '[{"Config":"blobs/sha256/%s","RepoTags":[%s],"Layers":[%s]}]' \
  "$config_digest" "$(json_str "$familiar")" "$(join "${layer_paths[@]}")" > "$work/manifest.json"

(cd "$work" && { printf '%s\n' oci-layout index.json manifest.json blobs blobs/sha256; find blobs/sha256 -type f | LC_ALL=C sort; }) > "$work/.list"
chmod 0644 "$work"/blobs/sha256/* "$work"/*.json "$work/oci-layout"
chmod 0755 "$work/blobs" "$work/blobs/sha256"
tar -C "$work" "${TAR_REPRO[@]}" -cf "$work/.out.tar" -T "$work/.list"
mv -f "$work/.out.tar" "$out"
echo "archive.sh: $familiar -> $out (image id sha256:$config_digest, manifest sha256:$manifest_digest)" >&2
echo "$out"
