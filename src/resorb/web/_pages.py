"""Server-rendered pages (Jinja2). Every form carries the session's CSRF token and
re-renders with the message beside the field and the user's input kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from resorb.domain import (
    AxialZone,
    Containment,
    HerniationMorphology,
    IwabuchiType,
    KomoriType,
    Migration,
    ModicType,
    PfirrmannGrade,
    PLLIntegrity,
    RedFlag,
    RimEnhancement,
    SchizasGrade,
    SpinalLevel,
    T2Signal,
)
from resorb.errors import InvalidInputError
from resorb.registry import ROLES, FindingsIn, MRIIn, PatientIn, TherapyIn, VisitIn
from resorb.web._auth import (
    CAN_READ_IDENTIFIED,
    CAN_WRITE,
    Principal,
    check_csrf,
    page_principal,
    require_page_role,
)
from resorb.web._signing import Session

__all__ = ["error_page", "fmt", "router"]

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(page_principal)]


# -- helpers ----------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 0, unit: str = "") -> str:
    """Number for display (``–`` for missing)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        text = f"{value:,.{digits}f}".replace(",", " ")
        return f"{text} {unit}".strip()
    return f"{value} {unit}".strip()


def _state(request: Request):
    return request.app.state.resorb


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, user: Principal | None = None,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    session: Session = request.state.session
    ctx = {"user": user, "csrf_token": session.csrf, "flash": session.flash,
           "flash_kind": "warn" if session.flash and "expired" in session.flash else "ok"}
    if session.flash:
        request.state.session = replace(session, flash=None)
    ctx.update(context or {})
    return _state(request).templates.TemplateResponse(request, name, ctx,
                                                      status_code=status_code, headers=headers)


