"""FHIR R4B export: resources validated by fhir.resources and round-tripped through JSON."""

from __future__ import annotations

import datetime as dt
import json

import fhir.resources.bundle
import fhir.resources.diagnosticreport
import fhir.resources.observation
import fhir.resources.R4B.bundle
import fhir.resources.R4B.diagnosticreport
import fhir.resources.R4B.observation
import pytest
from pydicom.sr.codedict import codes

from resorb.errors import InvalidInputError
from resorb.interop.fhir import (
    RESORB_CODE_SYSTEM,
    UCUM,
    assessment_observation,
    diagnostic_report,
    odi_observation,
    registry_bundle,
    resorption_observation,
    volume_observation,
)
from resorb.registry import Registry

ISSUED = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

#: The fhir.resources classes of each release the export can write.
CLASSES = {
    "R4B": {
        "Observation": fhir.resources.R4B.observation.Observation,
        "DiagnosticReport": fhir.resources.R4B.diagnosticreport.DiagnosticReport,
        "Bundle": fhir.resources.R4B.bundle.Bundle,
    },
    "R5": {
        "Observation": fhir.resources.observation.Observation,
        "DiagnosticReport": fhir.resources.diagnosticreport.DiagnosticReport,
        "Bundle": fhir.resources.bundle.Bundle,
    },
}


@pytest.fixture(params=["R4B", "R5"])
def release(request) -> str:
    return request.param


def test_installed_fhir_resources_releases():
    """fhir.resources 8.x: the top-level package is R5 (5.0.0); R4B is a sub-package."""
    import fhir.resources

    assert fhir.resources.__fhir_version__ == "5.0.0"
    assert fhir.resources.R4B.__fhir_version__ == "4.3.0"


def _round_trip(resource, cls):
    text = resource.model_dump_json(exclude_none=True)
    back = cls.model_validate_json(text)
    assert back == resource
    assert json.loads(back.model_dump_json(exclude_none=True)) == json.loads(text)
    return json.loads(text)


def test_volume_observation_has_ucum_mm3_snomed_volume_and_disc_site(release):
    obs = volume_observation(
        1523.5,
        date=dt.date(2026, 2, 20),
        subject="Patient/7",
        level="L5-S1",
        method="voxel_count",
        study_uid="1.2.3.4",
        fhir_version=release,
    )
    assert isinstance(obs, CLASSES[release]["Observation"])
    data = _round_trip(obs, CLASSES[release]["Observation"])
    assert data["valueQuantity"] == {"value": 1523.5, "unit": "mm3", "system": UCUM, "code": "mm3"}
    sct = data["code"]["coding"][0]
    assert (
        (sct["code"], sct["display"])
        == (codes.SCT.Volume.value, "Volume")
        == ("118565006", "Volume")
    )
    assert data["bodySite"]["coding"][0]["code"] == codes.SCT.L5S1Disc.value == "715056000"
    assert data["derivedFrom"][0]["identifier"]["value"] == "urn:oid:1.2.3.4"
    assert data["effectiveDateTime"] == "2026-02-20"
    assert data["category"][0]["coding"][0]["code"] == "imaging"


def test_resorption_and_odi_observations(release):
    Observation = CLASSES[release]["Observation"]
    r = resorption_observation(
        65.9,
        grade="significant",
        date="2026-08-01",
        subject="Patient/7",
        baseline_ref="Observation/a",
        followup_ref="Observation/b",
        level="L4-L5",
        fhir_version=release,
    )
    data = _round_trip(r, Observation)
    assert data["valueQuantity"]["code"] == "%" and data["valueQuantity"]["value"] == 65.9
    assert [d["reference"] for d in data["derivedFrom"]] == ["Observation/a", "Observation/b"]
    assert data["interpretation"][0]["text"] == "significant"
    assert data["code"]["coding"][0]["system"] == RESORB_CODE_SYSTEM
    o = odi_observation(
        40.0, date="2026-02-01", subject="Patient/7", answered=9, fhir_version=release
    )
    data = _round_trip(o, Observation)
    assert data["valueQuantity"]["code"] == "%" and data["note"][0]["text"].startswith("9 of 10")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: volume_observation(-1, date="2026-01-01", subject="Patient/1"), "volume_mm3"),
        (
            lambda: volume_observation(5, date="2026-01-01", subject="Patient/1", level="L6"),
            "level",
        ),
        (lambda: odi_observation(101, date="2026-01-01", subject="Patient/1"), "odi_percent"),
        (
            lambda: diagnostic_report([], subject="Patient/1", issued=dt.datetime(2026, 1, 1)),
            "issued",
        ),
        (
            lambda: volume_observation(
                5, date="2026-01-01", subject="Patient/1", fhir_version="R4"
            ),
            "fhir_version",
        ),
        (
            lambda: assessment_observation(
                {"resorption": {"probability": 1.2}}, date="2026-01-01", subject="Patient/1"
            ),
            "result.resorption.probability",
        ),
    ],
)
def test_invalid_values_are_rejected(call, field):
    with pytest.raises(InvalidInputError) as err:
        call()
    assert err.value.field == field


