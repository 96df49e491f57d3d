"""FHIR a server accepts: the official FHIR JSON schema, narratives, resorb's CodeSystem,
standard interpretation codes, effective[x], and one identity per bundle.

Recipe for the schema check (by hand the same way): the official ``fhir.schema.json``
of FHIR R4 (4.0, ``tests/data/fhir/fhir.schema.r4.json.gz``; see tests/data/README.md
for its source and licence) validates each resource with ``jsonschema``'s Draft 6
validator against ``#/definitions/<resourceType>``, and the whole Bundle against
``#/definitions/Bundle``. The R4B (4.3.0) export is checked against the R4 schema:
no R4B schema file was available, and R4B keeps R4's Observation, DiagnosticReport,
Patient, CodeSystem and Bundle elements, so an R4 server must accept it. fhir.resources
(R4B and R5 models) validates the same resources as well.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from functools import lru_cache
from pathlib import Path

import pytest
from dicom_factory import make_mr_series, make_seg

from resorb.interop.fhir import RESORB_CODE_SYSTEM, registry_bundle
from resorb.registry import Registry
from resorb.registry._dicom import import_dicom

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "fhir" / "fhir.schema.r4.json.gz"
ISSUED = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@lru_cache(maxsize=1)
def _schema() -> dict:
    return json.loads(gzip.decompress(SCHEMA.read_bytes()))


def schema_errors(resource: dict, definition: str | None = None) -> list[str]:
    import jsonschema

    full = _schema()
    name = definition or resource["resourceType"]
    validator = jsonschema.Draft6Validator(
        {"$ref": f"#/definitions/{name}", "definitions": full["definitions"]}
    )
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(resource)
    ]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A patient with a DICOM-imported baseline, a typed follow-up volume, a visit with an
    ODI and an assessment."""
    d = tmp_path_factory.mktemp("fhir")
    reg = Registry(f"sqlite:///{d / 'r.db'}")
    reg.upgrade()
    p = reg.create_patient({"pseudonym": "FH-1", "birth_year": 1975, "sex": "female"}, actor="t")
    series = make_mr_series(d / "clinic" / "mr", study_date=dt.date(2026, 1, 12), markers=False)
    make_seg(series, d / "clinic" / "seg.dcm", markers=False)
    import_dicom(reg, d / "clinic", patient_id=p.id, level="L5-S1", label=1, actor="t")
    reg.add_mri(p.id, {"date": "2026-07-12", "volume_mm3": 5.0, "level": "L5-S1"}, actor="t")
    reg.add_visit(
        p.id, {"date": "2026-01-10", "odi_answers": [3, 2, None, 4, 1, 0, 2, 3, 1, 2]}, actor="t"
    )
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
    yield reg, p.id
    reg.close()


def _bundle(registry, identity: str, release: str = "R4B") -> dict:
    reg, pid = registry
    bundle = registry_bundle(reg, pid, issued=ISSUED, identity=identity, fhir_version=release)
    return json.loads(bundle.model_dump_json(exclude_none=True))


def _resources(data: dict) -> list[dict]:
    return [e["resource"] for e in data["entry"]]


def _volumes(resources: list[dict]) -> list[dict]:
    return [
        r
        for r in resources
        if r["resourceType"] == "Observation"
        and any(c["code"] == "herniation-volume" for c in r["code"]["coding"])
    ]


def test_the_schema_check_catches_an_invalid_resource():
    """Negative control: the schema check is not vacuous."""
    bad = {"resourceType": "Observation", "status": "done", "code": {"text": "x"}}
    assert any("status" in e for e in schema_errors(bad))
    assert (
        schema_errors({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
        == []
    )


@pytest.mark.parametrize("identity", ["clinical", "deidentified"])
def test_registry_bundle_passes_the_official_fhir_json_schema(registry, identity):
    data = _bundle(registry, identity)
    assert schema_errors(data, "Bundle") == []
    for resource in _resources(data):
        assert schema_errors(resource) == [], resource["resourceType"]


@pytest.mark.parametrize("release", ["R4B", "R5"])
def test_every_resource_has_a_generated_narrative(registry, release):
    """dom-6: a resource should have a narrative; the review found none."""
    for resource in _resources(_bundle(registry, "clinical", release)):
        div = resource["text"]["div"]
        assert resource["text"]["status"] == "generated"
        assert div.startswith('<div xmlns="http://www.w3.org/1999/xhtml">') and len(div) > 60


def test_every_local_code_resolves_in_the_bundles_code_system(registry):
    resources = _resources(_bundle(registry, "clinical"))
    systems = [r for r in resources if r["resourceType"] == "CodeSystem"]
    assert len(systems) == 1 and systems[0]["url"] == RESORB_CODE_SYSTEM
    defined = {c["code"]: c["display"] for c in systems[0]["concept"]}
    used = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("system") == RESORB_CODE_SYSTEM and "code" in x:
                used.append((x["code"], x.get("display")))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for r in resources:
        if r["resourceType"] != "CodeSystem":
            walk(r)
    assert used and all(defined.get(code) == display for code, display in used)


def test_interpretation_uses_hl7_codes_not_a_local_one(registry):
    resources = _resources(_bundle(registry, "clinical"))
    resorption = [
        r
        for r in resources
        if r["resourceType"] == "Observation"
        and r["code"]["coding"][0]["code"] == "resorption-percent"
    ]
    assert len(resorption) == 1
    (interp,) = resorption[0]["interpretation"]
    assert interp["text"] == "complete" or interp["coding"][0]["system"] == V3_INTERPRETATION
    assert all(c["system"] == V3_INTERPRETATION for c in interp.get("coding", []))
    assert interp["coding"][0]["code"] == "B"  # 15 mm3 -> 5 mm3: better


def test_diagnostic_report_has_its_effective_period(registry):
    resources = _resources(_bundle(registry, "clinical"))
    (report,) = [r for r in resources if r["resourceType"] == "DiagnosticReport"]
    assert report["effectivePeriod"]["start"] == "2026-01-10"
    assert report["effectivePeriod"]["end"] >= "2026-07-12"


def test_clinical_bundle_has_clinic_dates_and_no_deidentified_uids(registry):
    """The review found derivedFrom naming de-identified UIDs beside real dates."""
    data = _bundle(registry, "clinical")
    text = json.dumps(data)
    assert "urn:oid:" not in text and 'derivedFrom": [{"type": "ImagingStudy' not in text
    volumes = _volumes(_resources(data))
    assert sorted(v["effectiveDateTime"] for v in volumes) == ["2026-01-12", "2026-07-12"]
    patient = next(r for r in _resources(data) if r["resourceType"] == "Patient")
    assert patient["birthDate"] == "1975"


def test_deidentified_bundle_shifts_every_date_and_names_the_deidentified_study(registry):
    reg, pid = registry
    offset = dt.timedelta(days=reg.date_offset_days(pid, actor="t"))
    data = _bundle(registry, "deidentified")
    resources = _resources(data)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    assert "birthDate" not in patient
    volumes = _volumes(resources)
    dates = sorted(v["effectiveDateTime"] for v in volumes)
    assert dates == sorted(
        str(dt.date.fromisoformat(d) + offset) for d in ("2026-01-12", "2026-07-12")
    )
    stored_uid = reg.patient_timeline(pid)["mri"][0]["series_info"]["StudyInstanceUID"]
    derived = [d["identifier"]["value"] for v in volumes for d in v.get("derivedFrom", [])]
    assert derived == [f"urn:oid:{stored_uid}"]
    assert "2026-01-12" not in json.dumps(data) and "1975" not in json.dumps(data)