def error_page(request: Request, status_code: int, title: str, message: str, *,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    user = None
    session = getattr(request.state, "session", None)
    if session is not None and session.username:
        rec = _state(request).registry.get_user(session.username)
        if rec is not None and rec.active:
            user = Principal(rec.username, rec.role)
    if session is None:  # outside the session middleware (should not happen for pages)
        return HTMLResponse(f"<h1>{title}</h1>", status_code=status_code)
    return render(request, "error.html", {"title": title, "message": message},
                  status_code=status_code, user=user, headers=headers)


def _redirect(url: str, flash: str | None = None, *, request: Request | None = None
              ) -> RedirectResponse:
    if flash and request is not None:
        request.state.session = replace(request.state.session, flash=flash)
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative ``//``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/patients"
    return target


def _clean(form, names: list[str]) -> dict[str, Any]:
    """Form strings to a mapping for the schemas: blank fields are left out."""
    out: dict[str, Any] = {}
    for n in names:
        v = form.get(n)
        if isinstance(v, str) and v.strip() != "":
            out[n] = v.strip()
    return out


def _field(loc: tuple) -> str:
    return str(loc[0]) if loc else "form"


def _validate(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    """All field errors of ``data`` against ``model`` as ``{field: message}``."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False):
            msg = str(err["msg"])
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, InvalidInputError):
                msg = cause.message + (f" (allowed: {cause.allowed})" if cause.allowed else "")
            if err["type"] == "missing":
                msg = "is required"
            errors.setdefault(_field(tuple(err["loc"])), msg)
        return errors
    return {}


def _error_from(exc: InvalidInputError) -> dict[str, str]:
    head, _, rest = exc.field.partition(".")
    name = rest if rest and head in ("patient", "visit", "mri", "findings", "therapy") else \
        exc.field
    msg = exc.message + (f" (allowed: {exc.allowed})" if exc.allowed else "")
    return {name.split("[")[0]: msg}


def _choices(enum) -> list[tuple[str, str]]:
    return [(str(m.value), str(m.value)) for m in enum]


# -- login -----------------------------------------------------------------------------------


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/patients", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", {"next_url": _safe_next(next)})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await check_csrf(request)
    state = _state(request)
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = _safe_next(form.get("next"))
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{username.lower()}", f"addr:{client}")
    wait = state.limiter.retry_after_s(*keys)
    if wait > 0:
        return render(request, "login.html",
                      {"error": f"Too many failed sign-ins. Try again in "
                                f"{int(wait // 60) + 1} minutes.",
                       "username": username, "next_url": next_url},
                      status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    user = state.registry.authenticate(username, password)
    if user is None:
        state.limiter.failed(*keys)
        return render(request, "login.html",
                      {"error": "Wrong user name or password.", "username": username,
                       "next_url": next_url}, status_code=401)
    state.limiter.succeeded(keys[0])
    # A new session (and CSRF token) at login: no session fixation.
    request.state.session = Session.new(state.settings.clock(), username=user.username)
    if user.role not in CAN_READ_IDENTIFIED and next_url.startswith("/patients"):
        next_url = "/research/patients"
    return _redirect(next_url)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    request.state.session = Session.new(_state(request).settings.clock())
    return _redirect("/login", "You have signed out.", request=request)


# -- patient list -----------------------------------------------------------------------------


@router.get("/patients")
def patients(request: Request, user: User, q: str | None = None, page: int = 1) -> Response:
    if not user.identified:
        return _redirect("/research/patients" + (f"?q={quote(q)}" if q else ""))
    reg = _state(request).registry
    per_page = 25
    page = max(1, page)
    search = (q or "").strip() or None
    rows = reg.list_patients(search=search, limit=per_page, offset=(page - 1) * per_page)
    total = reg.count_patients(search=search)
    ctx = {"patients": rows, "q": q or "", "total": total, "page": page,
           "pages": max(1, -(-total // per_page)), "nav": "patients"}
    if request.headers.get("x-partial") == "patient-rows":
        return render(request, "_patient_rows.html", ctx, user=user)
    return render(request, "patients.html", ctx, user=user)


_PATIENT_FIELDS = ["pseudonym", "birth_year", "sex", "site", "onset_date"]


@router.get("/patients/new")
def new_patient_form(request: Request, user: User) -> HTMLResponse:
    require_page_role(user, CAN_WRITE, "create patients")
    return render(request, "patient_form.html", {"values": {}, "errors": {}, "nav": "patients"},
                  user=user)


@router.post("/patients/new")
async def new_patient(request: Request, user: User) -> Response:
    require_page_role(user, CAN_WRITE, "create patients")
    form = await check_csrf(request)
    data = _clean(form, _PATIENT_FIELDS)
    errors = _validate(PatientIn, data)
    if not errors:
        try:
            rec = _state(request).registry.create_patient(data, actor=user.username)
        except InvalidInputError as exc:
            errors = _error_from(exc)
        else:
            return _redirect(f"/patients/{rec.id}", f"Patient {rec.pseudonym} created.",
                             request=request)
    return render(request, "patient_form.html",
                  {"values": dict(form), "errors": errors, "nav": "patients"},
                  status_code=422, user=user)


# -- timeline ---------------------------------------------------------------------------------


def _timeline_forecast(request: Request, timeline: dict[str, Any], patient_id: int
                       ) -> tuple[dict | None, str | None]:
    """The forecast band for the timeline plot and where it comes from.

    The current assessment (cached per case and day, so the assessment page and
    its PDF reuse it); when the record cannot be assessed yet (no findings), the
    latest stored assessment's forecast, else none.
    """
    from resorb.web._assess import assess_patient

    reg = _state(request).registry
    if not any(m["volume_mm3"] is not None for m in timeline["mri"]):
        return None, None
    try:
        _, data = assess_patient(reg, patient_id, cache=_state(request).assessments)
        fc = data.get("forecast")
        if isinstance(fc, dict) and fc.get("curve"):
            return fc, "current assessment"
    except InvalidInputError:
        pass
    if timeline["assessments"]:
        latest = reg.list_assessments(patient_id)[-1]
        fc = latest.result.get("forecast") if isinstance(latest.result, dict) else None
        if isinstance(fc, dict) and fc.get("curve"):
            return fc, f"stored assessment #{latest.id}"
    return None, None


@router.get("/patients/{patient_id}")
def patient_page(request: Request, user: User, patient_id: int) -> HTMLResponse:
    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    from resorb.web._plots import svg_data_uri, volume_course_svg

    reg = _state(request).registry
    tl = reg.patient_timeline(patient_id)
    obs = [(m["date"], m["volume_mm3"]) for m in tl["mri"] if m["volume_mm3"] is not None]
    forecast, forecast_from = _timeline_forecast(request, tl, patient_id)
    plot = svg_data_uri(volume_course_svg(obs, forecast=forecast)) if obs else None
    return render(request, "patient.html",
                  {"t": tl, "p": tl["patient"], "plot": plot, "forecast": forecast,
                   "forecast_from": forecast_from, "nav": "patients"}, user=user)


# -- follow-up forms --------------------------------------------------------------------------

_ODI = [f"odi_{i}" for i in range(1, 11)]
_ODI_SECTIONS = ("Pain intensity", "Personal care", "Lifting", "Walking", "Sitting",
                 "Standing", "Sleeping", "Sex life", "Social life", "Travelling")


def _form_context(kind: str, registry, patient_id: int) -> dict[str, Any]:
    ctx: dict[str, Any] = {"kind": kind, "patient": registry.get_patient(patient_id),
                           "nav": "patients"}
    if kind == "visit":
        ctx.update(red_flags=_choices(RedFlag), odi=list(zip(_ODI, _ODI_SECTIONS, strict=True)))
    elif kind == "mri":
        ctx.update(levels=_choices(SpinalLevel))
    elif kind == "findings":
        ctx.update(
            mris=registry.list_mri(patient_id), visits=registry.list_visits(patient_id),
            scales=[
                ("level", "Level", _choices(SpinalLevel), True),
                ("morphology", "Morphology (Fardon 2014)", _choices(HerniationMorphology), True),
                ("containment", "Containment", _choices(Containment), False),
                ("pll", "Posterior longitudinal ligament", _choices(PLLIntegrity), False),
                ("zone", "Axial zone", _choices(AxialZone), False),
                ("migration", "Migration", _choices(Migration), False),
                ("komori", "Komori type", _choices(KomoriType), False),
                ("rim_enhancement", "Rim enhancement", _choices(RimEnhancement), False),
                ("iwabuchi", "Iwabuchi type", _choices(IwabuchiType), False),
                ("t2_signal", "T2 signal", _choices(T2Signal), False),
                ("modic", "Modic type", _choices(ModicType), False),
                ("pfirrmann", "Pfirrmann grade", _choices(PfirrmannGrade), False),
                ("schizas", "Schizas grade", _choices(SchizasGrade), False),
            ])
    return ctx


_FIELDS = {
    "visit": ["date", "leg_pain_nrs", "back_pain_nrs", "vas_mm", "joa_total", "rmdq",
              "motor_mrc", "slr_degrees", "notes"],
    "mri": ["date", "level", "volume_mm3", "method"],
    "findings": ["level", "morphology", "containment", "pll", "zone", "migration", "komori",
                 "msu", "rim_enhancement", "iwabuchi", "t2_signal", "modic", "pfirrmann",
                 "schizas", "canal_compromise_percent"],
    "therapy": ["name", "start", "end"],
}
_MODELS = {"visit": VisitIn, "mri": MRIIn, "findings": FindingsIn, "therapy": TherapyIn}
_TITLES = {"visit": "New visit", "mri": "New MRI measurement", "findings": "Findings",
           "therapy": "Therapy course"}


def _form_data(kind: str, form) -> dict[str, Any]:
    data = _clean(form, _FIELDS[kind])
    if kind == "visit":
        answers = [form.get(n) or None for n in _ODI]
        if any(a is not None for a in answers):
            data["odi_answers"] = answers
        flags = [f for f in form.getlist("red_flags") if f]
        if flags:
            data["red_flags"] = flags
    elif kind == "mri":
        if form.get("measure") == "diameters":
            data["source"] = "diameters"
            data["diameters_mm"] = [form.get(n) or None for n in ("ap_mm", "tr_mm", "cc_mm")]
        else:
            data["source"] = "manual"
    return data


@router.get("/patients/{patient_id}/{kind}/new")
def followup_form(request: Request, user: User, patient_id: int, kind: str) -> HTMLResponse:
    if kind not in _MODELS:
        raise HTTPException(status_code=404, detail=f"No form {kind!r}.")
    require_page_role(user, CAN_WRITE, "change patient data")
    ctx = _form_context(kind, _state(request).registry, patient_id)
    values: dict[str, Any] = {"measure": "volume"}
    if kind in ("visit", "mri"):
        values["date"] = dt.date.today().isoformat()
    ctx.update(values=values, errors={}, title=_TITLES[kind])
    return render(request, f"form_{kind}.html", ctx, user=user)


@router.post("/patients/{patient_id}/{kind}/new")
async def followup_submit(request: Request, user: User, patient_id: int, kind: str) -> Response:
    if kind not in _MODELS:
        raise HTTPException(status_code=404, detail=f"No form {kind!r}.")
    require_page_role(user, CAN_WRITE, "change patient data")
    form = await check_csrf(request)
    reg = _state(request).registry
    reg.get_patient(patient_id)
    data = _form_data(kind, form)
    errors = _validate(_MODELS[kind], data)
    if kind == "findings":
        parent = str(form.get("parent", ""))
        ptype, _, pid = parent.partition(":")
        if ptype not in ("mri", "visit") or not pid.isdigit():
            errors.setdefault("parent", "choose the MRI or visit these findings were made on")
    if "odi_answers" in errors:
        errors["odi"] = errors.pop("odi_answers")
    if kind == "mri":
        for key in ("diameters_mm", "form", "mri"):  # model-level rules: one measurement
            if key in errors:
                errors.setdefault("measurement", errors.pop(key))
        if "measurement" in errors:
            hint = ("Enter all three diameters in mm (AP, transverse, craniocaudal)"
                    if form.get("measure") == "diameters" else "Enter the volume in mm³")
            errors["measurement"] = f"{hint} ({errors['measurement']})."
    if not errors:
        try:
            if kind == "visit":
                reg.add_visit(patient_id, data, actor=user.username)
            elif kind == "mri":
                reg.add_mri(patient_id, data, actor=user.username)
            elif kind == "therapy":
                reg.add_therapy(patient_id, data, actor=user.username)
            else:
                reg.add_findings(patient_id, data, actor=user.username,
                                 mri_id=int(pid) if ptype == "mri" else None,
                                 visit_id=int(pid) if ptype == "visit" else None)
        except InvalidInputError as exc:
            errors = _error_from(exc)
        else:
            return _redirect(f"/patients/{patient_id}", f"{_TITLES[kind]} saved.",
                             request=request)
    ctx = _form_context(kind, reg, patient_id)
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    values["red_flags"] = form.getlist("red_flags")
    ctx.update(values=values, errors=errors, title=_TITLES[kind])
    return render(request, f"form_{kind}.html", ctx, status_code=422, user=user)


# -- assessment -------------------------------------------------------------------------------


def _assessment_context(request: Request, patient_id: int) -> dict[str, Any]:
    from resorb.web._assess import assess_patient
    from resorb.web._plots import svg_data_uri, volume_course_svg

    reg = _state(request).registry
    patient = reg.get_patient(patient_id)
    try:
        _, data = assess_patient(reg, patient_id, cache=_state(request).assessments)
    except InvalidInputError as exc:
        return {"patient": patient, "missing": str(exc), "nav": "patients"}
    tl = reg.patient_timeline(patient_id)
    obs = [(m["date"], m["volume_mm3"]) for m in tl["mri"] if m["volume_mm3"] is not None]
    fc = data.get("forecast") if isinstance(data.get("forecast"), dict) else None
    plot = svg_data_uri(volume_course_svg(obs, forecast=fc)) if obs else None
    return {"patient": patient, "a": data, "plot": plot, "nav": "patients"}


@router.get("/patients/{patient_id}/assessment")
def assessment_page(request: Request, user: User, patient_id: int) -> HTMLResponse:
    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    return render(request, "assessment.html", _assessment_context(request, patient_id),
                  user=user)


@router.post("/patients/{patient_id}/assessment")
async def assessment_save(request: Request, user: User, patient_id: int) -> Response:
    from resorb.web._assess import assess_patient

    require_page_role(user, CAN_WRITE, "store assessments")
    await check_csrf(request)
    reg = _state(request).registry
    _, data = assess_patient(reg, patient_id, cache=_state(request).assessments)
    rec = reg.save_assessment(patient_id, data, actor=user.username)
    return _redirect(f"/patients/{patient_id}", f"Assessment {rec.id} stored.", request=request)


#: The report is a standalone document with its own inline stylesheet and no script.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@router.get("/patients/{patient_id}/report")
def assessment_report(request: Request, user: User, patient_id: int) -> HTMLResponse:
    """The full report as rendered by :func:`resorb.reports.render_html` (same as the PDF)."""
    from resorb.web._assess import assess_patient, assessment_html

    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    assessment, _ = assess_patient(_state(request).registry, patient_id,
                          cache=_state(request).assessments)
    return HTMLResponse(assessment_html(assessment),
                        headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/patients/{patient_id}/assessment.pdf")
def assessment_pdf(request: Request, user: User, patient_id: int) -> Response:
    from resorb.web._assess import assess_patient, assessment_pdf

    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    reg = _state(request).registry
    patient = reg.get_patient(patient_id)
    assessment, _ = assess_patient(reg, patient_id, cache=_state(request).assessments)
    pdf = assessment_pdf(assessment)
    name = f"resorb-assessment-{patient.pseudonym}-{dt.date.today().isoformat()}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- research view ----------------------------------------------------------------------------


def _research_rows(request: Request, user: Principal) -> list[dict[str, Any]]:
    return _state(request).registry.pseudonymised_view(actor=user.username)


@router.get("/research/patients")
def research_list(request: Request, user: User, q: str | None = None) -> HTMLResponse:
    rows = _research_rows(request, user)
    if q:
        rows = [r for r in rows if q.strip().lower() in r["pseudonym"].lower()]
    return render(request, "research_list.html", {"rows": rows, "q": q or "",
                                                  "nav": "patients"}, user=user)


@router.get("/research/patients/{pseudonym}")
def research_patient(request: Request, user: User, pseudonym: str) -> HTMLResponse:
    from resorb.registry import resorption_between
    from resorb.web._plots import svg_data_uri, volume_course_svg

    for row in _research_rows(request, user):
        if row["pseudonym"] == pseudonym:
            break
    else:
        raise HTTPException(status_code=404, detail=f"No patient {pseudonym!r}.")
    mri = []
    base: dict[Any, Any] = {}
    for m in row["mri"]:
        item = dict(m)
        if m["volume_mm3"] is not None:
            b = base.setdefault(m["level"], m)
            item["days_since_baseline"] = (m["date"] - b["date"]).days
            if b is not m:
                item.update(resorption_between(b["volume_mm3"], m["volume_mm3"]))
        mri.append(item)
    obs = [(m["date"], m["volume_mm3"]) for m in row["mri"] if m["volume_mm3"] is not None]
    plot = svg_data_uri(volume_course_svg(obs)) if obs else None
    return render(request, "research_patient.html",
                  {"r": row, "mri": mri, "plot": plot, "nav": "patients"}, user=user)


# -- cohort dashboard -------------------------------------------------------------------------


@router.get("/cohort")
def cohort(request: Request, user: User) -> HTMLResponse:
    from resorb.web._cohort import summarise_cohort
    from resorb.web._plots import km_by_group_svg, resorption_by_group_svg, svg_data_uri

    summary = summarise_cohort(_research_rows(request, user))
    km = summary.kaplan_meier()
    plots = {}
    if summary.resorption_percent:
        plots["resorption"] = svg_data_uri(resorption_by_group_svg(summary.resorption_percent))
    if km:
        plots["km"] = svg_data_uri(km_by_group_svg(km))
    return render(request, "cohort.html", {"s": summary, "table": summary.table(),
                                           "plots": plots, "nav": "cohort"}, user=user)


# -- users (admin) -----------------------------------------------------------------------------


def _require_admin(user: Principal) -> None:
    require_page_role(user, frozenset({"admin"}), "manage users")


@router.get("/admin/users")
def users(request: Request, user: User) -> HTMLResponse:
    _require_admin(user)
    return render(request, "users.html", {"users": _state(request).registry.list_users(),
                                          "roles": ROLES, "values": {}, "errors": {},
                                          "nav": "users"}, user=user)


@router.post("/admin/users")
async def add_user(request: Request, user: User) -> Response:
    _require_admin(user)
    form = await check_csrf(request)
    reg = _state(request).registry
    name = str(form.get("username", "")).strip()
    role = str(form.get("role", "clinician"))
    try:
        reg.add_user(name, str(form.get("password", "")), role=role, actor=user.username)
    except InvalidInputError as exc:
        values = {"username": name, "role": role}
        return render(request, "users.html",
                      {"users": reg.list_users(), "roles": ROLES, "values": values,
                       "errors": {exc.field: exc.message + (f" (allowed: {exc.allowed})"
                                                            if exc.allowed else "")},
                       "nav": "users"}, status_code=422, user=user)
    return _redirect("/admin/users", f"User {name} ({role}) created.", request=request)


@router.post("/admin/users/{username}/active")
async def set_active(request: Request, user: User, username: str) -> Response:
    _require_admin(user)
    form = await check_csrf(request)
    active = form.get("active") == "1"
    if username == user.username and not active:
        raise HTTPException(status_code=422, detail="You cannot deactivate yourself.")
    _state(request).registry.set_user_active(username, active, actor=user.username)
    return _redirect("/admin/users",
                     f"User {username} {'activated' if active else 'deactivated'}.",
                     request=request)