def test_diagnostic_report_round_trips(release):
    rep = diagnostic_report(
        ["Observation/a"],
        subject="Patient/7",
        issued=ISSUED,
        conclusion="x",
        effective="2026-02-20",
        fhir_version=release,
    )
    data = _round_trip(rep, CLASSES[release]["DiagnosticReport"])
    assert data["category"][0]["coding"][0]["code"] == "RAD"
    assert data["result"] == [{"reference": "Observation/a"}]


def test_registry_bundle_links_every_result(tmp_path, release):
    reg = Registry(f"sqlite:///{tmp_path / 'f.db'}")
    reg.upgrade()
    p = reg.create_patient(
        {"pseudonym": "F-1", "birth_year": 1980, "sex": "female", "site": "north"}, actor="t"
    )
    reg.add_visit(
        p.id,
        {
            "date": "2026-01-10",
            "odi_answers": [3, 2, None, 4, 1, 0, 2, 3, 1, 2],
            "notes": "private remark",
        },
        actor="t",
    )
    reg.add_mri(p.id, {"date": "2026-01-12", "volume_mm3": 1500, "level": "L5-S1"}, actor="t")
    reg.add_mri(p.id, {"date": "2026-07-12", "volume_mm3": 500, "level": "L5-S1"}, actor="t")
    reg.save_assessment(
        p.id,
        {
            "resorption": {
                "probability": 0.62,
                "interval": [0.41, 0.79],
                "horizon_months": 12,
                "definition": "volume reduction >= 50 %",
                "factors": [
                    {"name": "sequestration", "effect": 1.0, "source": {"pmid": "37559207"}}
                ],
            }
        },
        actor="t",
    )
    bundle = registry_bundle(reg, p.id, issued=ISSUED, fhir_version=release)
    reg.close()
    data = _round_trip(bundle, CLASSES[release]["Bundle"])
    text = json.dumps(data)
    assert "private remark" not in text and "north" not in text
    by_url = {e["fullUrl"]: e["resource"] for e in data["entry"]}
    kinds = [r["resourceType"] for r in by_url.values()]
    assert kinds.count("Observation") == 5 and kinds.count("DiagnosticReport") == 1
    report = next(r for r in by_url.values() if r["resourceType"] == "DiagnosticReport")
    assert all(ref["reference"] in by_url for ref in report["result"])
    assert len(report["result"]) == 5
    prob = next(
        r
        for r in by_url.values()
        if r["resourceType"] == "Observation"
        and r["code"]["coding"][0]["code"] == "resorption-probability"
    )
    assert prob["valueQuantity"] == {"value": 0.62, "unit": "1", "system": UCUM, "code": "1"}
    assert [c["valueQuantity"]["value"] for c in prob["component"]] == [0.41, 0.79]
    assert prob["method"]["text"] == "volume reduction >= 50 % within 12 months"
    assert "pmid 37559207" in prob["note"][1]["text"]
    assert "0.62" in report["conclusion"] and "not a medical device" in report["conclusion"]
    resorption = next(
        r
        for r in by_url.values()
        if r["resourceType"] == "Observation"
        and r["code"]["coding"][0]["code"] == "resorption-percent"
    )
    assert resorption["valueQuantity"]["value"] == pytest.approx(100 * (1500 - 500) / 1500)
    volumes = [by_url[d["reference"]]["valueQuantity"]["value"] for d in resorption["derivedFrom"]]
    assert volumes == [1500.0, 500.0]
    patient = next(r for r in by_url.values() if r["resourceType"] == "Patient")
    assert patient["birthDate"] == "1980" and patient["identifier"][0]["value"] == "F-1"


def test_cauda_equina_assessment_exports_no_probability_and_says_why(tmp_path, release):
    """A stored assessment withheld beside an emergency referral: the bundle carries no
    resorption-probability Observation and the report's conclusion gives the referral."""
    reg = Registry(f"sqlite:///{tmp_path / 'ces.db'}")
    reg.upgrade()
    p = reg.create_patient({"pseudonym": "CES-1", "birth_year": 1974, "sex": "male"}, actor="t")
    reg.add_mri(p.id, {"date": "2026-01-12", "volume_mm3": 1500, "level": "L4-L5"}, actor="t")
    reg.save_assessment(
        p.id,
        {
            "resorption": {
                "probability": 0.97,
                "interval": [0.9, 0.99],
                "horizon_months": 12,
                "withheld": True,
            },
            "triage": {
                "urgent_referral": True,
                "level": "emergency",
                "action": "Emergency: suspected cauda equina syndrome.",
            },
        },
        actor="t",
    )
    bundle = registry_bundle(reg, p.id, issued=ISSUED, fhir_version=release)
    reg.close()
    data = _round_trip(bundle, CLASSES[release]["Bundle"])
    resources = [e["resource"] for e in data["entry"]]
    codes = [
        r["code"]["coding"][0]["code"] for r in resources if r["resourceType"] == "Observation"
    ]
    assert "resorption-probability" not in codes
    report = next(r for r in resources if r["resourceType"] == "DiagnosticReport")
    assert "withheld" in report["conclusion"] and "cauda equina" in report["conclusion"]
    assert "0.97" not in json.dumps(data)
