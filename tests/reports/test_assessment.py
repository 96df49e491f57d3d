"""assess_case on the example cases (examples/cases, synthetic)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from resorb import DISCLAIMER
from resorb.domain import Case
from resorb.errors import CaseFileError
from resorb.imaging import compare_volumes
from resorb.reports import ASSESSMENT_KEYS, assess_case

AS_OF = dt.date(2026, 11, 26)  # same as conftest.AS_OF

DESIGN_KEYS = {"resorption", "triage", "measurements", "forecast", "management", "therapies"}


def test_every_example_has_exactly_the_contract_keys(assessments):
    for name, a in assessments.items():
        d = a.to_dict()
        assert tuple(d) == ASSESSMENT_KEYS, name
        assert set(d) >= DESIGN_KEYS
        r = d["resorption"]
        assert 0 <= r["interval"][0] <= r["probability"] <= r["interval"][1] <= 1
        assert r["horizon_months"] == 12 and r["definition"]
        for f in r["factors"]:
            assert {"name", "effect", "source"} <= set(f)
            # The source is the study that gave the counts; without a DOI/PMID it gives its
            # url (and registration) and the DOI/PMID are under "supporting".
            assert (
                f["source"].get("doi")
                or f["source"].get("pmid")
                or (f["source"].get("url") and f["supporting"])
            )
        assert isinstance(d["triage"]["urgent_referral"], bool)
        assert d["disclaimer"] == DISCLAIMER
        assert {"resorb_version", "as_of", "seed", "generated_at"} <= set(d["provenance"])
        json.dumps(d)  # plain JSON


def test_follow_up_rows_are_compared_with_the_first_mri(assessments):
    rows = assessments["sequestration_rim_three_mri"].to_dict()["measurements"]
    assert [r["volume_mm3"] for r in rows] == [1650.0, 980.0, 310.0]
    assert rows[0]["baseline"] and rows[0]["resorption_percent"] is None
    for row in rows[1:]:
        ref = compare_volumes(1650.0, row["volume_mm3"], warn=False)
        assert row["resorption_percent"] == pytest.approx(ref.resorption_percent)
        assert row["grade"] == ref.grade.value
        assert row["within_mdc"] is ref.within_mdc
    assert [r["grade"] for r in rows[1:]] == ["partial", "significant"]


def test_small_change_is_flagged_within_measurement_error(assessments):
    rows = assessments["protrusion_modic_stable"].to_dict()["measurements"]
    assert rows[1]["grade"] == "unchanged" and rows[1]["within_mdc"] is True


def test_masks_are_measured_with_their_affine(assessments):
    """Ellipsoids of examples/make_masks.py: 4/3 pi abc = 1555 and 524 mm3."""
    import math

    rows = assessments["extrusion_mask_followup"].to_dict()["measurements"]
    assert [r["method"] for r in rows] == ["voxel_count", "voxel_count"]
    assert rows[0]["volume_mm3"] == pytest.approx(4 / 3 * math.pi * 7.5 * 5.5 * 9.0, rel=0.05)
    assert rows[1]["volume_mm3"] == pytest.approx(4 / 3 * math.pi * 5.5 * 3.5 * 6.5, rel=0.05)
    assert rows[1]["source"] == "followup.nii.gz" and rows[1]["label"] == 2


def test_diameters_use_the_ellipsoid(assessments):
    rows = assessments["extrusion_diameters"].to_dict()["measurements"]
    import math

    assert rows[0]["method"] == "ellipsoid"
    assert rows[0]["volume_mm3"] == pytest.approx(math.pi / 6 * 7 * 11 * 13)


def test_forecast_follows_the_series_and_one_mri_says_prior(assessments):
    seq = assessments["sequestration_rim_three_mri"].to_dict()["forecast"]
    assert seq["available"] and not seq["prior_only"] and seq["n_mri"] == 3
    assert seq["probability_50pct_by_12_months"] > 0.8
    ces = assessments["cauda_equina_red_flags"].to_dict()["forecast"]
    assert ces["prior_only"] and "prior alone" in ces["basis"]


def test_cauda_equina_case_is_urgent_and_the_pathway_says_so(assessments):
    d = assessments["cauda_equina_red_flags"].to_dict()
    assert d["triage"]["urgent_referral"] is True
    codes = {r["code"] for r in d["triage"]["reasons"]}
    assert {
        "saddle_anesthesia",
        "urinary_retention",
        "bilateral_radicular_symptoms",
        "motor_mrc",
    } <= codes
    assert d["management"]["pathway"] == "urgent_referral"
    for name in ("sequestration_rim_three_mri", "protrusion_modic_stable"):
        assert assessments[name].to_dict()["triage"]["urgent_referral"] is False


def test_therapies_carry_catalogue_evidence_kept_apart(assessments):
    t = assessments["sequestration_rim_three_mri"].to_dict()["therapies"]
    assert [g["therapy"]["id"] for g in t["given"]] == ["nsaid", "exercise"]
    for g in t["given"]:
        assert "symptoms" in g["therapy"] and "resorption" in g["therapy"]
    assert len(t["catalogue_summary"]) >= 10


def test_scores_are_summarised(assessments):
    s = assessments["sequestration_rim_three_mri"].to_dict()["scores"]
    # ODI: 4+2+3+3+3+2+3+2+3 = 25 of 45 (one section skipped) = 55.6 %.
    assert s["odi"]["odi_percent"] == pytest.approx(25 / 45 * 100)
    assert s["odi"]["band"] == "severe disability" and s["odi"]["answered"] == 9
    assert s["joa"]["total"] == 10
    assert s["mcid"]["available"] is False and s["mcid"]["thresholds"]["nrs"]["absolute"] == 2


def test_sources_are_numbered_once_and_hold_every_factor(assessments):
    d = assessments["sequestration_rim_three_mri"].to_dict()
    numbers = [s["n"] for s in d["sources"]]
    assert numbers == list(range(1, len(numbers) + 1))
    dois = {s["doi"] for s in d["sources"] if s["doi"]}
    assert len(dois) == sum(1 for s in d["sources"] if s["doi"])
    pmids = {s["pmid"] for s in d["sources"] if s["pmid"]}
    urls = {s["url"] for s in d["sources"] if s["url"]}
    for f in d["resorption"]["factors"]:
        assert (
            f["source"].get("doi") in dois
            or f["source"].get("pmid") in pmids
            or f["source"].get("url") in urls
        )
        for c in f["supporting"]:
            assert c.get("doi") in dois or c.get("pmid") in pmids
    for step in d["management"]["steps"]:
        for c in step["sources"]:
            assert c.get("doi") in dois or c.get("pmid") in pmids or c.get("url")


def test_same_seed_same_assessment_apart_from_the_clock(example_paths):
    case = Case.from_file(example_paths[0], today=AS_OF)
    a = assess_case(case, seed=3, as_of=AS_OF).to_dict()
    b = assess_case(case, seed=3, as_of=AS_OF).to_dict()
    a["provenance"].pop("generated_at")
    b["provenance"].pop("generated_at")
    assert a == b


def test_unknown_therapy_names_the_field():
    case = Case.from_yaml("""
