"""The JSON API under ``/api`` (bearer tokens; see docs/clinic.md, "The JSON API").

Request bodies are validated by the registry's own pydantic schemas
(:class:`~resorb.registry.PatientIn`, ``VisitIn``, ``MRIIn``, ``FindingsIn``,
``TherapyIn``), so the API, the pages and the CSV import accept the same
values. A 422 answer names the field: ``{"detail": [{"field", "message",
...}], "error": "field: message"}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ConfigDict, Field

from resorb._json import to_jsonable
from resorb.registry import FindingsIn, MRIIn, PatientIn, TherapyIn, VisitIn
from resorb.web._auth import CAN_READ_IDENTIFIED, CAN_WRITE, Principal, api_principal
from resorb.web._auth import require_api_role as _require
from resorb.web._openapi import API_ERROR_RESPONSES

__all__ = ["router"]

router = APIRouter(responses=API_ERROR_RESPONSES)
User = Annotated[Principal, Depends(api_principal)]


class FindingsBody(FindingsIn):
    """Findings plus the MRI or visit they were made on (exactly one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    mri_id: int | None = Field(default=None, ge=1)
    visit_id: int | None = Field(default=None, ge=1)


def _state(request: Request):
    return request.app.state.resorb


def _reader(user: Principal) -> None:
    _require(
        user, CAN_READ_IDENTIFIED, "read identified patient records (use /api/research/patients)"
    )


def _writer(user: Principal) -> None:
    _require(user, CAN_WRITE, "change patient data")


def _created(record: Any) -> JSONResponse:
    data = record.as_dict() if hasattr(record, "as_dict") else record
    return JSONResponse(status_code=201, content=to_jsonable(data))


@router.get("/healthz", tags=["service"])
def healthz() -> dict[str, str]:
    """Liveness probe; needs no login and reveals nothing."""
    return {"status": "ok"}


@router.post("/api/token", tags=["auth"])
async def token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=200)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> dict[str, Any]:
    """OAuth2 password flow: form ``username``, ``password`` -> a short-lived bearer JWT.

    Repeated failures slow further attempts down progressively (429 with
    ``Retry-After``); see :mod:`resorb.web._login` for the policy.
    """
    from resorb.web._login import attempt_login

    state = _state(request)
    result = await attempt_login(request, username, password)
    if result.throttled:
        raise HTTPException(
            status_code=429,
            detail="too many failed sign-ins; try again later",
            headers={"Retry-After": str(int(result.retry_after_s) + 1)},
        )
    if result.user is None:
        raise HTTPException(
            status_code=401,
            detail="wrong user name or password",
            headers={"WWW-Authenticate": 'Bearer realm="resorb"'},
        )
    user = result.user
    now = state.settings.clock()
    return {
        "access_token": state.tokens.issue(user.username, user.role, now_s=now),
        "token_type": "bearer",
        "expires_in": int(state.settings.token_ttl_s),
        "role": user.role,
    }


@router.post("/api/token/revoke", status_code=204, tags=["auth"])
def revoke_token(request: Request, user: User) -> Response:
    """End the bearer token of this request now (sign-out for API clients)."""
    from resorb.web._middleware import auth_state

    claims = request.state.token_claims
    auth_state(request.scope).revoke_token(str(claims["jti"]), expires_s=float(claims["exp"]))
    return Response(status_code=204)


@router.get("/api/me", tags=["auth"])
def me(user: User) -> dict[str, str]:
    """The user behind the token."""
    return {"username": user.username, "role": user.role}


# -- patients -------------------------------------------------------------------------------


