"""Registry service: validated writes, reads, timeline, case building, research view."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from resorb.domain import Case, HerniationMorphology, RedFlag, SpinalLevel
from resorb.errors import InvalidInputError
from resorb.imaging import compare_volumes, ellipsoid_volume_mm3
from resorb.registry import RecordNotFoundError
from resorb.registry import resorption_between as registry_resorption
from resorb.scores import joa_recovery_rate_percent, mcid_improvement, odi_percent


def test_patient_round_trips_and_is_listed(registry, clinician, patient):
    got = registry.get_patient(patient.id)
    assert got == patient
    assert (got.pseudonym, got.birth_year, got.sex, got.site) == (
        "LDH-0001",
        1981,
        "female",
        "north",
    )
    assert got.onset_date == dt.date(2026, 1, 20)
    assert got.created_by == registry.get_user(clinician).id
    assert registry.find_patient("LDH-0001") == patient
    assert registry.find_patient("nobody") is None


def test_list_patients_searches_and_pages(registry, clinician):
    for i in range(7):
        registry.create_patient(
            {
                "pseudonym": f"P-{i:02d}",
                "birth_year": 1970 + i,
                "sex": "male",
                "site": "south" if i % 2 else "north",
            },
            actor=clinician,
        )
    registry.create_patient(
        {"pseudonym": "X-1", "birth_year": 1990, "sex": "other", "site": "ward_7%"}, actor=clinician
    )
    assert [p.pseudonym for p in registry.list_patients(limit=3)] == ["P-00", "P-01", "P-02"]
    assert [p.pseudonym for p in registry.list_patients(limit=3, offset=6)] == ["P-06", "X-1"]
    assert len(registry.list_patients(search="south")) == 3
    assert [p.pseudonym for p in registry.list_patients(search="p-0")][:2] == ["P-00", "P-01"]
    # LIKE wildcards in the search are taken literally.
    assert [p.pseudonym for p in registry.list_patients(search="d_7%")] == ["X-1"]
    assert registry.list_patients(search="d%7") == []
    assert registry.count_patients() == 8
    assert registry.count_patients(search="south") == 3
    with pytest.raises(InvalidInputError, match="limit"):
        registry.list_patients(limit=0)


def test_missing_patient_is_reported_by_id(registry):
    with pytest.raises(RecordNotFoundError, match="patient_id: no patient 999"):
        registry.get_patient(999)


@pytest.mark.parametrize(
    ("data", "field", "allowed"),
    [
        (
            {"pseudonym": "LDH-0001", "birth_year": 1980, "sex": "male"},
            "patient.pseudonym",
            "not yet used",
        ),
        ({"pseudonym": "Jane Doe", "birth_year": 1980, "sex": "male"}, "patient.pseudonym", None),
        ({"pseudonym": "A1", "birth_year": 1880, "sex": "male"}, "patient.birth_year", None),
        ({"pseudonym": "A1", "birth_year": 1980, "sex": "robot"}, "patient.sex", "female, male"),
        ({"pseudonym": "A1", "birth_year": 1980}, "patient.sex", None),
        (
            {"pseudonym": "A1", "birth_year": 1980, "sex": "male", "name": "Doe"},
            "patient.name",
            "pseudonym, birth_year, sex",
        ),
    ],
)
def test_invalid_patient_is_rejected_naming_the_field(
    registry, clinician, patient, data, field, allowed
):
    with pytest.raises(InvalidInputError) as err:
        registry.create_patient(data, actor=clinician)
    assert err.value.field == field
    if allowed:
        assert allowed in (err.value.allowed or "")
    assert registry.count_patients() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"date": "2026-02-01", "leg_pain_nrs": 11}, "visit.leg_pain_nrs"),
        ({"date": "2026-02-01", "vas_mm": -1}, "visit.vas_mm"),
        ({"date": "2026-02-01", "odi_answers": [1, 2, 3]}, "visit.odi_answers"),
        (
            {"date": "2026-02-01", "odi_answers": [1, 2, 3, 4, 5, 6, 0, 1, 2, 3]},
            "visit.odi_answers.6",
        ),
        ({"date": "2026-02-01", "joa_total": 30}, "visit.joa_total"),
        ({"date": "2026-02-01", "red_flags": ["headache"]}, "visit.red_flags.0"),
        ({"date": "2026-02-30"}, "visit.date"),
        ({"leg_pain_nrs": 3}, "visit.date"),
    ],
)
def test_invalid_visit_is_rejected_naming_the_field(registry, clinician, patient, data, field):
    with pytest.raises(InvalidInputError) as err:
        registry.add_visit(patient.id, data, actor=clinician)
    assert err.value.field.startswith(field.rsplit(".", 1)[0])
    assert registry.list_visits(patient.id) == []


def test_visit_scores_are_stored_and_odi_computed(registry, clinician, patient):
    answers = [3, 2, None, 4, 1, 0, 2, 3, 1, 2]
    v = registry.add_visit(
        patient.id,
        {
            "date": "2026-02-01",
            "leg_pain_nrs": 7,
            "back_pain_nrs": 4.5,
            "vas_mm": 65,
            "odi_answers": answers,
            "joa_total": 14,
            "rmdq": 12,
            "motor_mrc": 4,
            "slr_degrees": 40,
            "red_flags": ["urinary_retention", "saddle_anesthesia"],
            "notes": "synthetic",
        },
        actor=clinician,
    )
    assert v.odi_percent == pytest.approx(odi_percent(answers).odi_percent)
    assert v.red_flags == ["saddle_anesthesia", "urinary_retention"]
    assert registry.list_visits(patient.id) == [v]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"level": "L6-S1", "morphology": "extrusion"}, "findings.level"),
        ({"level": "L5-S1", "morphology": "herniated"}, "findings.morphology"),
        (
            {"level": "L5-S1", "morphology": "sequestration", "containment": "contained"},
            "findings.containment",
        ),
        ({"level": "L5-S1", "morphology": "extrusion", "msu": "4-A"}, "findings.msu"),
        ({"level": "L5-S1", "morphology": "extrusion", "pfirrmann": 6}, "findings.pfirrmann"),
        (
            {"level": "L5-S1", "morphology": "extrusion", "canal_compromise_percent": 120},
            "findings.canal_compromise_percent",
        ),
    ],
)
def test_invalid_findings_are_rejected_through_the_domain_scales(
    registry, clinician, patient, data, field
):
    mri = registry.add_mri(patient.id, {"date": "2026-02-03", "volume_mm3": 900}, actor=clinician)
    with pytest.raises(InvalidInputError) as err:
        registry.add_findings(patient.id, data, mri_id=mri.id, actor=clinician)
    assert err.value.field == field
    assert registry.list_findings(patient.id) == []


def test_findings_are_stored_as_enum_values(registry, clinician, patient):
    mri = registry.add_mri(patient.id, {"date": "2026-02-03", "volume_mm3": 900}, actor=clinician)
    f = registry.add_findings(
        patient.id,
        {
            "level": "l5_s1",
            "morphology": "Extrusion",
            "containment": "uncontained",
            "pll": "ruptured",
            "zone": "subarticular",
            "komori": 2,
            "msu": "2-ab",
            "rim_enhancement": "complete",
            "iwabuchi": 1,
            "t2_signal": "high",
            "modic": 0,
            "pfirrmann": "III",
            "schizas": "b",
            "canal_compromise_percent": 40,
        },
        mri_id=mri.id,
        actor=clinician,
    )
    assert (f.level, f.morphology, f.msu, f.pfirrmann, f.schizas) == (
        "L5-S1",
        "extrusion",
        "2-AB",
        3,
        "B",
    )
    with pytest.raises(InvalidInputError, match="exactly one of mri_id or visit_id"):
        registry.add_findings(
            patient.id, {"level": "L5-S1", "morphology": "bulge"}, actor=clinician
        )
    with pytest.raises(RecordNotFoundError, match="mri_id"):
        registry.add_findings(
            patient.id,
            {"level": "L5-S1", "morphology": "bulge"},
            mri_id=mri.id + 100,
            actor=clinician,
        )


def test_mri_from_diameters_uses_the_ellipsoid_volume(registry, clinician, patient):
    m = registry.add_mri(
        patient.id,
        {"date": "2026-02-03", "source": "diameters", "diameters_mm": [6.5, 9.0, 11.0]},
        actor=clinician,
    )
    assert m.volume_mm3 == pytest.approx(ellipsoid_volume_mm3(6.5, 9.0, 11.0))
    assert m.volume_mm3 == pytest.approx(math.pi / 6 * 6.5 * 9.0 * 11.0)
    assert m.method == "ellipsoid"
    with pytest.raises(InvalidInputError, match="mri"):
        registry.add_mri(
            patient.id,
            {
                "date": "2026-02-03",
                "source": "diameters",
                "diameters_mm": [6.5, 9.0, 11.0],
                "volume_mm3": 1,
            },
            actor=clinician,
        )
    with pytest.raises(InvalidInputError, match=r"mri\.volume_mm3"):
        registry.add_mri(patient.id, {"date": "2026-02-03", "volume_mm3": -3}, actor=clinician)


def test_timeline_grades_resorption_and_flags_mcid(registry, clinician, patient):
    """Peers: resorb.imaging.compare_volumes for percent/grade against the first MRI of the
    level; resorb.scores.mcid_improvement (Ostelo 2008) against the first visit."""
    for date, leg, answers, joa in [
        ("2026-02-01", 8, [4, 3, 3, 4, 3, 2, 3, 3, 3, 3], 12),
        ("2026-03-15", 7, [4, 3, 3, 3, 3, 2, 3, 3, 3, 3], None),
        ("2026-08-01", 2, [1, 1, 1, 1, 1, 0, 1, 1, 1, 1], 24),
    ]:
        registry.add_visit(
            patient.id,
            {"date": date, "leg_pain_nrs": leg, "odi_answers": answers, "joa_total": joa},
            actor=clinician,
        )
    registry.add_mri(
        patient.id, {"date": "2026-02-03", "volume_mm3": 2000, "level": "L5-S1"}, actor=clinician
    )
    registry.add_mri(
        patient.id, {"date": "2026-08-03", "volume_mm3": 600, "level": "L5-S1"}, actor=clinician
    )
    registry.add_mri(
        patient.id, {"date": "2026-05-03", "volume_mm3": 800, "level": "L4-L5"}, actor=clinician
    )
    t = registry.patient_timeline(patient.id)
    assert [v["date"] for v in t["visits"]] == [
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 15),
        dt.date(2026, 8, 1),
    ]
    assert t["visits"][0]["mcid"] == {}
    leg = t["visits"][1]["mcid"]["leg_pain_nrs"]
    peer = mcid_improvement("nrs", 8, 7)
    assert (leg["improvement"], leg["reached"]) == (peer.improvement, peer.reached) == (1, False)
    last = t["visits"][2]["mcid"]
    assert last["leg_pain_nrs"]["reached"] is True
    # JOA recovery rate (post - pre) / (29 - pre): the worked example 12 -> 24 is 70.6 %.
    assert (
        t["visits"][2]["joa_recovery_rate_percent"]
        == pytest.approx(joa_recovery_rate_percent(12, 24))
        == pytest.approx(70.588, abs=1e-3)
    )
    assert t["visits"][0]["joa_recovery_rate_percent"] is None
    odi0 = odi_percent([4, 3, 3, 4, 3, 2, 3, 3, 3, 3]).odi_percent
    odi2 = odi_percent([1, 1, 1, 1, 1, 0, 1, 1, 1, 1]).odi_percent
    assert last["odi_percent"]["improvement"] == pytest.approx(odi0 - odi2)
    assert last["odi_percent"]["reached"] == mcid_improvement("odi_percent", odi0, odi2).reached
    by_date = {r["date"]: r for r in t["mri"]}
    assert [r["date"] for r in t["mri"]] == sorted(by_date)
    base = by_date[dt.date(2026, 2, 3)]
    assert base["resorption_percent"] is None and base["days_since_baseline"] == 0
    follow = by_date[dt.date(2026, 8, 3)]
    peer_r = compare_volumes(2000, 600, days=181, warn=False)
    assert follow["resorption_percent"] == pytest.approx(peer_r.resorption_percent) == 70.0
    assert follow["grade"] == peer_r.grade.value == "significant"
    assert follow["days_since_baseline"] == 181
    # A different level is its own baseline, not compared with L5-S1.
    assert by_date[dt.date(2026, 5, 3)]["resorption_percent"] is None


def test_case_from_registry_matches_the_case_file(registry, clinician, patient):
    registry.add_visit(
        patient.id,
        {
            "date": "2026-02-01",
            "leg_pain_nrs": 7,
            "back_pain_nrs": 4,
            "odi_answers": [3, 2, None, 4, 1, 0, 2, 3, 1, 2],
            "slr_degrees": 40,
            "motor_mrc": 4,
        },
        actor=clinician,
    )
    registry.add_visit(
        patient.id,
        {"date": "2026-03-01", "leg_pain_nrs": 5, "red_flags": ["saddle_anesthesia"]},
        actor=clinician,
    )
    m0 = registry.add_mri(
        patient.id, {"date": "2026-02-20", "volume_mm3": 1500, "level": "L5-S1"}, actor=clinician
    )
    registry.add_mri(
        patient.id,
        {
            "date": "2026-11-01",
            "source": "diameters",
            "diameters_mm": [6.5, 9.0, 11.0],
            "level": "L5-S1",
        },
        actor=clinician,
    )
    registry.add_findings(
        patient.id,
        {
            "level": "L5-S1",
            "morphology": "extrusion",
            "containment": "uncontained",
            "msu": "2-AB",
            "pfirrmann": 3,
            "canal_compromise_percent": 40,
        },
        mri_id=m0.id,
        actor=clinician,
    )
    registry.add_therapy(
        patient.id, {"name": "nsaid", "start": "2026-02-05", "end": "2026-03-01"}, actor=clinician
    )
    case = registry.case_from_registry(patient.id)
    expected = Case.from_yaml(
        """
