"""Benchmark: assessment of one case (no HTML/PDF), the current code beside an older commit.

The old path is the package as it was at ``--old-commit`` (default: the commit
before the prognosis rewrite of issue 9), extracted with ``git archive`` into a
temporary folder and timed in a subprocess with the same harness; the new path
is this checkout, timed the same way. For each example case in
``examples/cases`` it prints the median wall time and the median CPU time per
``assess_case`` call of both, and the ratio old / new (> 1: the new code is
faster). Warm-up calls (imports, evidence loading, the one-off calibration of
the course prior) are not timed.

Run: ``.venv/bin/python benchmarks/assess.py [--repeats N] [--old-commit REV]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "b57db47"

HARNESS = r"""
import datetime as dt, json, statistics, sys, time, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from resorb.domain import Case
from resorb.reports import assess_case
as_of = dt.date(2026, 11, 26)
out = {}
for p in sorted(Path(sys.argv[1]).iterdir()):
    if p.suffix not in (".yaml", ".json"):
        continue
    case = Case.from_file(p, today=as_of)
    for _ in range(2):
        assess_case(case, as_of=as_of)
    wall, cpu = [], []
    for _ in range(int(sys.argv[2])):
        t, c = time.perf_counter(), time.process_time()
        assess_case(case, as_of=as_of)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    out[p.name] = [1000 * statistics.median(wall), 1000 * statistics.median(cpu)]
print(json.dumps(out))
"""


def _run(src: Path, repeats: int) -> dict[str, list[float]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS, str(ROOT / "examples" / "cases"), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="resorb-old-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.old_commit, "src"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        old = _run(Path(tmp) / "src", args.repeats)
    new = _run(ROOT / "src", args.repeats)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; old = {args.old_commit}, new = working tree; "
        f"{args.repeats} timed calls per case, BLAS threads 1"
    )
    print(
        f"{'case':36s} {'old wall ms':>11s} {'new wall ms':>11s} {'old CPU ms':>10s} "
        f"{'new CPU ms':>10s} {'wall ratio':>10s}"
    )
    for name in new:
        o, n = old.get(name), new[name]
        if o is None:
            print(f"{name:36s} {'n/a':>11s} {n[0]:11.1f} {'n/a':>10s} {n[1]:10.1f}")
            continue
        print(f"{name:36s} {o[0]:11.1f} {n[0]:11.1f} {o[1]:10.1f} {n[1]:10.1f} {o[0] / n[0]:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
