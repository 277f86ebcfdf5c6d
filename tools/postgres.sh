#!/usr/bin/env bash
# Makes PostgreSQL's server binaries available (Debian packages) and prints their directory, e.g.
# /usr/lib/postgresql/15/bin. Tests start their own throwaway server from there (initdb +
# postgres on a loopback port, as an unprivileged user when run as root) and stop it by pid.
set -euo pipefail
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
dir=$(find_bin || true)
if [ -z "$dir" ] || [ ! -x "$dir/postgres" ] || [ ! -x "$dir/initdb" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "postgres.sh: PostgreSQL is missing; run as root: apt-get install -y postgresql" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  dir=$(find_bin)
fi
echo "$dir"
