"""Inter-quartile effects (rms ``summary`` with ``datadist``) against R on pbc.

Recipe (``tests/cohort/r/summary.R``): ``dd <- datadist(d); options(datadist
= "dd"); summary(lrm(dead ~ rcs(bili, 4) + age * albumin + edema))`` and the
same with ``cph(Surv(time, dead) ~ ...)``; for each predictor (and each
non-reference level) the quartiles, the effect (log odds or log hazard
ratio) and its standard error to 1e-5; with the interaction, age's effect is
read at albumin's median, as rms adjusts.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r
from resorb.cohort import FittedCox, FittedLogistic

pytestmark = pytest.mark.slow

PREDICTORS = "bili:rcs4,age*albumin,edema:cat"
RHS = "rcs(bili, 4) + age * albumin + edema"


@pytest.mark.parametrize("kind", ["lrm", "cph"])
def test_interquartile_effects_equal_rms_summary(kind, tmp_path):
    require_r()
    df = r_dataset("survival", "pbc", tmp_path)
    df["dead"] = (df["status"] == 2).astype(int)
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    if kind == "lrm":
        ours = FittedLogistic.from_data(
            df, outcome="dead", predictors=PREDICTORS, method="ml"
        ).effects()
        formula = f"dead ~ {RHS}"
    else:
        ours = FittedCox.from_data(df, time="time", event="dead", predictors=PREDICTORS).effects()
        formula = f"Surv(time, dead) ~ {RHS}"
    run_r("summary.R", csv, kind, formula, "edema", tmp_path / "s.csv")
    ref = pd.read_csv(tmp_path / "s.csv").set_index("factor")
    ours = ours.set_index("factor")
    assert sorted(ours.index) == sorted(ref.index)
    for f in ref.index:
        for col in ("effect", "se"):
            assert ours.loc[f, col] == pytest.approx(ref.loc[f, col], rel=1e-5, abs=1e-8), (f, col)
        if not f.startswith("edema"):
            assert (ours.loc[f, "low"], ours.loc[f, "high"]) == pytest.approx(
                (ref.loc[f, "low"], ref.loc[f, "high"]), rel=1e-12
            )
