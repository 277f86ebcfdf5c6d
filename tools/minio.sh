#!/usr/bin/env bash
# Builds MinIO (the real S3 server the tests use as a backend) from the Go module proxy into
# $FLOODGATE_CACHE/minio/minio. Idempotent: does nothing when the cached binary is the pinned
# version. MinIO stopped publishing semver tags, so the pin is the module proxy's pseudo-version
# of its last master commit (the same one `go install …@latest` resolves to); it builds with Go 1.26.
set -euo pipefail
version=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}
out=$cache/minio
bin=$out/minio
if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep "mod[[:space:]]*github.com/minio/minio[[:space:]]*$version" >/dev/null; then
  exit 0
fi
command -v go >/dev/null || { echo "minio.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$out" "$cache/go/mod" "$cache/go/build"
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
echo "minio.sh: building github.com/minio/minio@$version (several minutes the first time)" >&2
# Build into a temporary GOBIN and move, so an interrupted build never leaves a half binary.
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
GOBIN=$tmp go install "github.com/minio/minio@$version"
mv -f "$tmp/minio" "$bin"
echo "minio.sh: $bin" >&2
