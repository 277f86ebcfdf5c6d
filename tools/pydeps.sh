#!/usr/bin/env bash
# Installs boto3 and the AWS CLI from PyPI into a cached virtualenv; prints nothing when cached.
set -euo pipefail
venv=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}/pyenv
want="boto3 awscli"
if [ -x "$venv/bin/aws" ] && [ "$(cat "$venv/.want" 2>/dev/null)" = "$want" ]; then exit 0; fi
py=$(command -v python3)
"$py" -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check $want
echo "$want" > "$venv/.want"
