"""Triage of cases written as a spine surgeon meets them (resorb.prognosis._triage).

Each test is one clinical situation; the expected behaviour is what a careful spine
surgeon would do, with the sources cited in the evidence base (GIRFT National Suspected
Cauda Equina Syndrome Pathway 2023; Eur Spine J 2011 CES table; NICE NG59; IFOMPT red
flag framework, Finucane et al. 2020, doi:10.2519/jospt.2020.9971).
"""

from __future__ import annotations

import datetime as dt

import pytest

from resorb.domain import Case, RedFlag, RedFlagGroup
from resorb.prognosis import management_pathway, triage_case

AS_OF = dt.date(2026, 12, 2)

JOA_ITEMS = (
    "low_back_pain: 0, leg_pain: 0, gait: 0, slr: 0, sensory: 1, motor: {motor}, "
    "adl_turning_over: 1, adl_standing: 0, adl_washing: 0, adl_leaning_forward: 0, "
    "adl_sitting: 0, adl_lifting: 0, adl_walking: 0, bladder: {bladder}"
)


def _case(symptoms: str = "", herniation: str = "level: L4-L5, morphology: extrusion") -> Case:
    return Case.from_yaml(f"""
patient: {{age_years: 41, sex: male}}
symptoms: {{onset_date: 2026-11-10{", " + symptoms if symptoms else ""}}}
herniation: {{{herniation}}}
""")


def _joa(bladder: int = 0, motor: int = 2) -> str:
    return "joa_items: {" + JOA_ITEMS.format(bladder=bladder, motor=motor) + "}"


def test_joa_bladder_minus_6_leg_pain_10_central_sequestration_70_percent_is_an_emergency():
    """The case of issue 9: no red flag ticked, but severe dysuria on the JOA form."""
    case = _case(
        f"leg_pain_nrs: 10, {_joa(bladder=-6)}",
        "level: L4-L5, morphology: sequestration, zone: central, canal_compromise_percent: 70",
    )
    t = triage_case(case)
    assert t.level == "emergency" and t.urgent_referral and t.cauda_equina
    assert [r.code for r in t.reasons] == ["joa_bladder"]
    assert t.reasons[0].group is RedFlagGroup.CAUDA_EQUINA_LATE
    assert "conservative trial can be considered" not in t.action
    assert t.action.startswith("Emergency: suspected cauda equina syndrome")
    # The red-flag list contradicts the JOA form: said, with the field named.
    assert [w.field for w in t.warnings] == ["symptoms.red_flags"]
    assert "-6" in t.warnings[0].message
    plan = management_pathway(case, triage=t, as_of=AS_OF)
    assert [s.code for s in plan.steps] == ["emergency_mri", "emergency_decompression"]
    assert plan.steps[0].due_date == AS_OF


def test_joa_bladder_minus_3_hesitancy_is_an_early_cauda_equina_sign():
    t = triage_case(_case(_joa(bladder=-3)))
    assert t.level == "emergency"
    assert t.reasons[0].group is RedFlagGroup.CAUDA_EQUINA_EARLY
    assert "hesitancy" in t.reasons[0].text


def test_normal_joa_bladder_item_raises_nothing():
    t = triage_case(_case(_joa(bladder=0)))
    assert t.level == "routine" and not t.reasons and not t.warnings


@pytest.mark.parametrize("flag", [f for f in RedFlag if f.group is RedFlagGroup.CAUDA_EQUINA_EARLY])
def test_an_early_cauda_equina_sign_alone_calls_for_emergency_mri(flag):
    case = _case(f"red_flags: [{flag.value}]")
    t = triage_case(case)
    assert t.level == "emergency"
    steps = management_pathway(case, triage=t, as_of=AS_OF).steps
    mri = steps[0]
    assert mri.code == "emergency_mri"
    # The timing is the national pathway's, read from the evidence base and cited by URL.
    from resorb.evidence import evidence_statement

    assert " ".join(evidence_statement("ces_emergency_mri_girft").text.split()) in mri.text
    assert any("girft" in s.get("url", "") for s in mri.sources)


@pytest.mark.parametrize(
    "flags",
    [
        ["cancer_history", "unexplained_weight_loss"],
        ["fever", "iv_drug_use"],
        ["significant_trauma", "osteoporosis_or_long_term_steroids"],
        ["immunosuppression"],
    ],
)
def test_serious_pathology_flags_lead_to_investigation_before_any_conservative_label(flags):
    case = _case(f"red_flags: [{', '.join(flags)}]")
    t = triage_case(case)
    assert t.level == "investigate" and t.urgent_referral and t.serious_pathology
    assert "before any conservative label" in t.action
    plan = management_pathway(case, triage=t, as_of=AS_OF)
    assert [s.code for s in plan.steps] == ["investigate_serious_pathology"]
    assert "conservative_care" not in {s.code for s in plan.steps}
    cited = {c["record"] for s in plan.steps for c in s.sources}
    assert "nice_exclude_serious_pathology" in cited
    assert any(c.get("doi") == "10.2519/jospt.2020.9971" for s in plan.steps for c in s.sources)


def test_british_spellings_saddle_anaesthesia_and_faecal_incontinence_are_red_flags():
    case = Case.from_yaml("""
patient: {sex: F}
symptoms: {red_flags: [saddle_anaesthesia, Faecal incontinence]}
herniation: {level: L4/5, morphology: extrusion}
""")
    assert case.symptoms.red_flags == {RedFlag.SADDLE_ANESTHESIA, RedFlag.FECAL_INCONTINENCE}
    assert case.herniation.level.value == "L4-L5" and case.patient.sex.value == "female"
    assert triage_case(case).level == "emergency"