patient: {age_years: 45, sex: female}
symptoms:
  onset_date: 2026-01-20
  leg_pain_nrs: 5
  red_flags: [saddle_anesthesia]
herniation: {level: L5-S1, morphology: extrusion, containment: uncontained, msu: 2-AB,
             pfirrmann: 3, canal_compromise_percent: 40}
mri:
  - {date: 2026-02-20, volume_mm3: 1500}
  - {date: 2026-11-01, diameters_mm: [6.5, 9.0, 11.0]}
therapies:
  - {name: nsaid, start: 2026-02-05, end: 2026-03-01}
""",
        today=dt.date(2026, 11, 26),
    )
    assert case == expected
    assert case.herniation.level is SpinalLevel.L5_S1
    assert case.herniation.morphology is HerniationMorphology.EXTRUSION
    assert case.symptoms.red_flags == frozenset({RedFlag.SADDLE_ANESTHESIA})
    first = registry.case_from_registry(patient.id, visit="first")
    assert first.symptoms.odi_answers == (3, 2, None, 4, 1, 0, 2, 3, 1, 2)
    assert first.symptoms.motor_mrc == 4


def test_case_from_registry_needs_findings(registry, clinician, patient):
    with pytest.raises(InvalidInputError, match="herniation"):
        registry.case_from_registry(patient.id)


def test_assessment_is_saved_with_version(registry, clinician, patient):
    from resorb import __version__

    a = registry.save_assessment(
        patient.id, {"resorption": {"probability": 0.6, "interval": [0.4, 0.8]}}, actor=clinician
    )
    assert a.version == __version__
    assert registry.list_assessments(patient.id) == [a]
    assert a.result["resorption"]["interval"] == [0.4, 0.8]


def test_pseudonymised_view_hides_notes_ids_sites_and_shifts_dates(registry, clinician):
    ids = []
    for i in range(6):
        site = "big-centre" if i < 5 else "tiny-clinic"
        p = registry.create_patient(
            {
                "pseudonym": f"R-{i}",
                "birth_year": 1960 + i,
                "sex": "female",
                "site": site,
                "onset_date": "2026-01-01",
            },
            actor=clinician,
        )
        ids.append(p.id)
        registry.add_visit(
            p.id,
            {"date": "2026-01-10", "leg_pain_nrs": 6, "notes": "lives next to the bakery"},
            actor=clinician,
        )
        registry.add_visit(p.id, {"date": "2026-04-10", "leg_pain_nrs": 3}, actor=clinician)
        registry.add_mri(p.id, {"date": "2026-01-12", "volume_mm3": 1000}, actor=clinician)
        registry.add_therapy(p.id, {"name": "nsaid", "start": "2026-01-11"}, actor=clinician)
    view = registry.pseudonymised_view(actor=clinician)
    text = repr(view)
    assert "bakery" not in text and "notes" not in text
    assert "'id'" not in text and "patient_id" not in text
    assert {r["site"] for r in view} == {"big-centre", None}
    assert view[5]["site"] is None
    offsets = set()
    for rec in view:
        v0, v1 = rec["visits"]
        shift = v0["date"] - dt.date(2026, 1, 10)
        assert shift != dt.timedelta(0)
        assert v1["date"] - v0["date"] == dt.timedelta(days=90)
        assert rec["mri"][0]["date"] - dt.date(2026, 1, 12) == shift
        assert rec["onset_date"] - dt.date(2026, 1, 1) == shift
        assert rec["therapies"][0]["start"] - dt.date(2026, 1, 11) == shift
        offsets.add(shift)
    assert len(offsets) > 1  # per patient, not one global shift
    # The same offsets on a second call: the shift is stored, not redrawn.
    again = registry.pseudonymised_view(actor=clinician)
    assert [r["visits"][0]["date"] for r in again] == [r["visits"][0]["date"] for r in view]


def test_update_and_delete_patient(registry, clinician, patient):
    upd = registry.update_patient(patient.id, {"site": "east"}, actor=clinician)
    assert upd.site == "east" and upd.birth_year == 1981
    with pytest.raises(InvalidInputError, match=r"patient\.pseudonym"):
        registry.update_patient(patient.id, {"pseudonym": "other"}, actor=clinician)
    v = registry.add_visit(patient.id, {"date": "2026-02-01"}, actor=clinician)
    registry.add_findings(
        patient.id, {"level": "L4-L5", "morphology": "protrusion"}, visit_id=v.id, actor=clinician
    )
    registry.delete_patient(patient.id, actor=clinician)
    with pytest.raises(RecordNotFoundError):
        registry.get_patient(patient.id)
    deleted = {(a["table"], a["action"]) for a in registry.audit_log() if a["action"] == "delete"}
    assert {("patients", "delete"), ("visits", "delete"), ("findings", "delete")} <= deleted


def test_therapies_are_catalogue_ids(registry, clinician, patient):
    """Peer: resorb.therapy.get_therapy resolves names and aliases to catalogue ids."""
    from resorb.therapy import get_therapy

    t = registry.add_therapy(patient.id, {"name": "NSAIDs", "start": "2026-02-01"}, actor=clinician)
    assert t.name == get_therapy("NSAIDs").id == "nsaid"
    with pytest.raises(InvalidInputError) as err:
        registry.add_therapy(patient.id, {"name": "snake oil"}, actor=clinician)
    assert err.value.field == "therapy.name" and "nsaid" in err.value.allowed


def test_red_flags_from_earlier_visits_stay_in_the_case(registry, clinician, patient):
    """A red flag ticked at one visit and not re-entered at the next is still in the
    case (and so in triage) within RED_FLAG_CARRY_DAYS of the assessed visit."""
    from resorb.registry import RED_FLAG_CARRY_DAYS

    v0 = registry.add_visit(
        patient.id, {"date": "2026-01-05", "red_flags": ["fecal_incontinence"]}, actor=clinician
    )
    registry.add_findings(
        patient.id, {"level": "L4-L5", "morphology": "extrusion"}, visit_id=v0.id, actor=clinician
    )
    registry.add_visit(
        patient.id, {"date": "2026-03-01", "red_flags": ["saddle_anesthesia"]}, actor=clinician
    )
    registry.add_visit(patient.id, {"date": "2026-03-29", "leg_pain_nrs": 4}, actor=clinician)
    assert RED_FLAG_CARRY_DAYS == 90
    case = registry.case_from_registry(patient.id)
    # 2026-01-05 is 83 days before 2026-03-29: inside the window.
    assert case.symptoms.red_flags == frozenset(
        {RedFlag.SADDLE_ANESTHESIA, RedFlag.FECAL_INCONTINENCE}
    )
    assert case.symptoms.leg_pain_nrs == 4
    from resorb.prognosis import triage_case

    assert triage_case(case).urgent_referral
    # A visit more than 90 days after the flagged ones: they have left the window.
    registry.add_visit(patient.id, {"date": "2026-06-15", "leg_pain_nrs": 2}, actor=clinician)
    assert registry.case_from_registry(patient.id).symptoms.red_flags == frozenset()
    # The first visit sees only itself, never later visits.
    first = registry.case_from_registry(patient.id, visit="first")
    assert first.symptoms.red_flags == frozenset({RedFlag.FECAL_INCONTINENCE})


def test_resorption_between_is_compare_volumes():
    """The registry grades with resorb.imaging.compare_volumes (no private copy of the
    thresholds): same percent, grade, MDC flag."""
    for v0, v1 in [
        (1500.0, 600.0),
        (1500.0, 1100.0),
        (1500.0, 1450.0),
        (1500.0, 2000.0),
        (1500.0, 0.0),
        (4000.0, 1900.0),
    ]:
        got = registry_resorption(v0, v1, days=120)
        ref = compare_volumes(v0, v1, days=120, warn=False)
        assert got["resorption_percent"] == pytest.approx(ref.resorption_percent)
        assert got["grade"] == ref.grade.value
        assert got["within_mdc"] is bool(ref.within_mdc)
        assert got["mdc_mm3"] == pytest.approx(ref.mdc_mm3)
    assert registry_resorption(0.0, 10.0)["grade"] is None


def test_future_dates_and_birth_years_are_refused(registry, clinician, patient):
    """Every date entering the registry is checked as case files are (issue 2)."""
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    next_year = dt.date.today().year + 1
    cases = [
        (registry.update_patient, {"birth_year": next_year}, "birth_year"),
        (registry.update_patient, {"onset_date": tomorrow}, "onset_date"),
        (registry.add_visit, {"date": tomorrow}, "date"),
        (registry.add_mri, {"date": tomorrow, "volume_mm3": 900}, "date"),
        (registry.add_therapy, {"name": "nsaid", "start": tomorrow}, "start"),
    ]
    for method, data, field in cases:
        with pytest.raises(InvalidInputError, match="is in the future") as err:
            method(patient.id, data, actor=clinician)
        assert err.value.field.endswith(field), err.value.field
    with pytest.raises(InvalidInputError, match="is in the future") as err:
        registry.create_patient(
            {"pseudonym": "X-9", "birth_year": 1970, "sex": "male", "onset_date": tomorrow},
            actor=clinician,
        )
    assert err.value.field == "patient.onset_date"
    # Today itself is allowed; a therapy may end in the future (planned course).
    registry.add_visit(patient.id, {"date": dt.date.today()}, actor=clinician)
    registry.add_therapy(
        patient.id, {"name": "nsaid", "start": dt.date.today(), "end": tomorrow}, actor=clinician
    )
    assert registry.get_patient(patient.id).birth_year == 1981
