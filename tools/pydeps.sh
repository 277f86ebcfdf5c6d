#!/usr/bin/env bash
# Installs boto3 and the AWS CLI from PyPI into a cached virtualenv; prints nothing when cached.
# Versions are pinned so every machine tests against the same clients; bump them together
# (awscli pins the botocore it was released with).
set -euo pipefail
venv=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}/pyenv
want="boto3==1.44.8 botocore==1.44.8 s3transfer==0.19.3 awscli==1.46.2"
if [ -x "$venv/bin/aws" ] && [ "$(cat "$venv/.want" 2>/dev/null)" = "$want" ]; then exit 0; fi
py=$(command -v python3)
"$py" -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check $want
echo "$want" > "$venv/.want"
