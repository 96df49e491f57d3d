"""Optimism-corrected calibration at a horizon against rms ``calibrate.cph``.

Recipe (``tests/cohort/r/calibrate_cph.R``): ``f <- cph(Surv(time, dead) ~
age + bili + albumin + edema, x=TRUE, y=TRUE, surv=TRUE, time.inc=1825)`` on
survival's pbc; for each of five seeds ``set.seed(s); calibrate(f, cmethod =
"KM", u = 1825, m = 100, B = 40)``. The groups, their mean predicted
survival, Kaplan-Meier survival and apparent difference agree to 1e-6; the
corrected Kaplan-Meier survival of each group within four standard errors of
the difference of the means over the seeds (the seed-to-seed spread of both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r, seed_spread_tolerance
from resorb.cohort import FittedCox
from resorb.cohort._coxvalidate import cox_calibrate_km

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3, 4, 5)


def test_calibration_at_the_horizon_equals_calibrate_cph(tmp_path):
    require_r()
    df = r_dataset("survival", "pbc", tmp_path)
    df["dead"] = (df["status"] == 2).astype(int)
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    run_r(
        "calibrate_cph.R",
        csv,
        "Surv(time, dead) ~ age + bili + albumin + edema",
        "edema",
        1825,
        100,
        40,
        ",".join(map(str, SEEDS)),
        tmp_path / "c.csv",
    )
    ref = pd.read_csv(tmp_path / "c.csv")
    m = FittedCox.from_data(df, time="time", event="dead", predictors="age,bili,albumin,edema:cat")
    ours = [
        cox_calibrate_km(
            m.X,
            m.time,
            m.event == 1,
            m.fitter.params_.to_numpy(),
            1825,
            m=100,
            n_bootstrap=40,
            seed=s,
        )
        for s in SEEDS
    ]
    first = ref[ref["seed"] == SEEDS[0]].reset_index(drop=True)
    assert len(ours[0]) == len(first)
    for col in ("mean_predicted", "km", "apparent"):
        np.testing.assert_allclose(ours[0][col], first[col], atol=1e-6, err_msg=col)
    for g in range(len(first)):
        mine = np.array([o["km_corrected"][g] for o in ours])
        theirs = ref[ref["group"] == g + 1]["km_corrected"].to_numpy()
        tol = seed_spread_tolerance(mine, theirs)
        assert abs(mine.mean() - theirs.mean()) <= tol, (g, mine.mean(), theirs.mean(), tol)
