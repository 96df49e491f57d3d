"""Case files: the keys of docs/case-file.md, validation at the door, frozen domain objects."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from resorb.domain import (
    Case,
    HerniationMorphology,
    KomoriType,
    MSUSize,
    MSUZone,
    PfirrmannGrade,
    RedFlag,
    SpinalLevel,
)
from resorb.errors import CaseFileError, InvalidInputError
from resorb.scores import odi_percent

TODAY = dt.date(2026, 11, 26)

FULL_CASE = """
patient:
  age_years: 44
  sex: female
symptoms:
  onset_date: 2026-02-02
  leg_pain_nrs: 7
  back_pain_nrs: 4
  vas_mm: 65
  odi_answers: [3, 2, null, 4, 1, 0, 2, 3, 1, 2]
  joa_items: {low_back_pain: 1, leg_pain: 1, gait: 2, slr: 1, sensory: 1, motor: 2,
              adl_turning_over: 1, adl_standing: 1, adl_washing: 1, adl_leaning_forward: 0,
              adl_sitting: 1, adl_lifting: 0, adl_walking: 1, bladder: 0}
  slr_degrees: 40
  motor_mrc: 4
  red_flags: []
herniation:
  level: L5-S1
  morphology: extrusion
  containment: uncontained
  pll: ruptured
  zone: subarticular
  komori: 2
  msu: 2-AB
  rim_enhancement: complete
  iwabuchi: 1
  t2_signal: high
  modic: 0
  pfirrmann: 3
  schizas: B
  canal_compromise_percent: 40
mri:
  - {date: 2026-02-20, volume_mm3: 1500}
  - {date: 2026-06-20, mask: followup.nii.gz, label: 2}
  - {date: 2026-11-01, diameters_mm: [6.5, 9.0, 11.0]}
therapies:
  - {name: nsaid, start: 2026-02-05, end: 2026-03-01}
