#!/usr/bin/env bash
# Builds the one Floodgate image (`floodgate operator|gateway|injector|crds`) without Docker or a
# registry: dist/floodgate-image-<version>.tar, a docker-archive written by tools/image/archive.sh.
#
#   tools/image/floodgate.sh [--out FILE.tar]   build the archive; prints its path on the last line
#   tools/image/floodgate.sh --rootfs DIR       only assemble the image's filesystem into DIR
#                                               (the Dockerfile's build stage runs this)
#
# Three layers, least to most often changed:
#   base  the pinned Node binary (stripped), the glibc libraries `ldd` lists for it and for every
#         native addon, busybox-static (for `kubectl exec … sh`), /etc/passwd+group with user
#         65532, /tmp and /var/lib/floodgate (mode 1777: volumes go there; the root fs is read-only)
#   deps  /app/node_modules: `npm ci --omit=dev` without *.d.ts, *.map, *.md; cached by the hash
#         of package.json + package-lock.json
#   app   /app: the tracked runtime sources (no tests, fixtures, e2e, bench, docs, tools)
# The image config (user, entrypoint, labels, volumes, workdir) is below; the Dockerfile repeats
# it and e2e/image.test.ts checks that both say the same.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The node flags ./bin/floodgate runs with (why: there), for the ENTRYPOINT and the in-image wrapper.
eval "$(grep '^node_flags=(' "$root/bin/floodgate")"
entrypoint=$(printf '"%s",' /usr/local/bin/node "${node_flags[@]}" /app/main.ts)
entrypoint="[${entrypoint%,}]"
# …and the environment it sets for glibc's malloc.
malloc_env=$(sed -n 's/^export \(MALLOC_MMAP_THRESHOLD_\)=\${MALLOC_MMAP_THRESHOLD_:-\([0-9]*\)}$/\1=\2/p' "$root/bin/floodgate")
[ -n "$malloc_env" ] || { echo "floodgate.sh: no MALLOC_MMAP_THRESHOLD_ in bin/floodgate" >&2; exit 1; }
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}/image
out='' rootfs=''
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    *) echo "floodgate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

nodebin=$("$root/tools/node.sh")/node
want=v$(cat "$root/.node-version")
[ "$("$nodebin" --version)" = "$want" ] || { echo "floodgate.sh: need Node $want at $nodebin, found $("$nodebin" --version)" >&2; exit 1; }
eval "$("$nodebin" "$root/version.ts")"   # VERSION IMAGE_REPOSITORY IMAGE SOURCE_URL
# busybox-static installs /bin/busybox; `ldd` fails on a static binary (and on a missing one).
busybox=/bin/busybox
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 || { echo "floodgate.sh: needs a static $busybox (apt-get install busybox-static)" >&2; exit 1; }
command -v strip >/dev/null || { echo "floodgate.sh: needs strip (apt-get install binutils)" >&2; exit 1; }

