"""Synthetic cohorts for the cohort tests (fixed seeds, no patient data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resorb.cohort import simulate_cohort


@pytest.fixture(scope="session")
def sim_cohort() -> pd.DataFrame:
    """600 synthetic herniations from ``simulate_cohort(600, seed=11)``."""
    return simulate_cohort(600, seed=11)


@pytest.fixture(scope="session")
def numeric_cohort() -> pd.DataFrame:
    """Logistic data with known coefficients: 1,000 rows, seed 5.

    logit P(y) = -0.5 + 0.8 x1 - 0.5 x2 + 0.3 x3, x ~ N(0, 1); a three-level
    categorical ``grp`` (a/b/c) adds 0 / 0.4 / -0.6.
    """
    rng = np.random.default_rng(5)
    n = 1000
    df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in (1, 2, 3)})
    df["grp"] = rng.choice(["a", "b", "c"], size=n)
    lp = -0.5 + 0.8 * df.x1 - 0.5 * df.x2 + 0.3 * df.x3 + df.grp.map({"a": 0, "b": 0.4, "c": -0.6})
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return df
