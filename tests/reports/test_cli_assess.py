"""`resorb assess CASE`: JSON keys of docs/cli.md, report files, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_helpers import run_cli
from resorb.reports import ASSESSMENT_KEYS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cases"
MASKS = EXAMPLES.parent / "masks"


run = run_cli


@pytest.mark.parametrize(
    "name", sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".json"))
)
def test_every_example_gives_the_design_keys(capsys, name):
    code, out, err = run(capsys, "assess", str(EXAMPLES / name), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert tuple(data) == ASSESSMENT_KEYS
    r = data["resorption"]
    assert {"probability", "interval", "horizon_months", "definition", "factors"} <= set(r)
    assert {"urgent_referral", "reasons"} <= set(data["triage"])
    assert out.count("\n") == 1  # one JSON object on one line


def test_readable_summary_by_default(capsys):
    code, out, _ = run(capsys, "assess", str(EXAMPLES / "cauda_equina_red_flags.yaml"))
    assert code == 0
    assert "EMERGENCY: SUSPECTED CAUDA EQUINA SYNDROME" in out
    assert "not a medical" in " ".join(out.split())
    assert "withheld" in out and "Resorption within" not in out


def test_seed_changes_only_the_monte_carlo(capsys):
    path = str(EXAMPLES / "protrusion_modic_stable.yaml")
    a = json.loads(run(capsys, "assess", path, "--json", "--seed", "1")[1])
    b = json.loads(run(capsys, "assess", path, "--json", "--seed", "1")[1])
    assert a["resorption"] == b["resorption"] and a["forecast"] == b["forecast"]
    assert a["provenance"]["seed"] == 1


def test_html_and_pdf_files_are_written(capsys, tmp_path):
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    code, _, err = run(
        capsys,
        "assess",
        str(EXAMPLES / "protrusion_modic_stable.yaml"),
        "--html",
        str(html),
        "--pdf",
        str(pdf),
        "--json",
    )
    assert code == 0, err
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.pdf"]


def _write_case(tmp_path: Path, text: str, name: str = "case.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


BASE = "herniation: {level: L4-L5, morphology: extrusion}\n"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (BASE + "colour: blue\n", "colour"),
        ("herniation: {level: L4-L5, morphology: extrusion, shape: round}\n", "herniation.shape"),
        ("herniation: {level: L6-S1, morphology: extrusion}\n", "herniation.level"),
        (BASE + "symptoms: {leg_pain_nrs: 11}\n", "symptoms.leg_pain_nrs"),
        (BASE + "symptoms: {motor_mrc: 7}\n", "symptoms.motor_mrc"),
        (BASE + "symptoms: {onset_date: 2999-01-01}\n", "symptoms.onset_date"),
        (BASE + "mri: [{date: 2999-01-01, volume_mm3: 900}]\n", "mri[0].date"),
        (BASE + "mri: [{date: 2026-01-05, mask: missing.nii.gz, label: 2}]\n", "mri[0].mask"),
        (BASE + "therapies: [{name: moonlight}]\n", "therapies[0].name"),
    ],
)
def test_bad_case_file_exits_2_with_one_line_naming_the_field(capsys, tmp_path, text, field):
    code, out, err = run(capsys, "assess", _write_case(tmp_path, text), "--json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert field in err


def test_missing_case_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "assess", str(tmp_path / "nope.yaml"))
    assert code == 2 and "file not found" in err


def test_unwritable_report_path_exits_2_and_writes_nothing(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "assess",
        str(EXAMPLES / "protrusion_modic_stable.yaml"),
        "--html",
        str(tmp_path / "no" / "such" / "dir" / "r.html"),
    )
    assert code == 2 and "--html" in err
    assert list(tmp_path.iterdir()) == []


def test_failed_pdf_keeps_the_existing_file(capsys, tmp_path, monkeypatch):
    import resorb.reports._render as render

    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"previous report")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(render.os, "replace", broken)
    code, _, err = run(
        capsys, "assess", str(EXAMPLES / "protrusion_modic_stable.yaml"), "--pdf", str(pdf)
    )
    assert code == 2 and "No space left" in err
    assert pdf.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


def test_mask_case_is_relocatable(capsys, tmp_path):
    """Mask paths resolve against the case file's own folder."""
    (tmp_path / "cases").mkdir()
    shutil.copytree(MASKS, tmp_path / "masks")
    shutil.copy(EXAMPLES / "extrusion_mask_followup.yaml", tmp_path / "cases")
    code, out, err = run(
        capsys, "assess", str(tmp_path / "cases" / "extrusion_mask_followup.yaml"), "--json"
    )
    assert code == 0, err
    rows = json.loads(out)["measurements"]
    assert rows[1]["grade"] == "significant"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A portable logistic model fitted on 300 synthetic rows (seed 7).

    Generating model: logit = -0.5 + 0.02 (age - 45) + 1.0 [extrusion] + 2.0 [sequestration].
    """
    import numpy as np
    import pandas as pd

    from resorb.cohort._logistic import FittedLogistic
    from resorb.cohort._portable import portable_from_fit

    rng = np.random.default_rng(7)
    n = 300
    age = rng.uniform(25, 70, n)
    morph = rng.choice(["protrusion", "extrusion", "sequestration"], n)
    lp = (
        -0.5
        + 0.02 * (age - 45)
        + np.where(morph == "extrusion", 1.0, 0.0)
        + np.where(morph == "sequestration", 2.0, 0.0)
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    df = pd.DataFrame({"age_years": age, "morphology": morph, "resorbed_12mo": y})
    fit = FittedLogistic.from_data(df, outcome="resorbed_12mo", predictors="age_years,morphology")
    path = tmp_path_factory.mktemp("model") / "clinic_model.json"
    portable_from_fit(fit, definition="resorbed >= 50 % at 12 months", horizon_months=12).save(path)
    return path


def test_model_option_replaces_the_evidence_probability(capsys, model_file, tmp_path):
    from bs4 import BeautifulSoup

    from resorb.cohort._portable import load_portable_model
    from resorb.domain import Case

    case_path = EXAMPLES / "sequestration_rim_three_mri.yaml"
    html = tmp_path / "r.html"
    code, out, err = run(
        capsys, "assess", str(case_path), "--model", str(model_file), "--json", "--html", str(html)
    )
    assert code == 0, err
    r = json.loads(out)["resorption"]
    expected = load_portable_model(model_file).predict_case(Case.from_file(case_path))
    assert r["probability"] == pytest.approx(expected.probability)
    assert r["interval"] == pytest.approx(list(expected.interval))
    assert r["definition"] == "resorbed >= 50 % at 12 months"
    assert r["model"] == "clinic_model.json"
    assert [f["name"] for f in r["factors"]] == ["age_years", "morphology"]
    for f in r["factors"]:
        assert f["source"]["model_file"].endswith("clinic_model.json")
        assert f["log_odds_contribution"] == pytest.approx(f["log_odds"])
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
    assert len(soup.select("#factors tr.factor")) == 2
    assert "clinic_model.json" in soup.find(id="probability-card").get_text()


def test_model_needing_a_missing_predictor_names_the_field(capsys, model_file, tmp_path):
    case = _write_case(tmp_path, "herniation: {level: L4-L5, morphology: extrusion}\n")
    code, _, err = run(capsys, "assess", case, "--model", str(model_file))
    assert code == 2 and "patient.age_years" in err


def test_unreadable_model_file_exits_2(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "assess",
        str(EXAMPLES / "protrusion_modic_stable.yaml"),
        "--model",
        str(tmp_path / "none.json"),
    )
    assert code == 2 and "model" in err


def test_cauda_equina_summary_heads_the_management_as_emergency_not_urgent(capsys):
    """Deliverable 1: cauda equina is an emergency; the pathway heading said 'urgent
    referral' under an EMERGENCY banner."""
    code, out, _ = run(capsys, "assess", str(EXAMPLES / "cauda_equina_red_flags.yaml"))
    assert code == 0
    assert "Management (emergency referral)" in out
    assert "Management (urgent referral)" not in out