mkdir -p "$cache"
# One build at a time per cache (make test may build from two tests at once): the cached layers
# are written in place.
exec 9>"$cache/.lock"
flock 9
stage=$(mktemp -d "$cache/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
normalize() { chmod -R u+rwX,go+rX,go-w "$@"; }

archive=$root/tools/image/archive.sh
# A cached layer tar is reused while its key (the inputs, this script and archive.sh) is unchanged.
scripts=$(cat "$archive" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)

# deps: production node_modules, one npm ci per lock file.
key=$(cat "$root/package.json" "$root/package-lock.json" <(echo "$want $(uname -m) prune-1") | sha256sum | cut -c1-16)
deps=$cache/deps-$key
if [ ! -d "$deps/app/node_modules" ]; then
  echo "floodgate.sh: npm ci --omit=dev into $deps" >&2
  tmp=$(mktemp -d "$cache/.deps.XXXXXX")
  cp "$root/package.json" "$root/package-lock.json" "$tmp/"
  (cd "$tmp" && PATH=$(dirname "$nodebin"):$PATH npm ci --omit=dev --ignore-scripts --no-audit --no-fund >&2)
  # Type declarations, source maps and docs are never loaded at run time: about 40 % of the bytes.
  find "$tmp/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -iname '*.md' \) -delete
  mkdir -p "$tmp/layer/app" && mv "$tmp/node_modules" "$tmp/layer/app/"
  normalize "$tmp/layer"
  rm -rf "$deps" && mv "$tmp/layer" "$deps" && rm -rf "$tmp"
  for old in "$cache"/deps-*/; do [ "${old%/}" = "$deps" ] || rm -rf "$old"; done
fi

deps_tar=$cache/deps-$key-$scripts.tar
if [ -z "$rootfs" ] && [ ! -f "$deps_tar.sha256" ]; then
  rm -f "$cache"/deps-*.tar "$cache"/deps-*.tar.sha256
  "$archive" --layer "$deps" --out "$deps_tar" >/dev/null
fi

# base: node, its libraries and those of every native addon, busybox, users.
libs=$({ ldd "$nodebin"; find "$deps" -name '*.node' -type f -exec ldd {} \;; } \
  | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | LC_ALL=C sort -u)
base_key=$(stat -L -c '%n %s %Y' "$nodebin" "$busybox" $libs | cat - <(echo "$scripts ${node_flags[*]} $malloc_env") | sha256sum | cut -c1-16)
base_tar=$cache/base-$base_key.tar
b=$stage/base
assemble_base() {
  mkdir -p "$b/usr/local/bin" "$b/bin" "$b/etc" "$b/tmp" "$b/var/lib/floodgate"
  strip --strip-all -o "$b/usr/local/bin/node" "$nodebin"
  for lib in $libs; do cp -L --parents "$lib" "$b/"; done
  cp "$busybox" "$b/bin/busybox"
  for applet in $("$busybox" --list); do [ -e "$b/bin/$applet" ] || ln -s busybox "$b/bin/$applet"; done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'floodgate:x:65532:65532:floodgate:/tmp:/bin/false' > "$b/etc/passwd"
  printf '%s\n' 'root:x:0:' 'floodgate:x:65532:' > "$b/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' > "$b/etc/nsswitch.conf"
  printf '%s\n' '#!/bin/sh' "exec /usr/local/bin/node ${node_flags[*]} /app/main.ts \"\$@\"" > "$b/usr/local/bin/floodgate"
  chmod 0755 "$b/usr/local/bin/floodgate"
  normalize "$b"
  chmod 1777 "$b/tmp" "$b/var/lib/floodgate"
}
if [ -n "$rootfs" ]; then
  assemble_base
elif [ ! -f "$base_tar.sha256" ]; then
  assemble_base
  rm -f "$cache"/base-*.tar "$cache"/base-*.tar.sha256
  "$archive" --layer "$b" --out "$base_tar" >/dev/null
fi

# app: the tracked runtime sources (a checkout without .git, as in a Docker build context: every file).
runtime='^(main\.ts|version\.ts|package\.json|(crds|injector|operator|proxy)/.*)$'
notruntime='(\.test\.ts|\.fixture\.ts|\.md)$|/testing/'
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git -C "$root" ls-files); revision=$(git -C "$root" rev-parse HEAD)
  # The label names a commit; say so when the sources in the image are not exactly that commit.
  git -C "$root" diff --quiet HEAD -- main.ts version.ts package.json crds injector operator proxy || revision+=-dirty
else
  files=$(cd "$root" && find . -type f -printf '%P\n'); revision=${FLOODGATE_REVISION:-unknown}
fi
mkdir -p "$stage/app/app"
grep -E "$runtime" <<<"$files" | grep -vE "$notruntime" | (cd "$root" && while read -r f; do [ ! -f "$f" ] || echo "$f"; done) \
  | tar -C "$root" -cf - -T - | tar -C "$stage/app/app" -xf -
normalize "$stage/app"

if [ -n "$rootfs" ]; then
  mkdir -p "$rootfs"
  cp -a "$b/." "$deps/." "$stage/app/." "$rootfs/"
  echo "$rootfs"; exit 0
fi

out=${out:-$root/dist/floodgate-image-$VERSION.tar}
"$archive" --ref "$IMAGE" --out "$out" \
  --entrypoint "$entrypoint" --cmd '["--help"]' --env "$malloc_env" \
  --user 65532:65532 --workdir /var/lib/floodgate \
  --volume /tmp --volume /var/lib/floodgate \
  --expose 8080/tcp --expose 9000/tcp \
  --label "org.opencontainers.image.title=floodgate" \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.source=$SOURCE_URL" \
  --label "org.opencontainers.image.revision=$revision" \
  "$base_tar" "$deps_tar" "$stage/app"
