"""Management a spine surgeon would sign, and the plain-language page (resorb.prognosis).

Situations: indications for surgery before and after 12 weeks (intractable pain, a
persisting or progressive deficit, growth, the patient's preference; Macki 2014, Peul
2007, Acta Neurochir 2020), MRI driven by the question it answers (NICE NG59: image
only if the result would change management), recurrence after resorption (Lee 2017,
doi:10.1155/2017/2147408), and the patient page whose every number is read from the
evidence base.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from resorb.domain import Case
from resorb.evidence import evidence_value
from resorb.prognosis import _patient_information, management_pathway, triage_case

AS_OF = dt.date(2026, 12, 2)


def _case(symptoms: str, morphology: str = "protrusion") -> Case:
    return Case.from_yaml(f"""
symptoms: {{onset_date: 2026-06-01, {symptoms}}}
herniation: {{level: L4-L5, morphology: {morphology}}}
""")


def _steps(plan):
    return {s.code: s for s in plan.steps}


def test_leg_pain_10_at_four_weeks_shows_intractable_pain_as_an_indication_now():
    """Surgery does not wait for 12 weeks when the pain is unbearable."""
    case = Case.from_yaml("""
symptoms: {onset_date: 2026-11-04, leg_pain_nrs: 10}
herniation: {level: L5-S1, morphology: extrusion}
""")
    step = _steps(management_pathway(case, as_of=AS_OF))["surgical_indications"]
    assert step.timing.startswith("at every visit")
    assert "Intractable pain" in step.text and "at any stage" in step.text
    assert "leg pain 10/10" in step.text and "intractable" in step.text.split("patient:")[1]
    assert {
        "surgery_intractable_pain_any_stage",
        "surgery_patient_preference",
        "surgery_persisting_or_progressive_deficit",
        "growth_with_symptoms_review",
    } <= set(step.evidence_ids)


def test_persisting_mrc_4_weakness_and_growth_beyond_error_are_named_for_this_patient():
    plan = management_pathway(
        _case("leg_pain_nrs: 6, motor_mrc: 4"), as_of=AS_OF, observed_growth=True
    )
    text = _steps(plan)["surgical_indications"].text
    assert "motor deficit MRC 4/5" in text
    assert "grown beyond measurement error" in text


def test_crippling_odi_is_named_among_the_indications():
    plan = management_pathway(_case("odi_answers: [5, 4, 4, 4, 4, 4, 4, 3, 4, 4]"), as_of=AS_OF)
    assert "ODI 80 % (crippled)" in _steps(plan)["surgical_indications"].text


def test_mild_case_lists_the_indications_without_inventing_findings():
    text = _steps(management_pathway(_case("leg_pain_nrs: 4"), as_of=AS_OF))[
        "surgical_indications"
    ].text
    assert "Recorded for this patient" not in text


def test_reimaging_is_driven_by_events_and_by_the_question_it_answers():
    steps = _steps(management_pathway(_case("leg_pain_nrs: 5"), as_of=AS_OF))
    events = steps["reimage_on_events"]
    assert events.offset_days is None
    for event in ("red flags", "worsening deficit", "before surgery", "symptoms return"):
        assert event in events.text
    calendar = steps["reimage_1"]
    assert "only if its answer would change management" in calendar.text
    assert "Not to document resorption in a patient who is recovering" in calendar.text
    assert "nice_no_routine_imaging" in calendar.evidence_ids


def test_recurrence_after_resorption_is_shown_with_the_published_figure():
    step = _steps(management_pathway(_case("leg_pain_nrs: 5"), as_of=AS_OF))["recurrence"]
    share = evidence_value("no_symptom_recurrence_after_resorption_lee2017")
    assert f"{100 * share.value:.1f} %" in step.text
    assert "No study read followed re-herniation on MRI" in step.text
    assert any(s.get("doi") == "10.1155/2017/2147408" for s in step.sources)


def test_safety_net_names_the_early_cauda_equina_signs():
    text = _steps(management_pathway(_case("leg_pain_nrs: 5"), as_of=AS_OF))["safety_net"].text
    for sign in ("difficulty passing urine", "sexual dysfunction", "both legs"):
        assert sign in text


def test_patient_page_figures_are_those_of_the_evidence_base():
    info = {
        p.code: p
        for p in management_pathway(_case("leg_pain_nrs: 5"), as_of=AS_OF).patient_information
    }
    assert list(info) == [
        "natural_course",
        "symptoms_before_size",
        "some_grow",
        "recurrence",
        "surgery_is_a_choice",
        "come_back_at_once",
    ]
    lo, hi = evidence_value("sciatica_improves_3mo_fraction").value
    recovered = evidence_value("perceived_recovery_1y_peul2007").value
    assert f"Between {100 * lo:.0f} and {100 * hi:.0f} %" in info["natural_course"].text
    assert f"{100 * recovered:.0f} % of people felt recovered" in info["natural_course"].text
    grew = evidence_value("enlarged_fraction_3d_series")
    assert f"{grew.events} of {grew.total}" in info["some_grow"].text
    for p in info.values():
        assert p.sources and all(s.get("doi") or s.get("pmid") or s.get("url") for s in p.sources)


def test_patient_page_numbers_change_when_the_evidence_changes(monkeypatch):
    """No copy of a number in code: every figure on the page follows its record."""
    real = _patient_information._v

    def doubled(record_id):
        v = real(record_id)
        if record_id == "perceived_recovery_1y_peul2007":
            return dataclasses.replace(v, value=0.5)
        if record_id == "sequestration_symptom_resolution_months_macki2014":
            return dataclasses.replace(v, value=7.7)
        return v

    monkeypatch.setattr(_patient_information, "_v", doubled)
    text = " ".join(
        p.text
        for p in _patient_information.patient_information(
            triage=triage_case(_case("leg_pain_nrs: 5"))
        )
    )
    assert "50 % of people felt recovered" in text and "about 7.7 months" in text


def test_plain_language_page_uses_everyday_words():
    text = " ".join(
        p.text
        for p in management_pathway(_case("leg_pain_nrs: 5"), as_of=AS_OF).patient_information
    )
    for jargon in ("radicular", "sequestration", "MRC", "decompression", "odds", "cauda"):
        assert jargon not in text, jargon
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)  # no field or record names


@pytest.mark.parametrize(
    "symptoms", ["red_flags: [urinary_retention]", "motor_mrc: 2", "red_flags: [cancer_history]"]
)
def test_patient_page_beside_a_referral_explains_it_and_gives_no_natural_course_figures(symptoms):
    plan = management_pathway(_case(symptoms), as_of=AS_OF)
    codes = [p.code for p in plan.patient_information]
    assert codes == ["why_urgent", "not_now", "come_back_at_once"]
    text = " ".join(p.text for p in plan.patient_information)
    assert "%" not in text


@pytest.mark.parametrize(
    ("symptoms", "label"),
    [
        ("red_flags: [urinary_retention]", "emergency referral"),
        ("red_flags: [progressive_motor_deficit]", "urgent referral"),
        ("red_flags: [fever]", "investigate serious pathology first"),
        ("leg_pain_nrs: 6", "conservative trial"),
    ],
)
def test_pathway_heading_names_the_triage_level(symptoms, label):
    plan = management_pathway(_case(symptoms), as_of=AS_OF)
    assert plan.label == label and plan.to_dict()["label"] == label


def test_cauda_equina_decompression_is_as_soon_as_possible_with_the_sourced_outer_limit():
    """24-48 hours (Eur Spine J 2011; Acta Neurochir 2020) is a latest time, not a window to
    wait in: the step says so."""
    plan = management_pathway(_case("red_flags: [urinary_retention]"), as_of=AS_OF)
    step = _steps(plan)["emergency_decompression"]
    early, late = evidence_value("ces_decompression_window_hours").value
    assert "as soon as possible" in step.text
    assert f"within {early:g}-{late:g} hours at the latest" in step.text
    assert step.status == "due" and step.due_date == AS_OF
