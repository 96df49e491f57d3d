"""Wald chunk tests (rms ``anova``) against R on survival's pbc.

Recipe (``tests/cohort/r/anova.R``): ``anova(lrm(dead ~ rcs(bili, 4) +
age * albumin + edema, tol = 1e-12))`` and ``anova(cph(Surv(time, dead) ~
rcs(bili, 4) + rcs(age, 3) * albumin + edema, eps = 1e-10))``; every row
(rms's labels: predictors with their higher-order terms, Nonlinear, All
Interactions, Nonlinear Interaction, the totals) with its chi-square to 1e-4
relative and its degrees of freedom exactly. resorb lists the main effects
of an interaction after the other predictors, so rows are matched by label
and value, not by position.
"""

from __future__ import annotations

import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r
from resorb.cohort import FittedCox, FittedLogistic

pytestmark = pytest.mark.slow


def _rows(table: pd.DataFrame) -> list[tuple[str, int, float]]:
    return sorted((str(t).strip(), int(r["df"]), float(r["chi2"])) for t, r in table.iterrows())


@pytest.fixture(scope="module")
def pbc(tmp_path_factory):
    require_r()
    folder = tmp_path_factory.mktemp("anova")
    df = r_dataset("survival", "pbc", folder)
    df["dead"] = (df["status"] == 2).astype(int)
    csv = folder / "d.csv"
    df.to_csv(csv, index=False)
    return df, csv, folder


@pytest.mark.parametrize("kind", ["lrm", "cph"])
def test_wald_anova_table_equals_rms(pbc, kind):
    df, csv, folder = pbc
    if kind == "lrm":
        formula = "dead ~ rcs(bili, 4) + age * albumin + edema"
        ours = FittedLogistic.from_data(
            df, outcome="dead", method="ml", predictors="bili:rcs4,age*albumin,edema:cat"
        ).anova()
    else:
        formula = "Surv(time, dead) ~ rcs(bili, 4) + rcs(age, 3) * albumin + edema"
        ours = FittedCox.from_data(
            df, time="time", event="dead", predictors="bili:rcs4,age:rcs3*albumin,edema:cat"
        ).anova()
    out = folder / f"{kind}.csv"
    run_r("anova.R", csv, kind, formula, "edema", out)
    ref = pd.read_csv(out).rename(columns={"row": "term", "chisq": "chi2"}).set_index("term")
    mine, theirs = _rows(ours), _rows(ref)
    assert [(t, d) for t, d, _ in mine] == [(t, d) for t, d, _ in theirs]
    for (t, _, a), (_, _, b) in zip(mine, theirs, strict=True):
        assert a == pytest.approx(b, rel=1e-4), t
