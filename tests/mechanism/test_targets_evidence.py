"""Calibration targets against the evidence base and the review's findings (issue 4).

Recipe: every ``evidence: ID`` in ``data/targets.yaml`` must resolve with
:func:`resorb.evidence.evidence_source`, and a DOI/PMID typed in the target
must equal the record's; every ``evidence_value: ID`` must resolve with
:func:`resorb.evidence.evidence_value` to a record citing that source whose
value equals the target's ``expected``.
"""

from __future__ import annotations

import json

import pytest

from resorb.cli import main
from resorb.evidence import evidence_source, evidence_value
from resorb.mechanism import evaluate_targets, load_targets


@pytest.fixture(scope="module")
def results():
    return {r.id: r for r in evaluate_targets()}


def test_every_linked_evidence_record_resolves_and_its_identifiers_match():
    linked = [t for t in load_targets()["targets"] if t.get("evidence")]
    assert len(linked) >= 15
    for t in linked:
        src = evidence_source(t["evidence"])
        for key in ("doi", "pmid"):
            typed = t["source"].get(key)
            if typed is not None:
                assert getattr(src, key) == str(typed), (t["id"], key)
        if t.get("evidence_value"):
            val = evidence_value(t["evidence_value"])
            assert t["evidence"] in val.sources, t["id"]
            assert val.value == pytest.approx(t["expected"]), t["id"]


def test_targets_citing_a_study_in_the_evidence_base_link_it():
    """Hand-typed identifiers of studies the evidence base holds must be linked, so
    a wrong PMID (Chiu 2015 once carried Zou's) cannot pass unnoticed."""
    from resorb.evidence import load_evidence

    by_pmid = {s.pmid: k for k, s in load_evidence().sources.items() if s.pmid}
    by_doi = {s.doi: k for k, s in load_evidence().sources.items() if s.doi}
    for t in load_targets()["targets"]:
        src = t["source"]
        known = by_pmid.get(str(src.get("pmid"))) or by_doi.get(src.get("doi"))
        if known:
            assert t.get("evidence") == known, t["id"]


def test_regression_order_cites_chiu_2015_with_its_own_pmid():
    t = next(t for t in load_targets()["targets"] if t["id"] == "regression_order")
    assert t["source"]["pmid"] == "25009200"
    assert t["evidence"] == "chiu2015"


def test_roles_are_declared_zou_and_seo_fitted_chiu_and_kjaer_held_out(results):
    fitted = {k for k, r in results.items() if r.fitted}
    assert fitted == {
        *(f"regression_{m}" for m in ("sequestration", "extrusion", "protrusion", "bulge")),
        "some_grow_3d_series",
    }
    assert all(results[k].sd > 0 for k in fitted)
    for morph, rate in (
        ("sequestration", 0.96),
        ("extrusion", 0.70),
        ("protrusion", 0.41),
        ("bulge", 0.13),
    ):
        r = results[f"regression_{morph}_chiu2015"]
        assert r.role == "held_out" and not r.fitted
        assert r.expected == rate
        assert r.required  # declared before the fit, whatever the outcome
    for tid in (
        "some_grow_population",
        "unchanged_population",
        "decreased_population",
        "long_term_magnitude",
    ):
        assert results[tid].role == "held_out" and results[tid].required


@pytest.mark.parametrize(
    "target_id",
    [
        "chemokine_gone_4wk",
        "m2_peak_2wk",
        "m2_absent_8wk",
        "macrophage_peak_day7",
        "rim_partial_regression",
        "infliximab_rim_increase_2wk",
    ],
)
def test_declared_misses_are_present_not_required_and_fail(results, target_id):
    r = results[target_id]
    assert not r.required
    assert not r.passed
    assert r.note


def test_the_model_grows_as_often_as_the_3d_series_but_overestimates_population_growth(results):
    """Seo 2016 (PMID 25253299): 21 of 56 levels grew (fitted, met). Kjaer 2016
    (held out): 12.5 % increased and 65 % unchanged over 8 years; the model, with
    its growth rates fitted to the clinical series, lets too many population
    herniations grow (an honest held-out failure, reported by the calibrate command)."""
    seo = results["some_grow_3d_series"]
    assert seo.passed and abs(seo.value - 0.375) < 0.15
    grow, same = results["some_grow_population"], results["unchanged_population"]
    assert not grow.passed and grow.value > 0.125 + 0.10
    assert not same.passed and same.value < 0.65 - 0.15
    assert results["decreased_population"].passed


def test_steroid_target_is_a_two_sided_band_read_a_year_after_the_injection(results):
    from resorb.mechanism import load_model

    t = next(t for t in load_targets()["targets"] if t["id"] == "steroid_no_slowing_12mo")
    assert t["expected"] == [-0.05, 0.10]
    assert t["metric"]["day_after_start"] == 365
    start = load_model().therapies["epidural_steroid"].start_day
    # the evaluated value is the cohort difference at start + 365 days
    from resorb.mechanism import simulate_cohort

    spec = load_targets()
    day = start + 365
    days = [0.0, day]
    treated = simulate_cohort(
        "extrusion",
        spec["cohort_n"],
        seed=spec["cohort_seed"],
        therapies=["epidural_steroid"],
        t_days=days,
    )
    control = simulate_cohort("extrusion", spec["cohort_n"], seed=spec["cohort_seed"], t_days=days)
    expected = control._at(day).mean() - treated._at(day).mean()
    assert results["steroid_no_slowing_12mo"].value == pytest.approx(expected, abs=1e-6)


def test_calibrate_json_shows_roles_and_declared_misses(capsys):
    try:
        main(["model", "calibrate", "--json"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    rows = {r["id"]: r for r in data["targets"]}
    assert rows["regression_extrusion"]["fitted"] is True
    assert rows["regression_extrusion"]["role"] == "fitted"
    assert rows["regression_extrusion"]["evidence"] == "zou2023"
    assert set(data["fitted"]) == {k for k, r in rows.items() if r["fitted"]}
    assert set(data["failed_required"]) == set(data["failed_held_out"])
    assert "chemokine_gone_4wk" in data["failed_not_required"]


def test_calibrate_table_shows_fitted_held_out_and_check_targets_apart(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    try:
        main(["model", "calibrate"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "Fitted targets" in out
    assert "Held-out targets (never used to choose parameters)" in out
    assert "Structural and directional checks" in out
    assert "fail (declared)" in out
    assert "Roles declared before any fit" in out
