# Shared by the set-up scripts: create .venv with Python 3.11+ and install resorb
# with every extra, at the exact versions and hashes in requirements-lock.txt
# (refresh it with scripts/lock.sh). Sourced, not run. Idempotent: a second run
# reinstalls only when pyproject.toml or the lock changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "creating the virtual environment .venv with $("$PY" --version)" >&2
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=.venv/.resorb-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements-lock.txt -nt "$stamp" ]; then
  echo "installing resorb and its $(grep -cE '^[A-Za-z0-9]' requirements-lock.txt) pinned, hash-checked" \
       "dependencies from requirements-lock.txt into .venv" \
       "(numpy, scipy, pandas, pydicom, lifelines, numba, FastAPI, WeasyPrint and the test tools;" \
       "about 1 GB, 2-5 minutes on a fresh machine)" >&2
  .venv/bin/python -m pip install --quiet --progress-bar off --require-hashes --no-deps \
    -r requirements-lock.txt
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  # The lock must cover everything pyproject.toml asks for, extras included.
  .venv/bin/python - <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import Requirement

missing = {}
for line in requires("resorb") or []:
    req = Requirement(line)
    if req.name == "resorb":
        continue
    if req.marker and not any(
        req.marker.evaluate({"extra": e})
        for e in ("imaging", "stats", "mechanism", "report", "web", "dev", "test", "docs", "all")
    ):
        continue
    try:
        if not req.specifier.contains(version(req.name), prereleases=True):
            missing[req.name] = f"{req.name}{req.specifier} (installed {version(req.name)})"
    except PackageNotFoundError:
        missing[req.name] = f"{req.name}{req.specifier}"
if missing:
    sys.exit("requirements-lock.txt lacks what pyproject.toml asks for: "
             + ", ".join(sorted(missing.values())) + "; run bash scripts/lock.sh and commit the lock")
PY
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
