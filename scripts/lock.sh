#!/usr/bin/env bash
# Refresh requirements-lock.txt: every package resorb[all] needs (and the build
# backend), pinned to one version each with the sha256 hashes of its files.
#
#   bash scripts/lock.sh          # re-resolve after a pyproject.toml change
#   bash scripts/lock.sh --upgrade                # everything to today's newest releases
#   bash scripts/lock.sh --upgrade-package NAME   # one package
#   bash scripts/lock.sh --check  # fail if pyproject.toml asks for something the lock lacks
#
# Without --upgrade, versions already in the lock are kept where they still fit.
#
# Run it after changing a dependency in pyproject.toml, commit the lock with that
# change, then `bash scripts/test.sh` (it reinstalls .venv from the new lock).
# The lock is resolved for CPython 3.11.7 on x86_64 Linux, the platform the README
# set-up and CI use. It uses uv (installed into a private tool venv on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=.venv-tools
if [ ! -x "$tool/bin/uv" ]; then
  echo "installing uv into $tool (once, about 20 s)" >&2
  python3 -m venv "$tool"
  "$tool/bin/python" -m pip install --quiet uv
fi
out=requirements-lock.txt
check=false
args=()
for a in "$@"; do
  if [ "$a" = --check ]; then check=true; else args+=("$a"); fi
done
if $check; then out=$(mktemp); cp requirements-lock.txt "$out"; fi
"$tool/bin/uv" pip compile pyproject.toml scripts/build-requirements.in \
  --all-extras --generate-hashes --python-version 3.11.7 \
  --python-platform x86_64-manylinux_2_28 --no-header --quiet --output-file "$out" \
  "${args[@]}"
if $check; then
  # Same package set as the committed lock (versions may be newer): the lock is not stale.
  names() { grep -oE '^[A-Za-z0-9_.-]+==' "$1" | tr 'A-Z_.' 'a-z--' | sort; }
  if ! diff <(names requirements-lock.txt) <(names "$out") >/dev/null; then
    echo "requirements-lock.txt is stale: run bash scripts/lock.sh and commit it" >&2
    diff <(names requirements-lock.txt) <(names "$out") >&2 || true
    exit 1
  fi
  echo "requirements-lock.txt covers pyproject.toml" >&2
else
  echo "wrote $out ($(grep -cE '^[A-Za-z0-9]' "$out") packages)" >&2
fi
