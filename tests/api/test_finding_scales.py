"""One finding -> scale -> label table (resorb.domain.FINDING_SCALES) used by every layer.

Case files, registry schemas, cohort coding, web forms and the report read
findings on the same scales and name them with the same words.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest

from resorb.domain import FINDING_LABELS, FINDING_SCALES, HerniationFindings, finding_scale


def test_table_covers_every_scaled_finding_of_the_domain():
    hints = typing.get_type_hints(HerniationFindings)
    scaled = {
        f.name
        for f in dataclasses.fields(HerniationFindings)
        if f.name != "canal_compromise_percent"
    }
    assert [f.key for f in FINDING_SCALES] == [
        f.name for f in dataclasses.fields(HerniationFindings) if f.name in scaled
    ]
    for entry in FINDING_SCALES:
        assert entry.scale in typing.get_args(hints[entry.key]) or hints[entry.key] is entry.scale
        assert entry.label and entry.label[0].isupper()
        assert "_" not in entry.label  # words for clinicians, not Python names
    assert {f.key for f in FINDING_SCALES if f.required} == {"level", "morphology"}
    assert finding_scale("modic").label == "Modic change"
    with pytest.raises(KeyError):
        finding_scale("no_such_finding")


def test_report_names_findings_with_the_table_labels():
    from resorb.reports import _assessment

    assert dict(_assessment._FINDING_FIELDS) == dict(FINDING_LABELS)


def test_cohort_codes_findings_on_the_table_scales():
    from resorb.cohort._coding import COLUMN_ENUMS

    for entry in FINDING_SCALES:
        assert COLUMN_ENUMS[entry.key] is entry.scale


def test_registry_reads_stored_findings_on_the_table_scales():
    pytest.importorskip("sqlalchemy", reason="the registry needs the web extra (SQLAlchemy)")
    from resorb.registry._schemas import findings_to_domain

    values = {f.key: next(iter(f.scale)).value for f in FINDING_SCALES}
    values |= {"morphology": "extrusion", "containment": "uncontained", "pll": "ruptured"}
    h = findings_to_domain(values)
    for entry in FINDING_SCALES:
        assert isinstance(getattr(h, entry.key), entry.scale)


def test_web_findings_form_uses_the_table_labels():
    pytest.importorskip("fastapi", reason="the web pages need the web extra (fastapi)")
    from resorb.web._page_patients import _form_context

    class _Registry:
        def patient_records(self, patient_id):
            return type("R", (), {"patient": None, "mri": (), "visits": ()})()

    ctx = _form_context("findings", _Registry(), 1)
    shown = {key: label for key, label, _choices, _required in ctx["scales"]}
    assert shown == {k: v for k, v in FINDING_LABELS.items() if k not in ("msu_size", "msu_zone")}
