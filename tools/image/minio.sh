#!/usr/bin/env bash
# A MinIO image for pods in the test cluster, from the binary tools/minio.sh builds (no registry):
#   $FLOODGATE_CACHE/images/minio-<version>.tar   ref floodgate.local/minio:<version>
# where <version> is the Go module version of that binary (its pseudo-version). Rebuilt only when
# the binary, this script or archive.sh changed. Prints the archive path on the last line.
# Runs `minio server /data --address :9000` as user 65532; /data and /tmp are volumes (mode 1777),
# HOME=/tmp (MinIO keeps its certs dir there), busybox-static for debugging.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}
"$root/tools/minio.sh" >&2
bin=$cache/minio/minio
version=$(go version -m "$bin" | awk '$1 == "mod" && $2 == "github.com/minio/minio" { print $3 }')
[ -n "$version" ] || { echo "minio.sh: cannot read the module version of $bin" >&2; exit 1; }
out=$cache/images/minio-$version.tar
archive=$root/tools/image/archive.sh
key=$(cat "${BASH_SOURCE[0]}" "$archive" <(stat -L -c '%s %Y' "$bin" /bin/busybox) | sha256sum | cut -c1-16)
if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
  echo "$out"; exit 0
fi
mkdir -p "$cache/images"
work=$(mktemp -d "$cache/images/.minio.XXXXXX")
trap 'rm -rf "$work"' EXIT
l=$work/layer
mkdir -p "$l/usr/bin" "$l/bin" "$l/etc" "$l/data" "$l/tmp"
install -m 0755 "$bin" "$l/usr/bin/minio"
install -m 0755 /bin/busybox "$l/bin/busybox"
for applet in $(/bin/busybox --list); do [ -e "$l/bin/$applet" ] || ln -s busybox "$l/bin/$applet"; done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'minio:x:65532:65532:minio:/tmp:/bin/false' > "$l/etc/passwd"
printf '%s\n' 'root:x:0:' 'minio:x:65532:' > "$l/etc/group"
chmod 0644 "$l/etc/passwd" "$l/etc/group"
chmod 0755 "$l" "$l/usr" "$l/usr/bin" "$l/bin" "$l/etc"
chmod 1777 "$l/data" "$l/tmp"
"$archive" --ref "floodgate.local/minio:$version" --out "$out" \
  --entrypoint '["/usr/bin/minio"]' --cmd '["server","/data","--address",":9000"]' \
  --user 65532:65532 --env HOME=/tmp --volume /data --volume /tmp --expose 9000/tcp \
  --label "org.opencontainers.image.title=minio" --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.source=https://github.com/minio/minio" \
  "$l" >/dev/null
echo "$key" > "$out.key"
echo "$out"
