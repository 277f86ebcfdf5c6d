#!/usr/bin/env bash
# Builds the test cluster's own images as docker-archives (tools/image/archive.sh), cached under
#   $FLOODGATE_CACHE/cluster-images-<hash of the inputs>/
# and prints that directory as the last stdout line. It holds:
#   pause.tar    floodgate.local/pause:1     the pod sandbox (tools/cluster/pause.c, gcc -static)
#   coredns.tar  floodgate.local/coredns:<v> the CoreDNS that tools/cluster-bins.sh built
#   busybox.tar  floodgate.local/busybox:1   busybox-static with its applet links, for test pods
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}
bindir=$("$here/cluster-bins.sh" | tail -1)
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "cluster-images.sh: $busybox missing (tools/cluster-pkgs.sh installs busybox-static)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "cluster-images.sh: gcc is required for the pause image" >&2; exit 1; }
coredns_version=$("$bindir/coredns" -version | sed -n 's/^CoreDNS-\([0-9.]*\).*/\1/p')

key=$(cat "$0" "$here/cluster/pause.c" "$here/image/archive.sh" "$bindir/coredns" "$busybox" | sha256sum | cut -c1-12)
out=$cache/cluster-images-$key
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
label=(--label org.opencontainers.image.source=https://github.com/floodgate/floodgate)

mkdir -p "$work/pause"
gcc -static -Os -s -o "$work/pause/pause" "$here/cluster/pause.c"
"$here/image/archive.sh" --ref floodgate.local/pause:1 --out "$out/pause.tar" --entrypoint '["/pause"]' \
  --user 65535:65535 "${label[@]}" "$work/pause" >/dev/null

mkdir -p "$work/coredns/etc/coredns"
install -m 0755 "$bindir/coredns" "$work/coredns/coredns"
"$here/image/archive.sh" --ref "floodgate.local/coredns:$coredns_version" --out "$out/coredns.tar" \
  --entrypoint '["/coredns"]' --cmd '["-conf","/etc/coredns/Corefile"]' "${label[@]}" "$work/coredns" >/dev/null

mkdir -p "$work/busybox/bin" "$work/busybox/etc" "$work/busybox/tmp"
chmod 1777 "$work/busybox/tmp"
install -m 0755 "$busybox" "$work/busybox/bin/busybox"
for applet in $("$busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$work/busybox/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/busybox/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/busybox/etc/group"
"$here/image/archive.sh" --ref floodgate.local/busybox:1 --out "$out/busybox.tar" --cmd '["/bin/sh"]' \
  "${label[@]}" "$work/busybox" >/dev/null

echo "$coredns_version" >"$out/coredns.version"
touch "$out/.complete"
echo "$out"
