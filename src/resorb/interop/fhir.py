"""FHIR export of herniation measurements, resorption, ODI and assessments.

FHIR version: **R4B** (4.3.0) by default, through ``fhir.resources.R4B``; pass
``fhir_version="R5"`` for FHIR 5.0.0 (``fhir.resources``' own default). The
installed fhir.resources 8.3 ships no plain R4 package; R4B is the
R4-compatible release (the Observation, DiagnosticReport, Patient and Bundle
elements used here are the same as in R4), so servers that speak R4 accept
these resources. Every resource is built as a fhir.resources model of the
chosen release, which validates it.

Conventions follow the HL7 "DICOM SR to FHIR Resource Mapping" IG for imaging
measurements: ``Observation.code`` is the measured concept, ``valueQuantity``
in UCUM (``mm3``, ``%``), ``bodySite`` the disc level, ``derivedFrom`` the
imaging study (by its Study Instance UID) or, for resorption, the two volume
Observations; a ``DiagnosticReport`` (category RAD) lists them in ``result``.

Codes: SNOMED CT *Volume* (118565006) and the disc-level codes are read from
pydicom's copy of the DICOM code tables (PS3.16), not typed in here. Concepts
without a code found in a checked source (herniated-fragment volume as such,
resorption percent, ODI total) carry a project-local code in
:data:`RESORB_CODE_SYSTEM` plus text, never a guessed LOINC or SNOMED code; the
bundle carries that code system as a ``CodeSystem`` resource. The resorption
grade is an HL7 ObservationInterpretation code (B better, W worse) with the
grade as text. Every resource has a generated narrative (``text``, dom-6).

Identity: a bundle is either **clinical** (the clinic's dates, the registry
pseudonym and birth year; no DICOM UIDs, since those the registry stores are
of the de-identified objects) or **de-identified** (every date shifted by the
patient's secret offset, no birth year, ``derivedFrom`` naming the
de-identified imaging studies by their UIDs): never a mix of the two.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from resorb.errors import InvalidInputError, require_extra
from resorb.interop._fhir_codes import (
    RESORB_CODE_SYSTEM,
    code_system,
    grade_interpretation,
    local,
    narrative,
)

__all__ = [
    "FHIR_VERSION",
    "FHIR_VERSIONS",
    "IDENTITIES",
    "RESORB_CODE_SYSTEM",
    "UCUM",
    "assessment_observation",
    "code_system",
    "diagnostic_report",
    "odi_observation",
    "registry_bundle",
    "resorption_observation",
    "volume_observation",
]

#: The FHIR release made by default (``fhir_version="R4B"``).
FHIR_VERSION = "4.3.0 (R4B)"
#: Releases that can be requested: R4B (default, R4-compatible) or R5 (5.0.0).
FHIR_VERSIONS = ("R4B", "R5")
#: What a registry bundle identifies the patient and studies by (see the module notes).
IDENTITIES = ("clinical", "deidentified")
UCUM = "http://unitsofmeasure.org"
_SCT = "http://snomed.info/sct"
_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"

_LEVEL_CODE_NAMES = {
    "L1-L2": "L1L2Disc",
    "L2-L3": "L2L3Disc",
    "L3-L4": "L3L4Disc",
    "L4-L5": "L4L5Disc",
    "L5-S1": "L5S1Disc",
}


def _model(name: str, version: str):
    """The fhir.resources class ``name`` of FHIR ``version`` ("R4B" or "R5")."""
    require_extra("fhir.resources", "web")
    import importlib

    if version not in FHIR_VERSIONS:
        raise InvalidInputError("fhir_version", f"{version!r}", allowed=", ".join(FHIR_VERSIONS))
    package = "fhir.resources.R4B" if version == "R4B" else "fhir.resources"
    module = importlib.import_module(f"{package}.{name.lower()}")
    return getattr(module, name)


def _build(name: str, data: dict[str, Any], version: str):
    return _model(name, version).model_validate({k: v for k, v in data.items() if v is not None})


def _sct(name: str) -> dict[str, str]:
    from pydicom.sr.codedict import codes

    c = getattr(codes.SCT, name)
    return {"system": _SCT, "code": str(c.value), "display": str(c.meaning)}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": float(value), "unit": unit, "system": UCUM, "code": unit}


def _date(value: dt.date | str) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _level(level: str | None) -> dict[str, Any] | None:
    if level is None:
        return None
    from resorb.domain import SpinalLevel, parse_enum

    value = parse_enum(SpinalLevel, level, field="level").value
    return {"coding": [_sct(_LEVEL_CODE_NAMES[value])], "text": f"{value} intervertebral disc"}


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": _OBS_CATEGORY, "code": code, "display": display}]}]


def volume_observation(
    volume_mm3: float,
    *,
    date: dt.date | str,
    subject: str,
    level: str | None = None,
    method: str | None = None,
    study_uid: str | None = None,
    resource_id: str | None = None,
    fhir_version: str = "R4B",
):
    """Observation of a herniation volume (mm3).

    Parameters
    ----------
    volume_mm3 : float
        Volume in mm3 (>= 0).
    date : date or str, keyword-only
        Date of the MRI (``effectiveDateTime``).
    subject : str, keyword-only
        Reference to the patient (``"Patient/123"`` or ``"urn:uuid:..."``).
    level : str, keyword-only, optional
        Disc level (``"L5-S1"``) -> ``bodySite`` (SNOMED CT disc codes).
    method : str, keyword-only, optional
        ``voxel_count``, ``ellipsoid``, ``cavalieri`` or ``reported``.
    study_uid : str, keyword-only, optional
        DICOM Study Instance UID -> ``derivedFrom`` ImagingStudy identifier.

    Returns
    -------
    fhir.resources.R4B.observation.Observation
    """
    if not (isinstance(volume_mm3, int | float) and volume_mm3 >= 0):
        raise InvalidInputError("volume_mm3", f"{volume_mm3!r}", allowed="a volume >= 0 mm3")
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": _category("imaging", "Imaging"),
        "text": narrative(
            f"Herniated disc material volume {float(volume_mm3):.1f} mm3"
            + (f" at {level}" if level else "")
            + f" on the MRI of {_date(date)}"
            + (f" ({method})" if method else "")
        ),
        "code": {
            "coding": [_sct("Volume"), local("herniation-volume")],
            "text": "Herniated disc material volume",
        },
        "subject": {"reference": subject},
        "effectiveDateTime": _date(date),
        "valueQuantity": _quantity(volume_mm3, "mm3"),
    }
    if level is not None:
        data["bodySite"] = _level(level)
    if method:
        data["method"] = {"text": method}
    if study_uid:
        data["derivedFrom"] = [
            {
                "type": "ImagingStudy",
                "identifier": {"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"},
            }
        ]
    return _build("Observation", data, fhir_version)


def resorption_observation(
    resorption_percent: float,
    *,
    grade: str | None,
    date: dt.date | str,
    subject: str,
    baseline_ref: str,
    followup_ref: str,
    level: str | None = None,
    resource_id: str | None = None,
    fhir_version: str = "R4B",
):
    """Observation of resorption percent between two volume Observations.

    ``derivedFrom`` names both; ``interpretation`` carries the grade (complete,
    significant, partial, unchanged, enlarged) as text with the HL7
    ObservationInterpretation code B (better) or W (worse) where one applies.
    """
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": _category("imaging", "Imaging"),
        "text": narrative(
            f"Herniation resorption {float(resorption_percent):.1f} % against "
            f"the baseline MRI, on the MRI of {_date(date)}"
            + (f" (grade: {grade})" if grade else "")
        ),
        "code": {
            "coding": [local("resorption-percent")],
            "text": "Herniation resorption percent against the baseline MRI",
        },
        "subject": {"reference": subject},
        "effectiveDateTime": _date(date),
        "valueQuantity": _quantity(resorption_percent, "%"),
        "derivedFrom": [{"reference": baseline_ref}, {"reference": followup_ref}],
    }
    if grade:
        data["interpretation"] = grade_interpretation(grade)
    if level is not None:
        data["bodySite"] = _level(level)
    return _build("Observation", data, fhir_version)


def odi_observation(
    odi_percent: float,
    *,
    date: dt.date | str,
    subject: str,
    answered: int | None = None,
    resource_id: str | None = None,
    fhir_version: str = "R4B",
):
    """Observation of an Oswestry Disability Index total (0-100 %)."""
    if not (isinstance(odi_percent, int | float) and 0 <= odi_percent <= 100):
        raise InvalidInputError("odi_percent", f"{odi_percent!r}", allowed="0-100")
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": _category("survey", "Survey"),
        "text": narrative(
            f"Oswestry Disability Index {float(odi_percent):.0f} % on "
            f"{_date(date)}"
            + (f" ({answered} of 10 sections answered)" if answered is not None else "")
        ),
        "code": {"coding": [local("odi-percent")], "text": "Oswestry Disability Index (percent)"},
        "subject": {"reference": subject},
        "effectiveDateTime": _date(date),
        "valueQuantity": _quantity(odi_percent, "%"),
    }
    if answered is not None:
        data["note"] = [{"text": f"{answered} of 10 sections answered"}]
    return _build("Observation", data, fhir_version)


def assessment_observation(
    result: dict[str, Any],
    *,
    date: dt.date | str,
    subject: str,
    version: str | None = None,
    resource_id: str | None = None,
    fhir_version: str = "R4B",
):
    """Observation of the estimated probability of resorption from an assessment.

    ``result`` is the ``resorb assess --json`` object (keys in docs/cli.md):
    ``resorption.probability`` becomes ``valueQuantity`` (UCUM ``1``),
    ``resorption.interval`` two components (lower and upper bound),
    ``resorption.definition`` and ``horizon_months`` the method text, and the
    cited sources a note. Labelled as decision support.
    """
    res = (result or {}).get("resorption") or {}
    p = res.get("probability")
    if not (isinstance(p, int | float) and 0 <= p <= 1):
        raise InvalidInputError("result.resorption.probability", f"{p!r}", allowed="0-1")
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "text": narrative(
            f"Estimated probability of herniation resorption {float(p):.2f} "
            f"(resorb decision support, not a medical device), {_date(date)}"
        ),
        "code": {
            "coding": [local("resorption-probability")],
            "text": "Estimated probability of herniation resorption",
        },
        "subject": {"reference": subject},
        "effectiveDateTime": _date(date),
        "valueQuantity": {"value": float(p), "unit": "1", "system": UCUM, "code": "1"},
    }
    interval = res.get("interval")
    if isinstance(interval, list | tuple) and len(interval) == 2:
        data["component"] = [
            {
                "code": {"coding": [local(f"interval-{end}")]},
                "valueQuantity": {"value": float(v), "unit": "1", "system": UCUM, "code": "1"},
            }
            for end, v in zip(("lower", "upper"), interval, strict=True)
        ]
    method = " ".join(
        str(x)
        for x in (
            res.get("definition"),
            f"within {res['horizon_months']:g} months" if res.get("horizon_months") else None,
        )
        if x
    )
    if method:
        data["method"] = {"text": method}
    sources = []
    for f in res.get("factors") or []:
        src = f.get("source") or {}
        ids = ", ".join(f"{k} {src[k]}" for k in ("doi", "pmid") if src.get(k))
        if ids:
            sources.append(f"{f.get('name')}: {ids}")
    notes = [f"resorb {version or ''} decision support, not a medical device".replace("  ", " ")]
    if sources:
        notes.append("Sources: " + "; ".join(sources))
    data["note"] = [{"text": n} for n in notes]
    return _build("Observation", data, fhir_version)


def diagnostic_report(
    results: list[str],
    *,
    subject: str,
    issued: dt.datetime,
    conclusion: str | None = None,
    effective: dt.date | str | None = None,
    effective_end: dt.date | str | None = None,
    resource_id: str | None = None,
    fhir_version: str = "R4B",
):
    """DiagnosticReport (category RAD) listing result Observations by reference.

    ``effective`` (the date the report is about) is required: a date, or with
    ``effective_end`` the period from the first to the last examination.
    """
    if issued.tzinfo is None:
        raise InvalidInputError("issued", "has no time zone", allowed="an aware datetime")
    if effective is None:
        raise InvalidInputError(
            "effective", "is missing", allowed="the date (or first date) the report is about"
        )
    data: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": resource_id,
        "status": "final",
        "category": [{"coding": [{"system": _V2_0074, "code": "RAD", "display": "Radiology"}]}],
        "text": narrative(
            "Lumbar disc herniation resorption follow-up, "
            + (
                f"{_date(effective)} to {_date(effective_end)}"
                if effective_end is not None
                else _date(effective)
            )
            + f": {len(results)} results."
            + (f" {conclusion}" if conclusion else "")
        ),
        "code": {
            "coding": [local("ldh-resorption-followup")],
            "text": "Lumbar disc herniation resorption follow-up",
        },
        "subject": {"reference": subject},
        "issued": issued.isoformat(),
        "result": [{"reference": r} for r in results],
        "conclusion": conclusion,
    }
    if effective_end is not None:
        data["effectivePeriod"] = {"start": _date(effective), "end": _date(effective_end)}
    else:
        data["effectiveDateTime"] = _date(effective)
    return _build("DiagnosticReport", data, fhir_version)


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def registry_bundle(
    registry,
    patient_id: int,
    *,
    issued: dt.datetime | None = None,
    fhir_version: str = "R4B",
    identity: str = "clinical",
    actor: str = "resorb",
):
    """A FHIR ``Bundle`` (type collection) of one registry patient's follow-up.

    Holds resorb's ``CodeSystem``, a Patient (pseudonym as identifier; birth
    year in a clinical bundle only), one volume Observation per MRI with a
    volume, one resorption Observation per follow-up MRI, one ODI Observation
    per visit with an ODI, the most recent stored assessment's resorption
    probability (if any), and a DiagnosticReport whose ``result`` lists them,
    ``effective[x]`` the period of the examinations and ``conclusion`` that
    estimate.

    ``identity`` (``clinical`` or ``deidentified``, see the module notes)
    decides the dates and references; ``actor`` is recorded when a
    de-identified export draws the patient's date offset for the first time.
    """
    if identity not in IDENTITIES:
        raise InvalidInputError("identity", f"{identity!r}", allowed=", ".join(IDENTITIES))
    from resorb import __version__

    issued = issued or dt.datetime.now(dt.UTC)
    deid = identity == "deidentified"
    shift = dt.timedelta(days=registry.date_offset_days(patient_id, actor=actor) if deid else 0)

    def day(value) -> dt.date:
        d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
        return d + shift

    t = registry.patient_timeline(patient_id)
    p = t["patient"]
    patient_urn = _urn()
    gender = {"female": "female", "male": "male", "other": "other"}[p["sex"]]
    patient = {
        "resourceType": "Patient",
        "text": narrative(
            f"Registry patient {p['pseudonym']} ({gender}"
            + ("" if deid else f", born {p['birth_year']}")
            + ")"
        ),
        "identifier": [{"system": "urn:resorb:pseudonym", "value": p["pseudonym"]}],
        "gender": gender,
    }
    if not deid:
        patient["birthDate"] = str(p["birth_year"])
    entries = [
        (
            _urn(),
            _model("CodeSystem", fhir_version).model_validate(
                {k: v for k, v in code_system(__version__).items() if v is not None}
            ),
        ),
        (patient_urn, _model("Patient", fhir_version).model_validate(patient)),
    ]
    obs_refs: list[str] = []
    dates: list[dt.date] = []
    first_by_level: dict[str | None, str] = {}
    for r in t["mri"]:
        if r["volume_mm3"] is None:
            continue
        urn = _urn()
        info = r.get("series_info") or {}
        dates.append(day(r["date"]))
        entries.append(
            (
                urn,
                volume_observation(
                    r["volume_mm3"],
                    date=day(r["date"]),
                    subject=patient_urn,
                    level=r["level"],
                    method=r["method"],
                    study_uid=info.get("StudyInstanceUID") if deid else None,
                    fhir_version=fhir_version,
                ),
            )
        )
        obs_refs.append(urn)
        base = first_by_level.setdefault(r["level"], urn)
        if base != urn and r["resorption_percent"] is not None:
            rurn = _urn()
            entries.append(
                (
                    rurn,
                    resorption_observation(
                        r["resorption_percent"],
                        grade=r["grade"],
                        date=day(r["date"]),
                        subject=patient_urn,
                        baseline_ref=base,
                        followup_ref=urn,
                        level=r["level"],
                        fhir_version=fhir_version,
                    ),
                )
            )
            obs_refs.append(rurn)
    for v in t["visits"]:
        if v["odi_percent"] is None:
            continue
        urn = _urn()
        answered = sum(a is not None for a in v["odi_answers"] or [])
        dates.append(day(v["date"]))
        entries.append(
            (
                urn,
                odi_observation(
                    v["odi_percent"],
                    date=day(v["date"]),
                    subject=patient_urn,
                    answered=answered,
                    fhir_version=fhir_version,
                ),
            )
        )
        obs_refs.append(urn)
    conclusion = None
    assessments = registry.list_assessments(patient_id)
    if assessments:
        latest = assessments[-1]
        res = (latest.result or {}).get("resorption") or {}
        triage = (latest.result or {}).get("triage") or {}
        if res.get("withheld"):
            # Beside an emergency or urgent referral no probability leaves resorb.
            conclusion = (
                "Red flags call for urgent assessment; the resorption estimate is "
                "withheld. "
                + str(triage.get("action") or "")
                + f" (resorb {latest.version}; decision support, not a medical "
                "device)."
            )
        elif "probability" in res:
            aurn = _urn()
            dates.append(day(latest.created_at.date()))
            entries.append(
                (
                    aurn,
                    assessment_observation(
                        latest.result,
                        date=day(latest.created_at.date()),
                        subject=patient_urn,
                        version=latest.version,
                        fhir_version=fhir_version,
                    ),
                )
            )
            obs_refs.append(aurn)
            conclusion = (
                f"Estimated probability of resorption: {res['probability']:.2f}"
                + (f" within {res['horizon_months']:g} months" if res.get("horizon_months") else "")
                + f" (resorb {assessments[-1].version}; decision support, "
                "not a medical device)."
            )
    first, last = (min(dates), max(dates)) if dates else (day(issued.date()), None)
    report_urn = _urn()
    entries.append(
        (
            report_urn,
            diagnostic_report(
                obs_refs,
                subject=patient_urn,
                issued=issued,
                conclusion=conclusion,
                effective=first,
                effective_end=last if last is not None and last != first else None,
                fhir_version=fhir_version,
            ),
        )
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": issued.isoformat(),
        "entry": [
            {"fullUrl": urn, "resource": res.model_dump(mode="json", exclude_none=True)}
            for urn, res in entries
        ],
    }
    return _model("Bundle", fhir_version).model_validate(bundle)
