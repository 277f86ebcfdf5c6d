#!/usr/bin/env bash
# Installs the S3 clients of the client matrix (e2e/gateway-clients.test.ts) into
# $FLOODGATE_CACHE/s3clients/bin: rclone (the Debian package, unpacked without root when the
# machine lacks it), MinIO's mc (built from the Go module proxy, like tools/minio.sh builds MinIO)
# and s3go (the aws-sdk-go-v2 program in e2e/go, built from its pinned go.mod). s3cmd comes from
# PyPI through tools/pydeps.sh. Idempotent: prints nothing and builds nothing when cached.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}
bin=$cache/s3clients/bin
mc_version=${MC_VERSION:-v0.0.0-20250313080218-cf909e1063a9}
mkdir -p "$bin"

# rclone: the distribution's package. A machine that has it installed links it; otherwise the
# .deb is fetched with apt-get download (no root needed) and unpacked into the cache.
if [ ! -x "$bin/rclone" ]; then
  if [ -z "${FLOODGATE_RCLONE_FROM_DEB:-}" ] && command -v rclone >/dev/null; then
    ln -sf "$(command -v rclone)" "$bin/rclone"
  else
    command -v apt-get >/dev/null || { echo "s3clients.sh: rclone is missing and apt-get is not available; install rclone" >&2; exit 1; }
    tmp=$(mktemp -d)
    (cd "$tmp" && { apt-get download rclone >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download rclone >/dev/null; }; })
    dpkg-deb -x "$tmp"/rclone_*.deb "$cache/s3clients/rclone-deb"
    rm -rf "$tmp"
    ln -sf "$cache/s3clients/rclone-deb/usr/bin/rclone" "$bin/rclone"
  fi
fi

command -v go >/dev/null || { echo "s3clients.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}

# mc: like MinIO it has no semver tags; the pin is the proxy's pseudo-version that @latest resolves to.
if ! { [ -x "$bin/mc" ] && go version -m "$bin/mc" 2>/dev/null | grep "mod[[:space:]]*github.com/minio/mc[[:space:]]*$mc_version" >/dev/null; }; then
  echo "s3clients.sh: building github.com/minio/mc@$mc_version (several minutes the first time)" >&2
  tmp=$(mktemp -d "$cache/s3clients/.build.XXXXXX")
  GOBIN=$tmp go install "github.com/minio/mc@$mc_version"
  mv -f "$tmp/mc" "$bin/mc"
  rm -rf "$tmp"
fi

# s3go: rebuilt whenever its source or pinned modules change.
want=$(cat "$root/e2e/go/go.mod" "$root/e2e/go/go.sum" "$root/e2e/go/main.go" | sha256sum | cut -d' ' -f1)
if [ ! -x "$bin/s3go" ] || [ "$(cat "$bin/.s3go.sha256" 2>/dev/null)" != "$want" ]; then
  echo "s3clients.sh: building e2e/go (aws-sdk-go-v2)" >&2
  (cd "$root/e2e/go" && go build -trimpath -o "$bin/.s3go.tmp" .)
  mv -f "$bin/.s3go.tmp" "$bin/s3go"
  echo "$want" > "$bin/.s3go.sha256"
fi