"""


def load(text: str) -> Case:
    return Case.from_yaml(text, today=TODAY)


def minimal(**herniation: object) -> dict:
    h = {"level": "L4-L5", "morphology": "protrusion"}
    h.update(herniation)
    return {"herniation": h}


def test_full_design_case_is_read_into_domain_objects(tmp_path):
    case = Case.from_yaml(FULL_CASE, base_dir=tmp_path, today=TODAY)
    h = case.herniation
    assert h.level is SpinalLevel.L5_S1
    assert h.morphology is HerniationMorphology.EXTRUSION
    assert h.komori is KomoriType.TYPE_2
    assert (h.msu_size, h.msu_zone) == (MSUSize.SIZE_2, MSUZone.AB)
    assert h.msu == "2-AB"
    assert h.pfirrmann is PfirrmannGrade.III
    assert odi_percent(case.symptoms.odi_answers).answered == 9
    assert case.symptoms.joa_items.total == 13
    assert [m.index for m in case.mri] == [0, 1, 2]
    assert case.mri[1].mask == tmp_path / "followup.nii.gz"
    assert case.mri[2].diameters_mm == (6.5, 9.0, 11.0)
    assert case.therapies[0].name == "nsaid"


def test_domain_objects_are_frozen():
    case = load(FULL_CASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.herniation.level = SpinalLevel.L1_L2  # type: ignore[misc]


def test_only_level_and_morphology_are_required():
    case = Case.from_dict(minimal(), today=TODAY)
    assert case.herniation.containment is None
    assert case.mri == ()


def test_json_case_file_is_read(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(minimal(morphology="sequestration")))
    assert Case.from_file(path, today=TODAY).herniation.morphology is (
        HerniationMorphology.SEQUESTRATION
    )


@pytest.mark.parametrize(
    ("data", "field", "allowed"),
    [
        (
            {"herniation": {"level": "L9-L10", "morphology": "extrusion"}},
            "herniation.level",
            "L1-L2, L2-L3, L3-L4, L4-L5, L5-S1",
        ),
        (
            minimal(morphology="hernia"),
            "herniation.morphology",
            "bulge, protrusion, extrusion, sequestration",
        ),
        ({**minimal(), "patient": {"age_years": -3}}, "patient.age_years", "0-120"),
        ({**minimal(), "symptoms": {"leg_pain_nrs": 11}}, "symptoms.leg_pain_nrs", "0-10"),
        ({**minimal(), "symptoms": {"vas_mm": 140}}, "symptoms.vas_mm", "0-100"),
        ({**minimal(), "symptoms": {"motor_mrc": 6}}, "symptoms.motor_mrc", "MRC grade 0-5"),
        (
            {**minimal(), "symptoms": {"red_flags": ["headache"]}},
            "symptoms.red_flags[0]",
            "saddle_anesthesia",
        ),
        (minimal(komori=4), "herniation.komori", "1, 2, 3"),
        (minimal(msu="4-A"), "herniation.msu", "1, 2, 3"),
        (minimal(msu="2-D"), "herniation.msu", "A, B, C, AB, BC"),
        (minimal(schizas="E"), "herniation.schizas", "A1, A2, A3, A4, B, C, D"),
        (minimal(canal_compromise_percent=120), "canal_compromise_percent", "0-100"),
        (minimal(modic=4), "herniation.modic", "0, 1, 2, 3"),
    ],
)
def test_impossible_values_are_refused_naming_the_field(data, field, allowed):
    with pytest.raises(CaseFileError) as info:
        Case.from_dict(data, today=TODAY)
    assert info.value.field.endswith(field)
    assert allowed in str(info.value)


def test_unknown_keys_are_errors_with_the_allowed_keys():
    with pytest.raises(CaseFileError, match=r"herniation\.colour: unknown key") as info:
        Case.from_dict(minimal(colour="red"), today=TODAY)
    assert "morphology" in (info.value.allowed or "")
    with pytest.raises(CaseFileError, match=r"^patients: unknown key"):
        Case.from_dict({**minimal(), "patients": {}}, today=TODAY)


def test_missing_required_key_is_named():
    with pytest.raises(CaseFileError, match=r"herniation\.morphology: is required"):
        Case.from_dict({"herniation": {"level": "L4-L5"}}, today=TODAY)


def test_followup_mri_before_baseline_is_refused():
    data = {
        **minimal(),
        "mri": [
            {"date": "2026-03-01", "volume_mm3": 900},
            {"date": "2026-01-01", "volume_mm3": 800},
        ],
    }
    with pytest.raises(CaseFileError, match=r"mri\[1\]\.date: 2026-01-01 is before the baseline"):
        Case.from_dict(data, today=TODAY)


def test_mri_out_of_order_after_baseline_is_refused():
    data = {
        **minimal(),
        "mri": [
            {"date": "2026-01-01", "volume_mm3": 900},
            {"date": "2026-05-01", "volume_mm3": 800},
            {"date": "2026-03-01", "volume_mm3": 700},
        ],
    }
    with pytest.raises(CaseFileError, match=r"mri\[2\]\.date.*date order"):
        Case.from_dict(data, today=TODAY)


@pytest.mark.parametrize("where", ["onset", "mri", "therapy"])
def test_future_dates_are_refused(where):
    future = "2027-01-01"
    data = minimal()
    if where == "onset":
        data["symptoms"] = {"onset_date": future}
        field = "symptoms.onset_date"
    elif where == "mri":
        data["mri"] = [{"date": future, "volume_mm3": 10}]
        field = r"mri\[0\]\.date"
    else:
        data["therapies"] = [{"name": "nsaid", "start": future}]
        field = r"therapies\[0\]\.start"
    with pytest.raises(CaseFileError, match=rf"{field}: 2027-01-01 is in the future"):
        Case.from_dict(data, today=TODAY)


def test_mri_needs_exactly_one_measurement():
    data = {
        **minimal(),
        "mri": [{"date": "2026-03-01", "volume_mm3": 900, "diameters_mm": [1, 2, 3]}],
    }
    with pytest.raises(CaseFileError, match=r"mri\[0\].*exactly one of"):
        Case.from_dict(data, today=TODAY)
    data = {**minimal(), "mri": [{"date": "2026-03-01"}]}
    with pytest.raises(CaseFileError, match="no measurement"):
        Case.from_dict(data, today=TODAY)


def test_negative_volume_and_wrong_diameters_are_refused():
    with pytest.raises(CaseFileError, match=r"mri\[0\]\.volume_mm3"):
        Case.from_dict(
            {**minimal(), "mri": [{"date": "2026-03-01", "volume_mm3": -1}]}, today=TODAY
        )
    with pytest.raises(CaseFileError, match=r"mri\[0\]\.diameters_mm"):
        Case.from_dict(
            {**minimal(), "mri": [{"date": "2026-03-01", "diameters_mm": [1, 2]}]}, today=TODAY
        )


def test_therapy_ending_before_it_starts_is_refused():
    data = {
        **minimal(),
        "therapies": [{"name": "nsaid", "start": "2026-03-01", "end": "2026-02-01"}],
    }
    with pytest.raises(CaseFileError, match=r"therapies\[0\]\.end"):
        Case.from_dict(data, today=TODAY)


def test_sequestration_cannot_be_contained():
    with pytest.raises(CaseFileError, match=r"herniation\.containment"):
        Case.from_dict(minimal(morphology="sequestration", containment="contained"), today=TODAY)


def test_joa_item_out_of_range_is_named():
    data = {**minimal(), "symptoms": {"joa_items": {"gait": 5}}}
    with pytest.raises(CaseFileError, match=r"joa_items\.(gait|low_back_pain)"):
        Case.from_dict(data, today=TODAY)


def test_odi_answer_out_of_range_is_named():
    data = {**minimal(), "symptoms": {"odi_answers": [3, 2, 9, 4, 1, 0, 2, 3, 1, 2]}}
    with pytest.raises(CaseFileError, match=r"odi_answers\.lifting.*0-5"):
        Case.from_dict(data, today=TODAY)


def test_malformed_yaml_and_missing_file_are_one_line_errors(tmp_path):
    with pytest.raises(CaseFileError, match="line"):
        Case.from_yaml("herniation: [unclosed", today=TODAY)
    with pytest.raises(CaseFileError, match="file not found"):
        Case.from_file(tmp_path / "nope.yaml")
    bad = tmp_path / "case.txt"
    bad.write_text("x")
    with pytest.raises(CaseFileError, match=r"\.yaml, \.yml, \.json"):
        Case.from_file(bad)
    with pytest.raises(CaseFileError, match="is not a mapping"):
        Case.from_yaml("- a\n- b\n", today=TODAY)


def test_case_file_errors_are_value_errors():
    assert issubclass(CaseFileError, InvalidInputError)
    assert issubclass(CaseFileError, ValueError)


def test_letters_and_roman_numerals_are_normalised():
    case = Case.from_dict(minimal(komori="C", pfirrmann="IV"), today=TODAY)
    assert case.herniation.komori is KomoriType.TYPE_3
    assert case.herniation.pfirrmann is PfirrmannGrade.IV


def test_red_flags_become_enum_members():
    data = {**minimal(), "symptoms": {"red_flags": ["saddle_anesthesia", "URINARY_RETENTION"]}}
    case = Case.from_dict(data, today=TODAY)
    assert case.symptoms.red_flags == {RedFlag.SADDLE_ANESTHESIA, RedFlag.URINARY_RETENTION}


@pytest.mark.parametrize(
    ("written", "member"),
    [
        ("urinary retention", RedFlag.URINARY_RETENTION),
        ("Saddle-anesthesia", RedFlag.SADDLE_ANESTHESIA),
        ("saddle anaesthesia", RedFlag.SADDLE_ANESTHESIA),
        ("unexplained weight loss", RedFlag.UNEXPLAINED_WEIGHT_LOSS),
        ("progressive motor deficit", RedFlag.PROGRESSIVE_MOTOR_DEFICIT),
    ],
)
def test_red_flag_written_with_spaces_or_hyphens_is_read_as_the_red_flag(written, member):
    """The case-file guide: spaces and hyphens count as underscores (a clinician who types
    'urinary retention' must not be refused, let alone lose the flag)."""
    data = {**minimal(), "symptoms": {"red_flags": [written]}}
    assert Case.from_dict(data, today=TODAY).symptoms.red_flags == {member}


def test_a_red_flag_that_is_not_on_the_list_is_still_refused_with_spaces():
    data = {**minimal(), "symptoms": {"red_flags": ["urinary incontinence"]}}
    with pytest.raises(InvalidInputError, match=r"symptoms\.red_flags\[0\]"):
        Case.from_dict(data, today=TODAY)
