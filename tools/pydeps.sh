#!/usr/bin/env bash
# Installs boto3, the AWS CLI and s3cmd from PyPI into a cached virtualenv; prints nothing when cached.
# Versions are pinned so every machine tests against the same clients; bump them together
# (awscli pins the botocore it was released with).
set -euo pipefail
venv=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}/pyenv
want="boto3==1.44.8 botocore==1.44.8 s3transfer==0.19.3 awscli==1.46.2"
# s3cmd (the client matrix, e2e/gateway-clients.test.ts) is added to a ready venv without
# rebuilding it, so tests already using the venv keep running.
extra="s3cmd==2.4.0"
if [ ! -x "$venv/bin/aws" ] || [ "$(cat "$venv/.want" 2>/dev/null)" != "$want" ]; then
  py=$(command -v python3)
  "$py" -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" > "$venv/.want"
fi
if [ ! -x "$venv/bin/s3cmd" ] || [ "$(cat "$venv/.extra" 2>/dev/null)" != "$extra" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check $extra
  echo "$extra" > "$venv/.extra"
fi
