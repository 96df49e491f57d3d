"""Red-flag triage (resorb.prognosis._triage)."""

from __future__ import annotations

import pytest

from resorb.domain import Case, RedFlag
from resorb.evidence import evidence_value
from resorb.prognosis._triage import triage_case


def _case(symptoms: str = "") -> Case:
    return Case.from_yaml(f"""
symptoms: {{onset_date: 2026-01-10{", " + symptoms if symptoms else ""}}}
herniation: {{level: L4-L5, morphology: extrusion}}
""")


def _has_identifier(source: dict) -> bool:
    return bool(source.get("doi") or source.get("pmid") or source.get("url"))


@pytest.mark.parametrize("flag", [f.value for f in RedFlag])
def test_each_red_flag_triggers_urgent_referral_with_a_cited_reason(flag):
    result = triage_case(_case(f"red_flags: [{flag}]"))
    assert result.urgent_referral is True
    d = result.to_dict()
    assert [r["code"] for r in d["reasons"]] == [flag]
    reason = d["reasons"][0]
    assert _has_identifier(reason["source"])
    assert reason["sources"] and all(_has_identifier(s) for s in reason["sources"])
    assert d["level"] in ("emergency", "urgent", "investigate")
    assert "Do not start a watchful-waiting trial" in d["action"]


def test_cauda_equina_flags_cite_the_ces_review_and_motor_flags_the_motor_record():
    ces = triage_case(_case("red_flags: [urinary_retention]")).to_dict()["reasons"][0]
    assert "ces_emergency_referral" in ces["evidence_ids"]
    motor = triage_case(_case("red_flags: [progressive_motor_deficit]")).to_dict()["reasons"][0]
    assert "progressive_motor_deficit_urgent" in motor["evidence_ids"]


@pytest.mark.parametrize(
    ("mrc", "urgent"), [(0, True), (2, True), (3, True), (4, False), (5, False)]
)
def test_motor_grade_3_or_less_is_urgent(mrc, urgent):
    result = triage_case(_case(f"motor_mrc: {mrc}"))
    assert result.urgent_referral is urgent
    codes = [r.code for r in result.reasons]
    assert codes == (["motor_mrc"] if urgent else [])


def test_motor_cut_off_comes_from_the_evidence_base():
    threshold = int(evidence_value("severe_motor_deficit_mrc_max").value)
    assert triage_case(_case()).motor_mrc_threshold == threshold == 3


def test_several_flags_give_one_reason_each_in_a_stable_order():
    result = triage_case(_case("motor_mrc: 2, red_flags: [fecal_incontinence, saddle_anesthesia]"))
    assert [r.code for r in result.reasons] == [
        "saddle_anesthesia",
        "fecal_incontinence",
        "motor_mrc",
    ]


def test_no_red_flag_no_urgent_referral_and_says_what_was_checked():
    result = triage_case(_case("motor_mrc: 4, leg_pain_nrs: 8, red_flags: []"))
    d = result.to_dict()
    assert d["urgent_referral"] is False
    assert d["reasons"] == []
    assert any("none" in c for c in d["checked"])
    assert any("MRC 4/5" in c for c in d["checked"])


def test_unrecorded_motor_grade_is_reported_as_not_recorded():
    d = triage_case(_case()).to_dict()
    assert d["urgent_referral"] is False
    assert any("not recorded" in c for c in d["checked"])
