"""Run the R scripts in ``tests/cohort/r`` (rms, survival) and read their CSV output.

The peer tests need ``Rscript`` with the rms and survival packages (Debian:
r-base-core, r-cran-rms, r-cran-survival); they skip, saying so, only where
those are absent. Data sets are exported from the R packages at test time
(``export_data.R``), never copied into the repository.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

R_DIR = Path(__file__).parent / "r"


@functools.cache
def _r_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not installed (Debian: r-base-core)"
    probe = subprocess.run(
        [
            "Rscript",
            "-e",
            "for (p in c('rms', 'survival')) if (!requireNamespace(p, quietly = TRUE)) cat(p, '')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0 or probe.stdout.strip():
        return f"R packages missing: {probe.stdout.strip() or probe.stderr.strip()[:200]}"
    return None


def require_r() -> None:
    """Skip the calling test (with the reason) where R, rms or survival is absent."""
    reason = _r_missing()
    if reason:
        pytest.skip(reason)


def run_r(script: str, *args: object, timeout: int = 600) -> None:
    """Run ``tests/cohort/r/<script>`` with arguments; fail the test with R's stderr."""
    require_r()
    res = subprocess.run(
        ["Rscript", str(R_DIR / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if res.returncode != 0:
        pytest.fail(f"{script} failed:\n{res.stderr[-2000:]}")


_EXPORTED: dict[tuple[str, str], Path] = {}


def r_dataset(package: str, name: str, folder: Path) -> pd.DataFrame:
    """A data set shipped with an R package, exported to CSV by R (once per session;
    the first export's file in ``folder`` is read again by later calls)."""
    key = (package, name)
    if key not in _EXPORTED or not _EXPORTED[key].exists():
        out = folder / f"{package}_{name}.csv"
        run_r("export_data.R", package, name, out)
        _EXPORTED[key] = out
    return pd.read_csv(_EXPORTED[key])


def seed_spread_tolerance(ours: np.ndarray, theirs: np.ndarray, *, k: float = 4.0) -> float:
    """Tolerance for comparing mean bootstrap figures over seeds.

    ``ours`` and ``theirs`` hold one figure per seed (different random
    generators, so no seed matches another); the tolerance is ``k`` standard
    errors of the difference of the two means, from the seed-to-seed spread
    measured for both in the same run.
    """
    se = np.sqrt(np.var(ours, ddof=1) / len(ours) + np.var(theirs, ddof=1) / len(theirs))
    return float(k * se + 1e-12)