@pytest.mark.parametrize(
    ("written", "level"),
    [
        ("L4-5", "L4-L5"),
        ("L4/5", "L4-L5"),
        ("L5/S1", "L5-S1"),
        ("l5-s1", "L5-S1"),
        ("L4\u20135", "L4-L5"),
        ("L3-4", "L3-L4"),
    ],
)
def test_common_spellings_of_the_level_are_accepted(written, level):
    assert (
        _case(herniation=f"level: {written}, morphology: protrusion").herniation.level.value
        == level
    )


def test_misspelt_red_flag_is_still_refused_with_the_allowed_values():
    from resorb.errors import CaseFileError

    with pytest.raises(CaseFileError) as err:
        _case("red_flags: [saddle_numbnes]")
    assert err.value.field == "symptoms.red_flags[0]"
    assert "saddle_anesthesia" in err.value.allowed and "cancer_history" in err.value.allowed


def test_canal_filled_70_percent_without_recorded_ces_sign_warns_before_a_conservative_trial():
    t = triage_case(
        _case(
            "leg_pain_nrs: 8",
            "level: L5-S1, morphology: sequestration, zone: central, canal_compromise_percent: 70",
        )
    )
    assert t.level == "routine"
    assert [w.field for w in t.warnings] == ["herniation.canal_compromise_percent"]
    assert "saddle sensation" in t.warnings[0].message
    assert "checking first" in t.action and "can be considered" not in t.action


def test_msu_3a_and_schizas_d_without_ces_sign_give_one_warning_naming_both():
    t = triage_case(_case(herniation="level: L4-L5, morphology: extrusion, msu: 3-A, schizas: D"))
    assert [w.field for w in t.warnings] == ["herniation.schizas"]
    assert "Schizas grade D" in t.warnings[0].message and "MSU 3-A" in t.warnings[0].message


def test_joa_motor_0_with_mrc_4_recorded_counts_the_worse_grade_and_warns():
    t = triage_case(_case(f"motor_mrc: 4, {_joa(motor=0)}"))
    assert t.level == "urgent" and t.motor_deficit
    assert [r.code for r in t.reasons] == ["joa_motor"]
    assert [w.field for w in t.warnings] == ["symptoms.motor_mrc"]


def test_joa_motor_0_without_mrc_is_a_severe_motor_deficit():
    t = triage_case(_case(_joa(motor=0)))
    assert t.level == "urgent" and [r.code for r in t.reasons] == ["joa_motor"]


def test_cauda_equina_outranks_motor_deficit_and_serious_pathology():
    case = _case("motor_mrc: 2, red_flags: [cancer_history, urinary_hesitancy]")
    t = triage_case(case)
    assert t.level == "emergency"
    assert [r.level for r in t.reasons] == ["emergency", "urgent", "investigate"]
    codes = [s.code for s in management_pathway(case, triage=t, as_of=AS_OF).steps]
    assert codes == [
        "emergency_mri",
        "emergency_decompression",
        "urgent_referral",
        "investigate_serious_pathology",
    ]


@pytest.mark.parametrize("flag", list(RedFlag))
def test_every_red_flag_is_cited_with_an_identifier_and_a_confidence_tag(flag):
    t = triage_case(_case(f"red_flags: [{flag.value}]")).to_dict()
    reason = t["reasons"][0]
    assert reason["sources"]
    for s in reason["sources"]:
        assert s.get("doi") or s.get("pmid") or s.get("url")
        assert s["confidence"] in ("exact", "approx", "unverified")
    assert reason["group"] == flag.group.value and reason["level"] == t["level"]


def test_triage_json_keeps_the_contract_keys():
    d = triage_case(_case("red_flags: [urinary_retention]")).to_dict()
    assert d["urgent_referral"] is True and isinstance(d["reasons"], list)
    assert {"level", "warnings", "cauda_equina", "serious_pathology"} <= set(d)


def test_cauda_equina_with_an_mri_on_file_asks_whether_it_postdates_the_symptoms():
    """An MRI taken before the bladder symptoms began cannot exclude new compression."""
    case = Case.from_yaml("""
symptoms: {onset_date: 2026-10-01, red_flags: [urinary_retention]}
herniation: {level: L4-L5, morphology: extrusion}
mri: [{date: 2026-10-10, volume_mm3: 900}]
""")
    mri = management_pathway(case, as_of=AS_OF).steps[0]
    assert mri.code == "emergency_mri"
    assert "An MRI from 2026-10-10 is on file" in mri.text
    assert "otherwise repeat it as an emergency" in mri.text
    no_mri = management_pathway(_case("red_flags: [urinary_retention]"), as_of=AS_OF).steps[0]
    assert "on file" not in no_mri.text


def test_case_file_without_red_flags_asks_for_them_instead_of_clearing_a_conservative_trial():
    """A case file that leaves the red flags out was not asked about them: 'red flags
    recorded: none' and 'a conservative trial can be considered' claimed too much."""
    t = triage_case(_case("leg_pain_nrs: 7"))
    assert t.level == "routine" and not t.reasons
    assert "red flags: not recorded" in t.checked
    assert t.action.startswith("Red flags not recorded: ask about cauda equina signs")
    assert "conservative trial can be considered" not in t.action


def test_an_empty_red_flag_list_is_recorded_as_none():
    t = triage_case(_case("leg_pain_nrs: 7, red_flags: []"))
    assert "red flags recorded: none" in t.checked
    assert t.action.startswith("No red flag recorded: a conservative trial can be considered")
