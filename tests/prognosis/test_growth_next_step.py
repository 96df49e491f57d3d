"""Growth of the herniation beyond measurement error on follow-up MRI: with the symptoms
still present the next step is a discussion of surgery now (growth_with_symptoms_review,
NICE NG59 decompression when non-surgical care fails), not another MRI."""

from __future__ import annotations

import datetime as dt

from resorb.domain import Case
from resorb.prognosis import management_pathway

AS_OF = dt.date(2026, 12, 2)


def _case(symptoms: str) -> Case:
    return Case.from_yaml(f"""
symptoms: {{onset_date: 2026-02-09, {symptoms}}}
herniation: {{level: L4-L5, morphology: protrusion}}
mri:
  - {{date: 2026-02-23, volume_mm3: 600}}
  - {{date: 2026-08-17, volume_mm3: 1350}}
""")


def _codes(plan):
    return [s.code for s in plan.steps]


def test_growth_with_leg_pain_7_of_10_makes_surgery_discussion_due_now():
    plan = management_pathway(
        _case("leg_pain_nrs: 7, red_flags: []"), as_of=AS_OF, observed_growth=True
    )
    step = next(s for s in plan.steps if s.code == "discuss_surgery_after_growth")
    assert step.status == "due" and step.due_date == AS_OF
    assert "leg pain 7/10" in step.text and "2026-08-17" in step.text
    assert "Discuss decompression" in step.text
    assert "growth_with_symptoms_review" in step.evidence_ids
    assert all(src.get("doi") or src.get("pmid") or src.get("url") for src in step.sources)


def test_growth_with_leg_pain_gone_adds_no_surgery_discussion():
    """Growth alone is not an indication: leg pain 0/10 and no deficit keeps the pathway."""
    plan = management_pathway(
        _case("leg_pain_nrs: 0, red_flags: []"), as_of=AS_OF, observed_growth=True
    )
    assert "discuss_surgery_after_growth" not in _codes(plan)


def test_growth_without_symptom_scores_still_raises_the_discussion_conditionally():
    plan = management_pathway(_case("red_flags: []"), as_of=AS_OF, observed_growth=True)
    step = next(s for s in plan.steps if s.code == "discuss_surgery_after_growth")
    assert step.status == "due" and "if the radicular symptoms persist" in step.text


def test_no_growth_no_surgery_discussion_step():
    plan = management_pathway(
        _case("leg_pain_nrs: 7, red_flags: []"), as_of=AS_OF, observed_growth=False
    )
    assert "discuss_surgery_after_growth" not in _codes(plan)
