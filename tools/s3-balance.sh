#!/usr/bin/env bash
# Builds S3 Balance (github.com/DullJZ/s3-balance, the Go project Floodgate replaces) for the peer
# benchmark (`make bench ARGS=peer`) into $FLOODGATE_CACHE/s3-balance/s3-balance and prints the
# binary's path on stdout. The source comes from the Go module proxy, like tools/minio.sh; it is
# built in a scratch copy and never enters this repository. Its internal/webui embeds a dist/
# folder that the published module lacks (the web UI is a separate repository), so the copy gets an
# empty placeholder dist/index.html. Idempotent: does nothing when the cached binary is the pin.
#
# When the module proxy refuses the module, this script says so and exits 3; the bench section then
# skips S3 Balance. S3_BALANCE_SRC=<directory> builds from a checkout of the same repository instead
# (its go.mod must name the module; dependencies still come from the module proxy).
set -euo pipefail
module=github.com/DullJZ/s3-balance
version=${S3_BALANCE_VERSION:-v0.2.1}
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}
out=$cache/s3-balance
bin=$out/s3-balance
source=${S3_BALANCE_SRC:+src:$(cd "$S3_BALANCE_SRC" && pwd)}
stamp="$module@${source:-$version}"
if [ -x "$bin" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "s3-balance.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$out" "$cache/go/mod" "$cache/go/build"
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -n "${S3_BALANCE_SRC:-}" ]; then
  grep -q "^module $module\$" "$S3_BALANCE_SRC/go.mod" || { echo "s3-balance.sh: $S3_BALANCE_SRC/go.mod is not module $module" >&2; exit 1; }
  src=$S3_BALANCE_SRC
else
  echo "s3-balance.sh: fetching $module@$version from $GOPROXY" >&2
  if ! json=$(go mod download -json "$module@$version" 2>&1) || ! src=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json") || [ -z "$src" ]; then
    echo "s3-balance.sh: cannot fetch $module@$version from the Go module proxy:" >&2
    sed -n 's/^\t"Error": "\(.*\)",\{0,1\}$/  \1/p' <<<"$json" | sed 's/\\n\\t/\n  /g' >&2
    echo "s3-balance.sh: set S3_BALANCE_SRC to a checkout of the repository to build it from source" >&2
    exit 3
  fi
fi
cp -R "$src/." "$tmp/src"
chmod -R u+w "$tmp/src"
mkdir -p "$tmp/src/internal/webui/dist"
[ -e "$tmp/src/internal/webui/dist/index.html" ] || : >"$tmp/src/internal/webui/dist/index.html"
echo "s3-balance.sh: building $stamp" >&2
(cd "$tmp/src" && go build -trimpath -o "$tmp/s3-balance" ./cmd/s3-balance)
mv -f "$tmp/s3-balance" "$bin"
echo "$stamp" >"$out/stamp"
echo "s3-balance.sh: $bin" >&2
echo "$bin"
