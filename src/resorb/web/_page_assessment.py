"""Pages: the assessment of a patient, storing it, the report and its PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from resorb.errors import InvalidInputError
from resorb.web._auth import CAN_READ_IDENTIFIED, CAN_WRITE, check_csrf, require_page_role
from resorb.web._pages import (
    User,
    redirect,
    render,
    state,
)

__all__ = ["REPORT_CSP", "router"]

router = APIRouter(include_in_schema=False)


def _assessment_context(request: Request, patient_id: int) -> dict[str, Any]:
    from resorb.registry import timeline_of
    from resorb.reports._sections import AssessmentView
    from resorb.web._assess import assess_records
    from resorb.web._plots import svg_data_uri, volume_course_svg

    records = state(request).registry.patient_records(patient_id)  # the one read
    try:
        assessment, data = assess_records(records, cache=state(request).assessments)
    except InvalidInputError as exc:
        return {"patient": records.patient, "missing": str(exc), "nav": "patients"}
    tl = timeline_of(records)
    obs = [(m["date"], m["volume_mm3"]) for m in tl["mri"] if m["volume_mm3"] is not None]
    fc = data.get("forecast") if isinstance(data.get("forecast"), dict) else None
    plot = svg_data_uri(volume_course_svg(obs, forecast=fc)) if obs else None
    # The page reads the typed sections by attribute; the summaries and caveats are JSON.
    return {
        "patient": records.patient,
        "a": AssessmentView(assessment, data),
        "plot": plot,
        "nav": "patients",
    }


@router.get("/patients/{patient_id}/assessment")
def assessment_page(request: Request, user: User, patient_id: int) -> HTMLResponse:
    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    return render(request, "assessment.html", _assessment_context(request, patient_id), user=user)


@router.post("/patients/{patient_id}/assessment")
async def assessment_save(request: Request, user: User, patient_id: int) -> Response:
    from resorb.web._assess import assess_patient

    require_page_role(user, CAN_WRITE, "store assessments")
    await check_csrf(request)
    reg = state(request).registry
    _, data = assess_patient(reg, patient_id, cache=state(request).assessments)
    rec = reg.save_assessment(patient_id, data, actor=user.username)
    when = rec.created_at.strftime("%Y-%m-%d %H:%M")
    return redirect(f"/patients/{patient_id}", f"Assessment of {when} stored.", request=request)


#: The report is a standalone document with its own inline stylesheet and no script.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@router.get("/patients/{patient_id}/report")
def assessment_report(request: Request, user: User, patient_id: int) -> HTMLResponse:
    """The full report as rendered by :func:`resorb.reports.render_html` (same as the PDF)."""
    from resorb.web._assess import assess_patient, assessment_html

    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    assessment, _ = assess_patient(
        state(request).registry, patient_id, cache=state(request).assessments
    )
    return HTMLResponse(
        assessment_html(assessment), headers={"Content-Security-Policy": REPORT_CSP}
    )


@router.get("/patients/{patient_id}/assessment.pdf")
def assessment_pdf(request: Request, user: User, patient_id: int) -> Response:
    from resorb.web._assess import assess_records, assessment_pdf

    require_page_role(user, CAN_READ_IDENTIFIED, "read identified records")
    records = state(request).registry.patient_records(patient_id)
    assessment, _ = assess_records(records, cache=state(request).assessments)
    pdf = assessment_pdf(assessment)  # the bytes of render_pdf, no file in between
    name = f"resorb-assessment-{records.patient.pseudonym}-{dt.date.today().isoformat()}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
