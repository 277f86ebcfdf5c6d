#!/usr/bin/env bash
# Builds the image of the test application the cluster scenarios run in pods
# (e2e/apps/s3-app.ts with @aws-sdk/client-s3 and @aws-sdk/lib-storage): the Floodgate image's
# layers (Node, libraries, busybox) plus one layer with /e2e/apps and its own node_modules.
#   tools/image/e2e-app.sh FLOODGATE-IMAGE.tar [--out FILE.tar]   the archive; prints its path last
#   tools/image/e2e-app.sh --layer DIR                            only the /e2e layer, into DIR
# ref floodgate.local/e2e-app:<version>. The Dockerfile's `e2e-app` target runs --layer on top of
# the Floodgate image's files, so kind gets the same image.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
usage='usage: e2e-app.sh FLOODGATE-IMAGE.tar [--out FILE.tar] | --layer DIR'
base=${1:?$usage}; shift
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}/image
out='' layer=''
if [ "$base" = --layer ]; then layer=${1:?$usage}; base=''; fi
[ "${1:-}" != --out ] || out=$2
nodebin=$("$root/tools/node.sh")/node
eval "$("$nodebin" "$root/version.ts")"
out=${out:-$cache/e2e-app-$VERSION.tar}
mkdir -p "$cache"
stage=$(mktemp -d "$cache/.e2e.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# The SDK at the versions the repo's lock file pins, installed once per version pair.
versions=$("$nodebin" -p 'const p = require(process.argv[1]).packages; ["client-s3", "lib-storage"].map((n) => `"@aws-sdk/${n}": "${p["node_modules/@aws-sdk/" + n].version}"`).join(", ")' "$root/package-lock.json")
key=$(echo "$versions" | sha256sum | cut -c1-16)
deps=$cache/e2e-deps-$key
if [ ! -d "$deps/node_modules" ]; then
  tmp=$(mktemp -d "$cache/.e2edeps.XXXXXX")
  printf '{ "name": "floodgate-e2e-app", "private": true, "type": "module", "dependencies": { %s } }\n' "$versions" > "$tmp/package.json"
  (cd "$tmp" && PATH=$(dirname "$nodebin"):$PATH npm install --omit=dev --ignore-scripts --no-audit --no-fund >&2)
  chmod -R u+rwX,go+rX,go-w "$tmp"
  rm -rf "$deps" && mv "$tmp" "$deps"
fi
mkdir -p "$stage/layer/e2e/apps"
cp -a "$deps/node_modules" "$deps/package.json" "$stage/layer/e2e/"
cp "$root/e2e/apps/s3-app.ts" "$root/e2e/apps/content.ts" "$stage/layer/e2e/apps/"
chmod -R u+rwX,go+rX,go-w "$stage/layer"
if [ -n "$layer" ]; then mkdir -p "$layer" && cp -a "$stage/layer/." "$layer/" && echo "$layer" && exit 0; fi

# The base image's layers, as layer tars with their digests beside them (archive.sh reuses them).
mkdir "$stage/base" && tar -C "$stage/base" -xf "$base"
layers=()
for l in $("$nodebin" -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].Layers.join("\n")' "$stage/base/manifest.json"); do
  digest=$(basename "$l")
  mv "$stage/base/$l" "$stage/base/$digest.tar" && echo "$digest" > "$stage/base/$digest.tar.sha256"
  layers+=("$stage/base/$digest.tar")
done

"$root/tools/image/archive.sh" --ref "floodgate.local/e2e-app:$VERSION" --out "$out" \
  --entrypoint '["/usr/local/bin/node","/e2e/apps/s3-app.ts"]' --user 65532:65532 --workdir /e2e \
  --label "org.opencontainers.image.title=floodgate-e2e-app" --label "org.opencontainers.image.version=$VERSION" \
  "${layers[@]}" "$stage/layer"
