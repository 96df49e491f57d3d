#!/usr/bin/env bash
# Dependency audit: pip-audit checks every pinned package in requirements-lock.txt
# (with its hashes) against the Python Packaging Advisory Database via PyPI.
#
#   bash scripts/audit.sh
#
# Exit 1 when a locked package has a known vulnerability (refresh the lock with
# scripts/lock.sh --upgrade-package NAME, or bump the bound in pyproject.toml).
# When the advisory service cannot be reached (an offline or mirrored machine),
# it says how many packages went unaudited and exits 0: that is not a pass, and
# the output says so. pip-audit lives in .venv-tools, apart from the project.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=.venv-tools
if [ ! -x "$tool/bin/pip-audit" ]; then
  echo "installing pip-audit into $tool (once, about 20 s)" >&2
  [ -x "$tool/bin/python" ] || python3 -m venv "$tool"
  "$tool/bin/python" -m pip install --quiet pip-audit
fi
report=$(mktemp)
trap 'rm -f "$report"' EXIT
set +e
"$tool/bin/pip-audit" --requirement requirements-lock.txt --require-hashes --disable-pip \
  --progress-spinner off --format json --output "$report" 2>/dev/null
status=$?
set -e
"$tool/bin/python" - "$report" "$status" <<'PY'
import json
import sys

path, status = sys.argv[1], int(sys.argv[2])
try:
    data = json.load(open(path))
except (OSError, ValueError):
    print(f"dependency audit could not run (pip-audit exit {status})")
    sys.exit(1 if status not in (0, 1) else status)
deps = data.get("dependencies", [])
skipped = [d for d in deps if d.get("skip_reason")]
vulnerable = [d for d in deps if d.get("vulns")]
for d in vulnerable:
    ids = ", ".join(v["id"] for v in d["vulns"])
    print(f"VULNERABLE {d['name']} {d['version']}: {ids}")
audited = len(deps) - len(skipped)
print(f"dependency audit: {audited} of {len(deps)} locked packages audited, "
      f"{len(vulnerable)} with known vulnerabilities")
if skipped and audited == 0:
    print("NOT AUDITED: the advisory service was unreachable from this machine "
          "(run scripts/audit.sh where PyPI's JSON API is reachable)")
sys.exit(1 if vulnerable else 0)
PY
