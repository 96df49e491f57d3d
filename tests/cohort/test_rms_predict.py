"""Partial effects (rms ``Predict``) against R on pbc, and their plots.

Recipe (``tests/cohort/r/predict.R``): ``dd <- datadist(d); options(datadist
= "dd"); Predict(lrm(dead ~ rcs(bili, 4) + age * albumin + edema), bili)``
(and ``age``, ``edema``): the display range (``datadist``'s 10/max(n, 200)
quantiles), 200 values, the linear predictor and its 95 % limits with the
other predictors at their adjust-to values, all to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohort.rpeer import r_dataset, require_r, run_r
from resorb.cohort import FittedLogistic
from resorb.cohort._contrasts import plot_partial_effects

PREDICTORS = "bili:rcs4,age*albumin,edema:cat"


@pytest.fixture(scope="module")
def pbc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    require_r()
    df = r_dataset("survival", "pbc", folder)
    df["dead"] = (df["status"] == 2).astype(int)
    return df, folder


@pytest.mark.slow
def test_partial_effects_equal_rms_predict(pbc):
    df, folder = pbc
    csv = folder / "d.csv"
    df.to_csv(csv, index=False)
    run_r(
        "predict.R",
        csv,
        "dead ~ rcs(bili, 4) + age * albumin + edema",
        "edema",
        folder / "p.csv",
        "bili",
        "age",
        "edema",
    )
    ref = pd.read_csv(folder / "p.csv", dtype={"value": str})
    ours = FittedLogistic.from_data(
        df, outcome="dead", predictors=PREDICTORS, method="ml"
    ).partial_effects()
    for name in ("bili", "age", "edema"):
        r = ref[ref["predictor"] == name]
        t = ours[name]
        assert len(t) == len(r), name
        if name != "edema":
            np.testing.assert_allclose(t["value"], r["value"].astype(float), atol=1e-6)
        else:
            assert [str(v) for v in t["value"]] == list(r["value"])
        for a, b in (("estimate", "yhat"), ("lower", "lower"), ("upper", "upper")):
            np.testing.assert_allclose(t[a], r[b], atol=1e-6, err_msg=f"{name} {a}")


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_partial_effect_plot_writes_png_and_svg(suffix, tmp_path, numeric_cohort):
    m = FittedLogistic.from_data(numeric_cohort, outcome="y", predictors="x1:rcs4,x2,grp")
    fig = plot_partial_effects(m.partial_effects(), ylabel="log odds")
    out = tmp_path / f"effects{suffix}"
    fig.savefig(out)
    head = out.read_bytes()[:64]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in out.read_bytes()[:2000]
    assert len(fig.axes) >= 3


def test_fit_writes_the_partial_effect_plot_and_refuses_other_types(
    tmp_path, capsys, numeric_cohort
):
    from cli_helpers import run_cli

    csv = tmp_path / "c.csv"
    numeric_cohort.to_csv(csv, index=False)
    out = tmp_path / "e.svg"
    code, _, err = run_cli(
        capsys,
        "cohort",
        "fit",
        str(csv),
        "--outcome",
        "y",
        "--predictors",
        "x1:rcs4,grp",
        "--bootstrap",
        "0",
        "--effects-plot",
        str(out),
        "--json",
    )
    assert code == 0, err
    assert b"<svg" in out.read_bytes()[:2000]
    code, _, err = run_cli(
        capsys,
        "cohort",
        "fit",
        str(csv),
        "--outcome",
        "y",
        "--predictors",
        "x1",
        "--bootstrap",
        "0",
        "--effects-plot",
        str(tmp_path / "e.pdf"),
    )
    assert code == 2 and err.startswith("resorb: error: effects-plot:")