@router.get("/api/patients", tags=["patients"])
def list_patients(
    request: Request,
    user: User,
    search: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Patients whose pseudonym contains ``search`` (case-insensitive)."""
    _reader(user)
    reg = _state(request).registry
    rows = reg.list_patients(search=search, limit=limit, offset=offset)
    return {
        "total": reg.count_patients(search=search),
        "patients": to_jsonable([r.as_dict() for r in rows]),
    }


@router.post("/api/patients", status_code=201, tags=["patients"])
def create_patient(request: Request, user: User, body: PatientIn) -> JSONResponse:
    """Create a patient: ``{"pseudonym", "birth_year", "sex"}`` (+ ``site``, ``onset_date``)."""
    _writer(user)
    return _created(_state(request).registry.create_patient(body, actor=user.username))


@router.get("/api/patients/{patient_id}", tags=["patients"])
def get_patient(request: Request, user: User, patient_id: int) -> Any:
    _reader(user)
    return to_jsonable(_state(request).registry.get_patient(patient_id).as_dict())


@router.get("/api/patients/{patient_id}/timeline", tags=["patients"])
def timeline(request: Request, user: User, patient_id: int) -> Any:
    """Visits with MCID flags, MRI with resorption percent and grade, findings, therapies."""
    _reader(user)
    return to_jsonable(_state(request).registry.patient_timeline(patient_id))


# -- visits, MRI, findings, therapies ------------------------------------------------------


@router.get("/api/patients/{patient_id}/visits", tags=["follow-up"])
def list_visits(request: Request, user: User, patient_id: int) -> Any:
    _reader(user)
    return to_jsonable([v.as_dict() for v in _state(request).registry.list_visits(patient_id)])


@router.post("/api/patients/{patient_id}/visits", status_code=201, tags=["follow-up"])
def add_visit(request: Request, user: User, patient_id: int, body: VisitIn) -> JSONResponse:
    _writer(user)
    return _created(_state(request).registry.add_visit(patient_id, body, actor=user.username))


@router.get("/api/patients/{patient_id}/mri", tags=["follow-up"])
def list_mri(request: Request, user: User, patient_id: int) -> Any:
    _reader(user)
    return to_jsonable([r.as_dict() for r in _state(request).registry.list_mri(patient_id)])


@router.post("/api/patients/{patient_id}/mri", status_code=201, tags=["follow-up"])
def add_mri(request: Request, user: User, patient_id: int, body: MRIIn) -> JSONResponse:
    """An MRI measurement: ``{"date", "volume_mm3"}`` or ``{"date", "source": "diameters",
    "diameters_mm": [AP, TR, CC]}`` (+ ``level``)."""
    _writer(user)
    return _created(_state(request).registry.add_mri(patient_id, body, actor=user.username))


@router.get("/api/patients/{patient_id}/findings", tags=["follow-up"])
def list_findings(request: Request, user: User, patient_id: int) -> Any:
    _reader(user)
    reg = _state(request).registry
    return to_jsonable([f.as_dict() | {"msu": f.msu} for f in reg.list_findings(patient_id)])


@router.post("/api/patients/{patient_id}/findings", status_code=201, tags=["follow-up"])
def add_findings(request: Request, user: User, patient_id: int, body: FindingsBody) -> JSONResponse:
    """Structured findings (case-file keys) with ``mri_id`` or ``visit_id``."""
    _writer(user)
    data = body.model_dump(exclude={"mri_id", "visit_id"})
    rec = _state(request).registry.add_findings(
        patient_id, data, mri_id=body.mri_id, visit_id=body.visit_id, actor=user.username
    )
    return _created(rec.as_dict() | {"msu": rec.msu})


@router.get("/api/patients/{patient_id}/therapies", tags=["follow-up"])
def list_therapies(request: Request, user: User, patient_id: int) -> Any:
    _reader(user)
    return to_jsonable([t.as_dict() for t in _state(request).registry.list_therapies(patient_id)])


@router.post("/api/patients/{patient_id}/therapies", status_code=201, tags=["follow-up"])
def add_therapy(request: Request, user: User, patient_id: int, body: TherapyIn) -> JSONResponse:
    _writer(user)
    return _created(_state(request).registry.add_therapy(patient_id, body, actor=user.username))


# -- assessments ----------------------------------------------------------------------------


@router.get("/api/patients/{patient_id}/assessment", tags=["assessments"])
def current_assessment(request: Request, user: User, patient_id: int) -> Any:
    """Assess the patient's record now (not stored): the ``resorb assess --json`` object."""
    from resorb.web._assess import assess_patient

    _reader(user)
    data = assess_patient(_state(request).registry, patient_id, cache=_state(request).assessments)[
        1
    ]
    # Already plain JSON types (resorb._json.to_jsonable): skip FastAPI's second,
    # slower encoding pass over the forecast curves.
    return JSONResponse(content=data)


@router.post("/api/patients/{patient_id}/assessments", status_code=201, tags=["assessments"])
def save_assessment(request: Request, user: User, patient_id: int) -> JSONResponse:
    """Assess the patient now and store the result; returns the stored record with ``id``."""
    from resorb.web._assess import assess_patient

    _writer(user)
    reg = _state(request).registry
    result = assess_patient(reg, patient_id, cache=_state(request).assessments)[1]
    return _created(reg.save_assessment(patient_id, result, actor=user.username))


@router.get("/api/patients/{patient_id}/assessments", tags=["assessments"])
def list_assessments(request: Request, user: User, patient_id: int) -> Any:
    _reader(user)
    rows = _state(request).registry.list_assessments(patient_id)
    return to_jsonable(
        [{"id": a.id, "created_at": a.created_at, "version": a.version} for a in rows]
    )


@router.get("/api/patients/{patient_id}/assessments/{assessment_id}", tags=["assessments"])
def get_assessment(request: Request, user: User, patient_id: int, assessment_id: int) -> Any:
    _reader(user)
    for a in _state(request).registry.list_assessments(patient_id):
        if a.id == assessment_id:
            return to_jsonable(a.as_dict())
    raise HTTPException(
        status_code=404,
        detail=f"assessment_id: no assessment {assessment_id} for patient {patient_id}",
    )


# -- research (pseudonymised) -------------------------------------------------------------


@router.get("/api/research/patients", tags=["research"])
def research_patients(
    request: Request,
    user: User,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    search: Annotated[str | None, Query(max_length=64)] = None,
) -> Any:
    """The pseudonymised registry, one page at a time (no notes, no ids, dates shifted
    per patient): ``limit`` patients (default 100) from ``offset``, those whose
    pseudonym contains ``search``. The total is in the ``X-Total-Count`` header."""
    reg = _state(request).registry
    response.headers["X-Total-Count"] = str(reg.research_count(search=search))
    return to_jsonable(
        reg.pseudonymised_view(actor=user.username, limit=limit, offset=offset, search=search)
    )


@router.get("/api/research/patients/{pseudonym}", tags=["research"])
def research_patient(request: Request, user: User, pseudonym: str) -> Any:
    row = _state(request).registry.pseudonymised_patient(pseudonym, actor=user.username)
    if row is not None:
        return to_jsonable(row)
    raise HTTPException(status_code=404, detail=f"pseudonym: no patient {pseudonym!r}")
