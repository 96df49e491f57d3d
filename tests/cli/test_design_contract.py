"""The command-line contract (docs/cli.md), pinned in one place.

Scripts depend on these commands and JSON keys; each area has deeper tests of
its own. This file fails when a command or a documented key disappears.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resorb.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_json(capsys, *argv: str) -> dict:
    try:
        main([*argv, "--json"])
    except SystemExit as exc:  # pragma: no cover - a failure is reported below
        out, err = capsys.readouterr()
        raise AssertionError(f"{argv} exited {exc.code}: {err}") from None
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, "--json must print exactly one JSON object"
    return json.loads(lines[0])


def test_volume_of_a_mask(capsys):
    data = run_json(capsys, "volume", str(EXAMPLES / "masks" / "baseline.nii.gz"), "--label", "2")
    assert {"volume_mm3", "voxel_count", "voxel_volume_mm3", "method"} <= set(data)
    assert data["volume_mm3"] == pytest.approx(data["voxel_count"] * data["voxel_volume_mm3"])


def test_volume_of_an_ellipsoid(capsys):
    data = run_json(capsys, "volume", "--ellipsoid", "6", "8", "10")
    assert {"volume_mm3", "method"} <= set(data)
    assert data["volume_mm3"] == pytest.approx(3.141592653589793 / 6 * 480)


@pytest.mark.parametrize(("v1", "sign"), [("600", 1), ("2400", -1)])
def test_resorption_is_signed(capsys, v1, sign):
    data = run_json(capsys, "resorption", "1500", v1, "--days", "180")
    assert {"resorption_percent", "grade"} <= set(data)
    assert data["resorption_percent"] * sign > 0


def test_scores(capsys):
    assert {"odi_percent", "answered", "band"} <= set(
        run_json(capsys, "score", "odi", "3", "2", "x", "4", "1", "0", "2", "3", "1", "2")
    )
    assert "recovery_rate_percent" in run_json(
        capsys, "score", "joa-recovery", "--pre", "12", "--post", "24"
    )


def test_assess_keys(capsys):
    data = run_json(capsys, "assess", str(EXAMPLES / "cases" / "sequestration_rim_three_mri.yaml"))
    assert {"resorption", "triage", "measurements", "forecast", "management", "therapies"} <= set(
        data
    )
    r = data["resorption"]
    assert 0 <= r["interval"][0] <= r["probability"] <= r["interval"][1] <= 1
    assert {"horizon_months", "definition", "factors"} <= set(r)
    for factor in r["factors"]:
        assert {"name", "effect", "source"} <= set(factor)
        assert factor["source"].get("doi") or factor["source"].get("pmid")
    assert isinstance(data["triage"]["urgent_referral"], bool)
    assert "reasons" in data["triage"]
    first, *followups = data["measurements"]
    assert {"date", "volume_mm3"} <= set(first)
    for m in followups:
        assert {"date", "volume_mm3", "resorption_percent", "grade"} <= set(m)


def test_simulate_trajectory_and_csv(capsys, tmp_path):
    csv = tmp_path / "t.csv"
    data = run_json(
        capsys, "simulate", "--morphology", "extrusion", "--days", "60", "--csv", str(csv)
    )
    assert data["trajectory"]["volume_fraction"][0] == pytest.approx(1.0)
    header = csv.read_text().splitlines()[0].split(",")
    assert header[:2] == ["day", "volume_fraction"]


def test_simulate_cohort(capsys):
    data = run_json(
        capsys, "simulate", "--morphology", "sequestration", "--cohort", "50", "--seed", "3"
    )
    assert 0 <= data["fraction_regressed_12mo"] <= 1
    assert any("quantile" in key for key in data)


def test_model_sbml(capsys, tmp_path):
    out = tmp_path / "m.xml"
    try:
        main(["model", "sbml", "--morphology", "extrusion", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    text = out.read_text()
    assert 'level="3"' in text and 'version="2"' in text
    assert "volume_fraction" in text


def test_cohort_fit(capsys, tmp_path):
    csv = tmp_path / "c.csv"
    try:
        main(["cohort", "simulate", "--n", "400", "--seed", "5", "--out", str(csv)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    capsys.readouterr()
    data = run_json(
        capsys,
        "cohort",
        "fit",
        str(csv),
        "--outcome",
        "resorbed_12mo",
        "--predictors",
        "morphology,age_years",
        "--bootstrap",
        "20",
        "--seed",
        "1",
    )
    assert {
        "coefficients",
        "c_statistic",
        "c_statistic_optimism_corrected",
        "calibration_slope_optimism_corrected",
        "brier",
    } <= set(data)
    assert any("intercept" in name.lower() for name in data["coefficients"])


def test_serve_options(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    text = capsys.readouterr().out
    for option in ("--db", "--port", "--host"):
        assert option in text
