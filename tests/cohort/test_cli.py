"""``resorb cohort fit / report / simulate`` and their bad-input behaviour."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cli_helpers import run_cli


def run(argv, capsys):
    return run_cli(capsys, *argv)


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "cohort.csv"
    from resorb.cohort import simulate_cohort

    simulate_cohort(400, seed=31).to_csv(path, index=False)
    return path


def test_simulate_is_reproducible(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for p in (a, b):
        code, out, _ = run(
            ["cohort", "simulate", "--n", "50", "--seed", "3", "--out", str(p), "--json"], capsys
        )
        assert code == 0 and json.loads(out)["synthetic"] is True
    assert a.read_text() == b.read_text()
    df = pd.read_csv(a)
    assert len(df) == 50 and set(df.event) <= {0, 1, 2}


def test_fit_json_has_the_contract_keys_and_saves_a_model(cohort_csv, tmp_path, capsys):
    model = tmp_path / "m.json"
    code, out, err = run(
        [
            "cohort",
            "fit",
            str(cohort_csv),
            "--outcome",
            "resorbed_12mo",
            "--predictors",
            "age_years,morphology,rim_enhancement",
            "--spline",
            "age_years:3",
            "--bootstrap",
            "30",
            "--seed",
            "2",
            "--time",
            "time_months",
            "--event",
            "event",
            "--save-model",
            str(model),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    d = json.loads(out)
    for key in (
        "coefficients",
        "c_statistic",
        "c_statistic_optimism_corrected",
        "calibration_slope_optimism_corrected",
        "brier",
        "n",
        "events",
        "separation",
        "missing",
        "sample_size",
        "decision_curve",
        "survival",
    ):
        assert key in d
    assert "Intercept" in d["coefficients"] and "age_years'" in d["coefficients"]
    assert d["c_statistic_optimism_corrected"] < d["c_statistic"]
    assert d["bootstrap"]["seed"] == 2 and d["bootstrap"]["n_bootstrap"] == 30
    assert d["survival"]["fine_gray"].startswith("not provided")
    saved = json.loads(model.read_text())
    assert saved["provenance"]["data_file"] == "cohort.csv"
    assert len(saved["provenance"]["data_sha256"]) == 64


def test_report_writes_html_with_every_plot(cohort_csv, tmp_path, capsys):
    html = tmp_path / "r.html"
    code, out, err = run(
        [
            "cohort",
            "report",
            str(cohort_csv),
            "--outcome",
            "resorbed_12mo",
            "--predictors",
            "morphology,rim_enhancement",
            "--bootstrap",
            "20",
            "--time",
            "time_months",
            "--event",
            "event",
            "--html",
            str(html),
            "--definition",
            "regression by 12 months",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html.read_text(), "html.parser")
    alts = {img["alt"] for img in soup.find_all("img")}
    assert alts == {
        "calibration plot",
        "decision curve",
        "nomogram",
        "partial effects",
        "cumulative incidence",
        "Cox calibration",
    }
    assert all(img["src"].startswith("data:image/png;base64,") for img in soup.find_all("img"))
    assert "External validation" in soup.get_text()
    assert json.loads(out)["html"] == str(html)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--outcome", "nope", "--predictors", "age_years"], "nope"),
        (["--outcome", "resorbed_12mo", "--predictors", "age_years,shoe_size"], "shoe_size"),
        (["--outcome", "age_years", "--predictors", "morphology"], "age_years"),
        (
            ["--outcome", "resorbed_12mo", "--predictors", "morphology", "--time", "time_months"],
            "event",
        ),
        (["--outcome", "resorbed_12mo", "--predictors", "morphology:rcs4"], "morphology"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_column(cohort_csv, capsys, args, field):
    code, out, err = run(["cohort", "fit", str(cohort_csv), "--bootstrap", "0", *args], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"resorb: error: {field}")
    assert "Traceback" not in err and out == ""


def test_unknown_category_names_the_column_and_allowed_values(tmp_path, capsys):
    from resorb.cohort import simulate_cohort

    df = simulate_cohort(100, seed=1)
    df.loc[5, "morphology"] = "herniated-ish"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    code, _, err = run(
        [
            "cohort",
            "fit",
            str(path),
            "--outcome",
            "resorbed_12mo",
            "--predictors",
            "morphology",
            "--bootstrap",
            "0",
        ],
        capsys,
    )
    assert code == 2
    assert err.startswith("resorb: error: morphology: row 6: 'herniated-ish'")
    assert "bulge, protrusion, extrusion, sequestration" in err


def test_too_few_events_is_bad_input(tmp_path, capsys):
    from resorb.cohort import simulate_cohort

    df = simulate_cohort(200, seed=1)
    df["resorbed_12mo"] = 0
    df.loc[:4, "resorbed_12mo"] = 1
    path = tmp_path / "few.csv"
    df.to_csv(path, index=False)
    code, _, err = run(
        [
            "cohort",
            "fit",
            str(path),
            "--outcome",
            "resorbed_12mo",
            "--predictors",
            "age_years",
            "--bootstrap",
            "0",
        ],
        capsys,
    )
    assert code == 2
    assert err.startswith("resorb: error: resorbed_12mo: too few events: 5 events")


def test_failed_model_write_exits_2_and_leaves_no_file(cohort_csv, tmp_path, capsys):
    target = tmp_path / "missing_dir" / "m.json"
    code, _, err = run(
        [
            "cohort",
            "fit",
            str(cohort_csv),
            "--outcome",
            "resorbed_12mo",
            "--predictors",
            "morphology",
            "--bootstrap",
            "0",
            "--save-model",
            str(target),
        ],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("resorb: error: --save-model: folder")
    assert not target.parent.exists()


def test_fit_with_multiple_imputation_reports_it(tmp_path, capsys):
    from resorb.cohort import simulate_cohort

    path = tmp_path / "holes.csv"
    simulate_cohort(300, seed=41, missing_fraction=0.2).to_csv(path, index=False)
    args = [
        "cohort",
        "fit",
        str(path),
        "--outcome",
        "resorbed_12mo",
        "--predictors",
        "morphology,rim_enhancement,symptom_duration_days",
        "--bootstrap",
        "10",
    ]
    code, out, err = run([*args, "--json"], capsys)
    assert code == 0, err
    cc = json.loads(out)
    assert cc["missing"]["handling"] == "complete cases" and cc["n"] < 300
    code, out, err = run([*args, "--impute", "3", "--seed", "1", "--json"], capsys)
    assert code == 0, err
    mi = json.loads(out)
    assert mi["n"] == 300 and mi["imputation"]["m"] == 3
    assert mi["missing"]["by_column"]["rim_enhancement"] > 0


def test_assess_with_a_volume_model_accepts_a_mask_baseline(cohort_csv, tmp_path, capsys):
    """``resorb assess examples/cases/extrusion_mask_followup.yaml --model m.json``
    with a model fitted on ``volume_mm3`` (the first MRI is a label mask)."""
    from pathlib import Path

    model = tmp_path / "m.json"
    code, _, err = run(
        [
            "cohort",
            "fit",
            str(cohort_csv),
            "--outcome",
            "resorbed_12mo",
            "--predictors",
            "morphology,volume_mm3",
            "--save-model",
            str(model),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    case = Path(__file__).parents[2] / "examples" / "cases" / "extrusion_mask_followup.yaml"
    code, out, err = run(["assess", str(case), "--model", str(model), "--json"], capsys)
    assert code == 0, err
    r = json.loads(out)["resorption"]
    assert [f["name"] for f in r["factors"]] == ["morphology", "volume_mm3"]
    assert 0 < r["probability"] < 1


def test_non_binary_outcome_message_shows_plain_numbers():
    """The message lists the values as numbers ("0, 1, 2"), not numpy reprs."""
    from resorb.cohort._coding import read_binary_outcome
    from resorb.errors import InvalidInputError

    df = pd.DataFrame({"y": [0, 1, 2, 0.5, 1]})
    with pytest.raises(InvalidInputError) as err:
        read_binary_outcome(df, "y")
    assert str(err.value) == (
        "y: has values [0, 0.5, 1, 2], not binary (allowed: 0/1 (or true/false))"
    )
    assert "np.float64" not in str(err.value)
