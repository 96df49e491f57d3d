"""Portable model files, case predictions, imputation and Rubin's rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resorb.cohort import (
    FittedLogistic,
    load_portable_model,
    mice_impute,
    portable_from_fit,
    rubin_pool,
    simulate_cohort,
)
from resorb.cohort._coding import parse_predictor_specs, prepare_columns
from resorb.domain import Case
from resorb.errors import InvalidInputError, OutsideEvidenceRangeWarning

CASE = """
patient: {age_years: 44, sex: female}
symptoms: {onset_date: 2026-01-20}
herniation: {level: L5-S1, morphology: extrusion, rim_enhancement: complete, modic: 0}
mri:
  - {date: 2026-02-20, diameters_mm: [8.0, 12.0, 15.0]}
"""


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, sim_cohort):
    m = FittedLogistic.from_data(
        sim_cohort,
        outcome="resorbed_12mo",
        predictors="age_years:rcs4,morphology,rim_enhancement,modic,volume_mm3,"
        "symptom_duration_days",
    )
    path = tmp_path_factory.mktemp("model") / "model.json"
    portable_from_fit(
        m,
        definition="volume reduction >= 50% by 12 months",
        horizon_months=12,
        citation={"doi": "10.0000/example"},
    ).save(path)
    return m, path


def test_saved_model_reproduces_the_fit_and_statsmodels_intervals(model_file, sim_cohort):
    """Recipe: ``sm.GLM(y, X, family=Binomial()).fit().get_prediction(X)
    .summary_frame()`` gives the mean and its 95% interval from the logit
    interval (delta method on the link), the same definition as ours."""
    import statsmodels.api as sm

    m, path = model_file
    pm = load_portable_model(path)
    pred = pm.predict_frame(sim_cohort.head(50))
    np.testing.assert_allclose(
        pred["probability"], m.predict_proba(sim_cohort.head(50)), rtol=1e-12
    )
    glm = sm.GLM(m.y, m.X, family=sm.families.Binomial()).fit()
    ref = glm.get_prediction(m.X[:50]).summary_frame(alpha=0.05)
    np.testing.assert_allclose(pred["lower"], ref["mean_ci_lower"], rtol=1e-5)
    np.testing.assert_allclose(pred["upper"], ref["mean_ci_upper"], rtol=1e-5)


def test_model_file_holds_coding_ranges_provenance_and_version(model_file):
    _, path = model_file
    d = json.loads(path.read_text())
    assert d["format"] == "resorb-cohort-model"
    assert d["coefficients"][0]["term"] == "Intercept"
    age = next(p for p in d["predictors"] if p["name"] == "age_years")
    assert age["kind"] == "rcs" and len(age["knots"]) == 4 and age["range"][0] < age["range"][1]
    morph = next(p for p in d["predictors"] if p["name"] == "morphology")
    assert morph["reference"] == "bulge" and morph["scale"] == "HerniationMorphology"
    assert d["model"]["definition"] == "volume reduction >= 50% by 12 months"
    assert d["resorb_version"] and "created" in d["provenance"]


def test_predict_case_maps_case_fields_to_predictor_columns(model_file):
    m, path = model_file
    pm = load_portable_model(path)
    case = Case.from_yaml(CASE)
    out = pm.predict_case(case).to_dict()
    volume = math.pi / 6 * 8 * 12 * 15
    row = pd.DataFrame(
        [
            {
                "age_years": 44,
                "morphology": "extrusion",
                "rim_enhancement": "complete",
                "modic": 0,
                "volume_mm3": volume,
                "symptom_duration_days": 31,
            }
        ]
    )
    assert out["probability"] == pytest.approx(m.predict_proba(row)[0], rel=1e-12)
    lo, hi = out["interval"]
    assert lo < out["probability"] < hi
    assert out["horizon_months"] == 12
    assert out["definition"] == "volume reduction >= 50% by 12 months"
    names = [f["name"] for f in out["factors"]]
    assert names == [
        "age_years",
        "morphology",
        "rim_enhancement",
        "modic",
        "volume_mm3",
        "symptom_duration_days",
    ]
    assert all(f["source"]["model_file"] == str(path) for f in out["factors"])
    assert out["factors"][0]["source"]["doi"] == "10.0000/example"
    assert out["warnings"] == []


def test_case_outside_development_range_warns(model_file):
    _, path = model_file
    pm = load_portable_model(path)
    case = Case.from_yaml(CASE.replace("age_years: 44", "age_years: 99"))
    with pytest.warns(OutsideEvidenceRangeWarning, match="patient.age_years"):
        out = pm.predict_case(case)
    assert any("patient.age_years" in w for w in out.warnings)


def test_case_without_a_needed_finding_names_the_case_field(model_file):
    _, path = model_file
    pm = load_portable_model(path)
    case = Case.from_yaml(CASE.replace(", rim_enhancement: complete", ""))
    with pytest.raises(
        InvalidInputError,
        match=r"^herniation\.rim_enhancement: .*allowed: "
        r"none, partial, complete",
    ):
        pm.predict_case(case)


def test_load_rejects_files_that_are_not_models(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(InvalidInputError, match="not a resorb cohort model"):
        load_portable_model(bad)
    bad.write_text("not json")
    with pytest.raises(InvalidInputError, match="not JSON"):
        load_portable_model(bad)


def test_failed_save_leaves_the_previous_file(model_file, tmp_path, monkeypatch):
    m, _ = model_file
    path = tmp_path / "keep.json"
    path.write_text("old")
    pm = portable_from_fit(m)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        pm.save(path)
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


@settings(max_examples=40, deadline=None)
@given(
    age=st.integers(0, 120),
    morph=st.sampled_from(["bulge", "protrusion", "extrusion", "sequestration"]),
)
def test_case_probabilities_stay_in_unit_interval(model_file, age, morph):
    import warnings

    _, path = model_file
    pm = load_portable_model(path)
    case = Case.from_yaml(
        CASE.replace("age_years: 44", f"age_years: {age}").replace(
            "morphology: extrusion", f"morphology: {morph}"
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsideEvidenceRangeWarning)
        out = pm.predict_case(case)
    assert 0 <= out.interval[0] <= out.probability <= out.interval[1] <= 1


def test_rubin_rules_on_a_hand_computed_example():
    """Two-coefficient example computed by hand: Q = [[1, 2], [3, 2], [2, 5]],
    U_i = diag(0.1, 0.2): qbar = [2, 3]; W = diag(0.1, 0.2); B = cov(Q) =
    [[1, 0], [0, 3]] (deviations (-1,-1), (1,-1), (0,2));
    T = W + (4/3) B; df_1 = 2 (1 + 0.1 / (4/3))^2."""
    Q = [np.array([1.0, 2.0]), np.array([3.0, 2.0]), np.array([2.0, 5.0])]
    U = [np.diag([0.1, 0.2])] * 3
    p = rubin_pool(Q, U)
    np.testing.assert_allclose(p.coef, [2, 3])
    np.testing.assert_allclose(p.between, [[1, 0], [0, 3]], atol=1e-15)
    np.testing.assert_allclose(p.total, np.diag([0.1 + 4 / 3, 0.2 + 4]))
    assert p.df[0] == pytest.approx(2 * (1 + 0.1 / (4 / 3)) ** 2)


def test_imputation_is_reproducible_and_fills_every_value():
    df = simulate_cohort(300, seed=21, missing_fraction=0.25)
    specs = parse_predictor_specs("morphology,rim_enhancement,symptom_duration_days")
    frame = prepare_columns(df, specs)
    a = mice_impute(frame, df.resorbed_12mo.to_numpy(), m=3, seed=4)
    b = mice_impute(frame, df.resorbed_12mo.to_numpy(), m=3, seed=4)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
        assert not x.isna().any(axis=None)
        observed = frame.notna()
        pd.testing.assert_frame_equal(
            x[observed["rim_enhancement"]][["rim_enhancement"]],
            frame[observed["rim_enhancement"]][["rim_enhancement"]],
        )
        assert set(x.rim_enhancement) <= {"none", "partial", "complete"}
    assert not a[0].equals(a[1])


def test_multiple_imputation_recovers_complete_data_coefficients():
    """Full data (seed 22) vs 20% of rim_enhancement deleted at random and
    imputed (m = 10): pooled coefficients lie within 2 pooled SE of the
    full-data fit, and the between-imputation variance is positive."""
    full = simulate_cohort(1500, seed=22)
    rng = np.random.default_rng(1)
    holed = full.copy()
    holed.loc[rng.random(len(full)) < 0.2, "rim_enhancement"] = None
    pred = "morphology,rim_enhancement,age_years"
    ref = FittedLogistic.from_data(full, outcome="resorbed_12mo", predictors=pred)
    mi = FittedLogistic.from_data(
        holed, outcome="resorbed_12mo", predictors=pred, impute=10, seed=3
    )
    se = np.sqrt(np.diag(mi.cov))
    assert np.all(np.abs(mi.coef - ref.coef) < 2 * se)
    assert (np.diag(mi.pooled.between) > 0).all()
    assert mi.missing.by_column == {"rim_enhancement": int(holed.rim_enhancement.isna().sum())}
    assert "multiple imputation" in mi.missing.handling


def test_nomogram_points_reproduce_the_linear_predictor(model_file, sim_cohort):
    """Total points / scale + offset equals the model's linear predictor for
    every level of a categorical predictor (read off the nomogram axes)."""
    from resorb.cohort import nomogram_points

    m, _ = model_file
    nomo = nomogram_points(m.names, m.coef, m.codings)
    axes = {name: dict(zip(labels, pts, strict=True)) for name, labels, pts in nomo["axes"]}
    assert max(max(a.values()) for a in axes.values()) == pytest.approx(100)
    base = sim_cohort.iloc[[0]].copy()
    lps = []
    for level in ("bulge", "protrusion", "extrusion", "sequestration"):
        row = base.assign(morphology=level)
        lps.append(m.linear_predictor(row)[0])
    pts = np.array(
        [axes["morphology"][lev] for lev in ("bulge", "protrusion", "extrusion", "sequestration")]
    )
    np.testing.assert_allclose(np.diff(pts) / nomo["scale"], np.diff(lps), rtol=1e-10)


def test_parquet_and_csv_give_the_same_fit(tmp_path, sim_cohort):
    from resorb.cohort import read_cohort

    sim_cohort.to_parquet(tmp_path / "c.parquet")
    sim_cohort.to_csv(tmp_path / "c.csv", index=False)
    fits = [
        FittedLogistic.from_data(
            read_cohort(tmp_path / f),
            outcome="resorbed_12mo",
            predictors="morphology,modic,age_years",
        )
        for f in ("c.parquet", "c.csv")
    ]
    np.testing.assert_allclose(fits[0].coef, fits[1].coef)
    (tmp_path / "c.xlsx").write_bytes(b"PK")
    with pytest.raises(InvalidInputError, match="unsupported file type"):
        read_cohort(tmp_path / "c.xlsx")
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_cohort(tmp_path / "nothing.csv")


def test_mask_baseline_gives_the_model_its_measured_volume(model_file):
    """A case whose first MRI is a label mask (examples/cases/extrusion_mask_followup.yaml)
    feeds the model the volume :func:`resorb.imaging.measure_study` measures from the
    mask (image affine), the same number the assessment reports."""
    import warnings
    from pathlib import Path

    from resorb.imaging import measure_study

    m, path = model_file
    pm = load_portable_model(path)
    case = Case.from_file(
        Path(__file__).parents[2] / "examples" / "cases" / "extrusion_mask_followup.yaml"
    )
    assert case.mri[0].mask is not None and case.mri[0].volume_mm3 is None
    volume = measure_study(case.mri[0]).volume_mm3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutsideEvidenceRangeWarning)
        out = pm.predict_case(case)
    row = pd.DataFrame(
        [
            {
                "age_years": 39,
                "morphology": "extrusion",
                "rim_enhancement": "partial",
                "modic": 0,
                "volume_mm3": volume,
                "symptom_duration_days": 14,
            }
        ]
    )
    assert out.probability == pytest.approx(m.predict_proba(row)[0], rel=1e-12)
    factor = next(f for f in out.factors if f["name"] == "volume_mm3")
    assert factor["value"] == pytest.approx(volume)