herniation: {level: L4-L5, morphology: protrusion}
therapies: [{name: nsaid}, {name: moonlight}]
""")
    with pytest.raises(CaseFileError) as err:
        assess_case(case, as_of=AS_OF)
    assert err.value.field == "therapies[1].name"
    assert "nsaid" in err.value.allowed


def test_case_without_mri_has_no_forecast_and_no_measurements():
    d = assess_case(
        Case.from_yaml("herniation: {level: L3-L4, morphology: bulge}"), as_of=AS_OF
    ).to_dict()
    assert d["measurements"] == []
    assert d["forecast"] == {
        "available": False,
        "reason": "no MRI in the case: nothing to forecast",
    }
    assert d["management"]["onset_date"] is None


def test_statistical_caveats_are_reported_not_raised():
    """Warnings of the probability model end up in resorption.warnings."""
    case = Case.from_yaml("""
patient: {age_years: 97}
herniation: {level: L4-L5, morphology: extrusion}
""")
    d = assess_case(case, as_of=AS_OF).to_dict()
    assert any("age" in w.lower() for w in d["resorption"]["warnings"]), d["resorption"]


def test_score_summary_reads_its_numbers_and_citations_from_the_evidence_base(assessments):
    """The MCID citation is the evidence records' (no hand-typed PMID/DOI); JOA max is JOA_MAX."""
    from resorb.evidence import evidence_value
    from resorb.scores import JOA_MAX, MCID

    s = assessments["sequestration_rim_three_mri"].to_dict()["scores"]
    assert s["joa"]["max"] == JOA_MAX
    expected = []
    for vid in (*(m.evidence_id for m in MCID.values()), "mcid_relative_percent"):
        for c in evidence_value(vid).citations:
            if dict(c) not in expected:
                expected.append(dict(c))
    assert s["mcid"]["sources"] == expected
    assert s["mcid"]["source"] == expected[0]
    for k, v in MCID.items():
        assert s["mcid"]["thresholds"][k]["absolute"] == v.absolute


def test_report_module_uses_only_public_prognosis_names():
    import ast
    import inspect

    from resorb.reports import _assessment

    tree = ast.parse(inspect.getsource(_assessment))
    private = [
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("resorb.prognosis._")
    ]
    assert private == []
