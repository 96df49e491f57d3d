"""Fuzz campaign over case files, registry CSVs and masks through the ``resorb`` CLI.

    python tests/fuzz/campaign.py --n 10000 --seed 1 [--timeout 20] [--keep crashes/]

Runs ``--n`` mutated inputs (a third of each kind) from :mod:`inputs`, each in
a fresh folder, and prints the outcome counts per kind: ok (exit 0), refused
(exit 2, one stderr line), multi-line refusals, crashes (any other exit, an
escaped exception or a traceback) and hangs (over ``--timeout`` seconds). The
inputs of every finding are kept under ``--keep`` with their seed. The suite
runs a bounded version of this (tests/fuzz/test_fuzz_files.py).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from inputs import run_cli, write_inputs

KINDS = ("case", "csv", "mask")


def _template(folder: Path) -> Path:
    from resorb.registry import Registry

    path = folder / "template.db"
    reg = Registry(f"sqlite:///{path}")
    reg.upgrade()
    reg.close()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--keep", type=Path, default=None, help="folder for failing inputs")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    counts: dict[str, collections.Counter] = {k: collections.Counter() for k in kinds}
    slowest: list[tuple[float, str, int]] = []
    findings = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="resorb-fuzz-") as tmp:
        root = Path(tmp)
        template = _template(root)
        for i in range(args.n):
            kind = kinds[i % len(kinds)]
            seed = args.seed * 1_000_003 + i
            folder = root / f"in{i}"
            argv = write_inputs(folder, kind, random.Random(seed), registry_template=template)
            outcome, code, err, secs = run_cli(argv, timeout_s=args.timeout)
            counts[kind][outcome] += 1
            slowest = sorted([*slowest, (secs, kind, seed)], reverse=True)[:5]
            if outcome in ("crash", "hang", "multi-line"):
                findings.append((kind, seed, outcome, code, err.strip()[-400:]))
                if args.keep is not None:
                    dest = args.keep / f"{kind}-{seed}-{outcome}"
                    shutil.copytree(folder, dest, dirs_exist_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
            if (i + 1) % 500 == 0:
                print(f"{i + 1} inputs, {time.perf_counter() - t_start:.0f} s", file=sys.stderr)
    total = collections.Counter()
    for c in counts.values():
        total.update(c)
    print(
        f"fuzz campaign: {args.n} inputs, seed {args.seed}, timeout {args.timeout} s, "
        f"{time.perf_counter() - t_start:.0f} s, {os.cpu_count()} CPUs"
    )
    print(
        f"{'kind':<6} {'inputs':>7} {'ok':>6} {'refused':>8} {'multi-line':>11} "
        f"{'crash':>6} {'hang':>5}"
    )
    for kind, c in [*counts.items(), ("all", total)]:
        print(
            f"{kind:<6} {sum(c.values()):>7} {c['ok']:>6} {c['refused']:>8} "
            f"{c['multi-line']:>11} {c['crash']:>6} {c['hang']:>5}"
        )
    print("slowest inputs (s, kind, seed):", ", ".join(f"{s:.2f} {k} {sd}" for s, k, sd in slowest))
    for kind, seed, outcome, code, err in findings[:30]:
        print(f"FINDING {kind} seed={seed} {outcome} exit={code}: {err!r}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
