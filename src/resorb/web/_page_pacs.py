"""Pages: search the PACS for a patient's studies and import one, de-identified.

Clinicians (and admins) only; the import form carries the session's CSRF token
like every other form. The search shows the PACS's own identified values
(patient ID and name, to recognise the patient); none of them is stored: the
import goes through :func:`resorb.registry._pacs.import_from_pacs`, which
de-identifies every object before the registry sees it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from resorb.domain import SpinalLevel
from resorb.errors import InvalidInputError, PacsError, ResorbError
from resorb.web._auth import CAN_WRITE, Principal, check_csrf, page_principal, require_page_role
from resorb.web._pages import render
from resorb.web._settings import object_store_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(page_principal)]
log = logging.getLogger("resorb.web.pacs")

_SEARCH_FIELDS = ("patient_id", "patient_name", "accession", "study_date")


def _levels() -> list[tuple[str, str]]:
    return [(str(m.value), str(m.value)) for m in SpinalLevel]


def _flash_redirect(request: Request, url: str, message: str) -> RedirectResponse:
    request.state.session = replace(request.state.session, flash=message)
    return RedirectResponse(url, status_code=303)


def _page(
    request: Request,
    user: Principal,
    patient: Any,
    *,
    values: dict[str, str],
    studies: list | None = None,
    errors: dict[str, str] | None = None,
    pacs_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    pacs = request.app.state.resorb.settings.pacs
    errors = errors or {}
    search_errors = {k: v for k, v in errors.items() if k in _SEARCH_FIELDS}
    import_error = "; ".join(v for k, v in errors.items() if k not in _SEARCH_FIELDS)
    return render(
        request,
        "pacs.html",
        {
            "patient": patient,
            "values": values,
            "studies": studies,
            "errors": search_errors,
            "import_error": import_error or None,
            "pacs_error": pacs_error,
            "pacs_url": None if pacs is None else pacs.display_url,
            "levels": _levels(),
            "nav": "patients",
        },
        status_code=status_code,
        user=user,
    )


def _search(
    request: Request,
    user: Principal,
    patient: Any,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page with the studies the PACS finds for ``values`` (none without a criterion).

    ``errors`` (of a failed import) are shown beside the results, so that the
    clinician can correct the row and import again.
    """
    from resorb.interop.dicomweb import PacsClient

    pacs = request.app.state.resorb.settings.pacs
    if pacs is None or not any(values.values()):
        return _page(request, user, patient, values=values, errors=errors, status_code=status_code)
    try:
        studies = PacsClient(pacs).search_studies(
            patient_id=values["patient_id"] or None,
            patient_name=values["patient_name"] or None,
            accession_number=values["accession"] or None,
            study_date=values["study_date"] or None,
            modality="MR",
            limit=50,
        )
    except InvalidInputError as exc:
        field = {"accession_number": "accession", "search": "patient_id"}.get(exc.field, exc.field)
        msg = exc.message + (f" (allowed: {exc.allowed})" if exc.allowed else "")
        return _page(
            request,
            user,
            patient,
            values=values,
            errors={**(errors or {}), field: msg},
            status_code=422,
        )
    except PacsError as exc:
        log.warning("PACS search failed: %s", exc)
        return _page(
            request,
            user,
            patient,
            values=values,
            errors=errors,
            pacs_error=str(exc),
            status_code=502,
        )
    # Who looked at identified PACS data, and how much (the values searched for and
    # found are identifiers and are not logged).
    log.info(
        "PACS search by %s for registry patient %s: %d studies",
        user.username,
        patient.id,
        len(studies),
    )
    return _page(
        request,
        user,
        patient,
        values=values,
        studies=studies,
        errors=errors,
        status_code=status_code,
    )


@router.get("/patients/{patient_id}/pacs")
def pacs_form(request: Request, user: User, patient_id: int) -> HTMLResponse:
    """The search form."""
    require_page_role(user, CAN_WRITE, "import studies from the PACS")
    patient = request.app.state.resorb.registry.get_patient(patient_id)
    return _page(request, user, patient, values=dict.fromkeys(_SEARCH_FIELDS, ""))


@router.post("/patients/{patient_id}/pacs")
async def pacs_search(request: Request, user: User, patient_id: int) -> HTMLResponse:
    """The studies the PACS finds. A POST (with the CSRF token), not a GET: the hospital
    patient ID and name searched for must not end up in URLs, server access logs or
    the browser history."""
    require_page_role(user, CAN_WRITE, "import studies from the PACS")
    form = await check_csrf(request)
    patient = request.app.state.resorb.registry.get_patient(patient_id)
    values = {k: str(form.get(k) or "").strip() for k in _SEARCH_FIELDS}
    return await run_in_threadpool(_search, request, user, patient, values)


@router.post("/patients/{patient_id}/pacs/import")
async def pacs_import(request: Request, user: User, patient_id: int) -> Response:
    """Retrieve one study, import it de-identified, and go back to the patient."""
    from resorb.interop.dicomweb import PacsClient
    from resorb.registry._pacs import import_from_pacs

    require_page_role(user, CAN_WRITE, "import studies from the PACS")
    form = await check_csrf(request)
    state = request.app.state.resorb
    patient = state.registry.get_patient(patient_id)
    values = {k: str(form.get(k) or "").strip() for k in _SEARCH_FIELDS}
    if state.settings.pacs is None:
        return _page(request, user, patient, values=values, status_code=409)
    study_uid = str(form.get("study_uid") or "").strip()
    level = str(form.get("level") or "").strip() or None
    label_text = str(form.get("label") or "").strip()
    errors: dict[str, str] = {}
    label = None
    if not label_text.isdigit() or int(label_text) < 1:
        errors["label"] = "the segment number of the herniation must be 1 or more"
    else:
        label = int(label_text)
    store = object_store_of(state.settings, state.registry.url)
    if store is None:
        return _page(
            request,
            user,
            patient,
            values=values,
            status_code=409,
            pacs_error="This server has no folder for de-identified images; the "
            "administrator must set one before studies can be imported.",
        )
    if not errors:
        try:
            # Minutes for a large study: off the event loop, so other users are served.
            result = await run_in_threadpool(
                import_from_pacs,
                state.registry,
                PacsClient(state.settings.pacs),
                study_uid,
                patient_id=patient_id,
                actor=user.username,
                level=level,
                label=label,
                store_dir=store / "dicom",
            )
        except InvalidInputError as exc:
            field = "study_uid" if exc.field.startswith("study") else exc.field
            errors[field] = exc.message + (f" (allowed: {exc.allowed})" if exc.allowed else "")
        except PacsError as exc:
            log.warning("PACS import failed: %s", exc)
            return _page(
                request, user, patient, values=values, pacs_error=str(exc), status_code=502
            )
        except ResorbError as exc:  # a SEG that cannot be measured, a burned-in image
            errors["study_uid"] = str(exc)
        else:
            parts = []
            for mri in result["mri"]:
                vol = mri["volume_mm3"]
                text = (
                    f"{vol:,.0f} mm³".replace(",", " ")
                    if vol is not None
                    else "images without a segmentation (no volume)"
                )
                parts.append(
                    text
                    + (
                        " (already in the registry, not added again)"
                        if mri.get("already_imported")
                        else ""
                    )
                )
            return _flash_redirect(
                request,
                f"/patients/{patient_id}",
                f"Imported from the PACS: {result['deidentified']} objects de-identified; "
                f"MRI {', '.join(parts)}.",
            )
    return await run_in_threadpool(
        _search, request, user, patient, values, errors=errors, status_code=422
    )
