"""Page: measure an uploaded herniation mask (NIfTI, NRRD or DICOM SEG) into an MRI entry.

The upload is limited in size (:attr:`WebSettings.mask_max_bytes`, checked from
the declared length before the body is read and again while it is copied),
written to a private temporary folder under a neutral name, read and measured
by the imaging readers (:func:`resorb.registry._masks.inspect_mask`), and only
then stored: the volume as an MRI measurement, the mask as a de-identified
copy (:func:`resorb.registry._masks.store_mask_measurement`). A mask with
several labels is not guessed at: the page lists each label with its volume and
asks which one is the herniation.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from resorb.domain import SpinalLevel
from resorb.errors import InvalidInputError, ResorbError
from resorb.web._auth import CAN_WRITE, Principal, check_csrf, page_principal, require_page_role
from resorb.web._pages import render
from resorb.web._settings import object_store_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(page_principal)]
log = logging.getLogger("resorb.web.masks")

_CHUNK = 1 << 20
_FIELDS = ("date", "level", "label")


def _page(
    request: Request,
    user: Principal,
    patient: Any,
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    inspection: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = request.app.state.resorb.settings
    return render(
        request,
        "form_mask.html",
        {
            "patient": patient,
            "values": values,
            "errors": errors or {},
            "inspection": inspection,
            "title": "MRI measurement from a mask",
            "levels": [(str(m.value), str(m.value)) for m in SpinalLevel],
            "max_mib": settings.mask_max_bytes // (1024 * 1024),
            "nav": "patients",
        },
        status_code=status_code,
        user=user,
    )


def _too_large(
    request: Request, user: Principal, patient: Any, values: dict[str, Any]
) -> HTMLResponse:
    mib = request.app.state.resorb.settings.mask_max_bytes // (1024 * 1024)
    return _page(
        request,
        user,
        patient,
        values=values,
        status_code=413,
        errors={
            "mask": f"the file is larger than {mib} MiB; upload the label image "
            "of the herniation only"
        },
    )


@router.get("/patients/{patient_id}/mri/mask")
def mask_form(request: Request, user: User, patient_id: int) -> HTMLResponse:
    import datetime as dt

    require_page_role(user, CAN_WRITE, "change patient data")
    patient = request.app.state.resorb.registry.get_patient(patient_id)
    return _page(request, user, patient, values={"date": dt.date.today().isoformat()})


@router.post("/patients/{patient_id}/mri/mask")
async def mask_submit(request: Request, user: User, patient_id: int) -> Response:
    require_page_role(user, CAN_WRITE, "change patient data")
    state = request.app.state.resorb
    limit = state.settings.mask_max_bytes
    patient = state.registry.get_patient(patient_id)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:  # + the form's other fields
        return _too_large(request, user, patient, {})
    form = await request.form()  # parsed once; check_csrf reads the same cached form
    try:
        await check_csrf(request)
        return await _measure(request, user, patient, patient_id, form)
    finally:
        await form.close()  # the spooled upload file, also when the CSRF check fails


async def _measure(
    request: Request, user: Principal, patient: Any, patient_id: int, form: Any
) -> Response:
    from resorb.registry._masks import (
        inspect_mask,
        mask_suffix,
        read_mask_file,
        store_mask_measurement,
    )

    state = request.app.state.resorb
    limit = state.settings.mask_max_bytes
    values = {k: str(form.get(k) or "").strip() for k in _FIELDS}
    errors: dict[str, str] = {}
    upload = form.get("mask")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        errors["mask"] = "choose the mask file (NIfTI, NRRD or DICOM SEG)"
    label = None
    if values["label"]:
        if not values["label"].isdigit() or int(values["label"]) < 1:
            errors["label"] = "a label number of 1 or more"
        else:
            label = int(values["label"])
    store = object_store_of(state.settings, state.registry.url)
    if store is None:
        errors["mask"] = (
            "this server has no folder for de-identified masks; the "
            "administrator must set one before masks can be uploaded"
        )
    if errors:
        return _page(request, user, patient, values=values, errors=errors, status_code=422)
    assert upload is not None and not isinstance(upload, str)
    with tempfile.TemporaryDirectory(prefix="resorb-mask-") as tmp:
        head = await upload.read(132)
        try:
            suffix = mask_suffix(upload.filename or "", head)
        except InvalidInputError as exc:
            return _page(
                request,
                user,
                patient,
                values=values,
                status_code=422,
                errors={"mask": f"{exc.message} (allowed: {exc.allowed})"},
            )
        path = Path(tmp) / f"upload{suffix}"
        size = len(head)
        with path.open("wb") as fh:
            fh.write(head)
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    return _too_large(request, user, patient, values)
                fh.write(chunk)
        try:
            # Reading and measuring take seconds for a large mask: off the event loop.
            mask = await run_in_threadpool(read_mask_file, path)
            found = await run_in_threadpool(inspect_mask, path, mask=mask)
            if label is None and len(found.labels) > 1:
                return _page(
                    request,
                    user,
                    patient,
                    values=values,
                    inspection=found,
                    status_code=422,
                    errors={
                        "label": "the mask holds several labels: choose the "
                        "herniation's label and upload the file again"
                    },
                )
            result = await run_in_threadpool(
                store_mask_measurement,
                state.registry,
                path,
                patient_id=patient_id,
                date=values["date"] or None,
                level=values["level"] or None,
                label=label,
                actor=user.username,
                store_dir=store,
                mask=mask,
            )
        except InvalidInputError as exc:
            field = exc.field.split(".")[-1] if exc.field.startswith("mri.") else exc.field
            field = field if field in ("date", "level", "label", "mask") else "mask"
            msg = exc.message + (f" (allowed: {exc.allowed})" if exc.allowed else "")
            return _page(
                request, user, patient, values=values, errors={field: msg}, status_code=422
            )
        except ResorbError as exc:
            return _page(
                request,
                user,
                patient,
                values=values,
                status_code=422,
                errors={"mask": str(exc).replace(str(path), "the mask file")},
            )
    vol = f"{result['volume_mm3']:,.1f}".replace(",", " ")
    note = "; ".join(w["message"] for w in result["warnings"])
    if result["already_imported"]:
        request.state.session = replace(
            request.state.session,
            flash=(f"This segmentation was imported before ({vol} mm³); nothing was added."),
        )
        return RedirectResponse(f"/patients/{patient_id}", status_code=303)
    message = (
        f"MRI saved: {vol} mm³ measured on label {result['label']} of the mask "
        f"({result['voxel_count']} voxels of {result['voxel_volume_mm3']:.4g} mm³)"
        + ("; the MRI date is the DICOM study date" if result["date_from"] != "form" else "")
        + (f". Note: {note}" if note else ".")
    )
    request.state.session = replace(request.state.session, flash=message)
    log.info("mask measured for patient %s by %s", patient_id, user.username)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)
