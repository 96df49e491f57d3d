"""The registry and a PACS: import a study de-identified, send the SEG and SR back.

:func:`import_from_pacs` retrieves a study over DICOMweb into a private
temporary folder (mode 0700, deleted afterwards) and hands it to the registry's
DICOM import (:func:`resorb.registry.import_dicom`), which measures the SEG and
de-identifies every object after DICOM PS3.15 before anything is stored. The
original UIDs, names and dates never reach the database or the log.

:func:`send_to_pacs` builds a DICOM SR (TID 1500) of a registry MRI study's
volume on the **de-identified** SEG written by the import and stores both on a
PACS (STOW-RS). Both objects then carry the de-identified identity only (the
SR copies patient and study attributes from that SEG): a research archive
receives them.

:func:`send_sr_to_original_study` puts the SR into the patient's **original**
study on the clinical PACS instead: it finds the original SEG there (the one
whose UID the registry's keyed UID map turns into the de-identified SEG's UID),
builds the SR on it, so that the SR carries the clinical identity only, and
stores the SR alone (the SEG is already there). Identified and de-identified
attributes are never mixed in one object.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resorb.errors import InvalidInputError, require_extra
from resorb.interop.dicomweb import PacsClient
from resorb.registry._dicom import SEGMENTATION_SOP_CLASSES, import_dicom
from resorb.registry._service import Registry

__all__ = ["import_from_pacs", "send_sr_to_original_study", "send_to_pacs"]

log = logging.getLogger("resorb.registry.pacs")


def import_from_pacs(
    registry: Registry,
    client: PacsClient,
    study_instance_uid: str,
    *,
    patient_id: int,
    actor: str,
    level: str | None = None,
    label: int | None = None,
    series_instance_uids: list[str] | None = None,
    store_dir: str | Path | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Retrieve a study from the PACS and import it into the registry, de-identified.

    Parameters
    ----------
    registry : Registry
    client : PacsClient
    study_instance_uid : str
        The study on the PACS (its original UID; not stored).
    patient_id : int, keyword-only
        The registry patient the study belongs to (the clinician's choice; the
        PACS patient ID is not stored).
    actor : str, keyword-only
    level, label : optional
        As for :func:`resorb.registry.import_dicom` (disc level; SEG segment to measure).
    series_instance_uids : list of str, optional
        Retrieve only these series (e.g. the SEG and the series it was drawn on).
    store_dir : str or Path, optional
        Keep the de-identified objects here (needed later by :func:`send_to_pacs`).
    progress : callable, optional
        ``progress(done, total)`` per retrieved instance.

    Returns
    -------
    dict
        The import's result plus ``pacs``: the PACS URL (without credentials),
        the number of instances and bytes retrieved.
    """
    registry.get_patient(patient_id)  # fail before any transfer
    with tempfile.TemporaryDirectory(prefix="resorb-pacs-") as tmp:
        got = client.retrieve_study(
            study_instance_uid,
            Path(tmp) / "study",
            series_instance_uids=series_instance_uids,
            progress=progress,
        )
        result = import_dicom(
            registry,
            got.folder,
            patient_id=patient_id,
            level=level,
            label=label,
            actor=actor,
            store_dir=store_dir,
        )
    result["pacs"] = {
        "url": client.config.display_url,
        "instances": len(got.files),
        "bytes": got.n_bytes,
    }
    log.info(
        "imported %s instances from PACS %s for registry patient %s",
        len(got.files),
        client.config.display_url,
        patient_id,
    )
    return result


def send_to_pacs(
    registry: Registry,
    client: PacsClient,
    *,
    mri_id: int,
    seg: str | Path | Any,
    actor: str,
    segment: int | None = None,
    include_seg: bool = True,
) -> dict[str, Any]:
    """Store the de-identified SEG of a registry MRI study and an SR of its volume on a PACS.

    The SR is the registry's (:func:`resorb.registry._dicom.volume_sr`): it checks
    that ``seg`` is the SEG the study was measured on and ``segment`` the segment
    measured, and gives every SR of one herniation the same Tracking UID.

    Parameters
    ----------
    registry : Registry
    client : PacsClient
    mri_id : int, keyword-only
        A registry MRI study imported from a DICOM SEG.
    seg : path or pydicom.Dataset, keyword-only
        The de-identified SEG the import wrote (``store_dir``); refused when it
        is not de-identified (PatientIdentityRemoved other than YES).
    actor : str, keyword-only
        Acting user for the audit log.
    segment : int, optional
        The SEG segment that holds the herniation; default: the segment the
        import measured, or the SEG's only segment.
    include_seg : bool
        Also store the SEG (default), so that the SR's reference resolves on the PACS.

    Returns
    -------
    dict
        ``stored`` (SOP Instance UIDs), ``sr_sop_instance_uid``,
        ``seg_sop_instance_uid``, ``study_instance_uid`` (de-identified),
        ``volume_mm3``, ``segment``, ``tracking_uid``, ``pacs``.
    """
    pydicom = require_extra("pydicom", "imaging")
    from resorb.registry._dicom import volume_sr

    if isinstance(seg, str | Path):
        try:
            ds = pydicom.dcmread(seg)
        except Exception:
            raise InvalidInputError(
                "seg",
                "is not a readable DICOM file",
                allowed="the de-identified DICOM SEG of the study",
            ) from None
    else:
        ds = seg
    if str(getattr(ds, "SOPClassUID", "")) not in SEGMENTATION_SOP_CLASSES:
        raise InvalidInputError("seg", "is not a DICOM SEG", allowed="a Segmentation object")
    if str(getattr(ds, "PatientIdentityRemoved", "")).upper() != "YES":
        raise InvalidInputError(
            "seg",
            "is not de-identified (PatientIdentityRemoved is not YES)",
            allowed="the de-identified copy written by the import",
        )
    sr, info = volume_sr(registry, mri_id, ds, segment=segment, actor=actor)
    objects = [ds, sr] if include_seg else [sr]
    result = client.store(objects)
    log.info(
        "stored %s objects of MRI study %s on PACS %s",
        len(result.stored),
        mri_id,
        client.config.display_url,
    )
    return {
        "stored": list(result.stored),
        "sr_sop_instance_uid": str(sr.SOPInstanceUID),
        "seg_sop_instance_uid": str(ds.SOPInstanceUID),
        "study_instance_uid": str(ds.StudyInstanceUID),
        "volume_mm3": info["volume_mm3"],
        "segment": info["segment"],
        "tracking_uid": str(info["tracking_uid"]),
        "pacs": client.config.display_url,
    }


def send_sr_to_original_study(
    registry: Registry,
    client: PacsClient,
    *,
    mri_id: int,
    seg: str | Path | Any,
    study_instance_uid: str,
    actor: str,
    segment: int | None = None,
) -> dict[str, Any]:
    """Store an SR of a registry MRI study's volume in the original study on the PACS.

    Parameters
    ----------
    registry : Registry
    client : PacsClient
    mri_id : int, keyword-only
        A registry MRI study imported from a DICOM SEG of that PACS.
    seg : path or pydicom.Dataset, keyword-only
        The de-identified SEG the import wrote; the registry's checks
        (:func:`resorb.registry._dicom.volume_sr`: the study's SEG and segment,
        the Tracking UID) run on it.
    study_instance_uid : str, keyword-only
        The original study on the PACS (where the clinician found it).
    actor : str, keyword-only
    segment : int, optional

    Returns
    -------
    dict
        ``stored``, ``sr_sop_instance_uid``, ``seg_sop_instance_uid`` (the
        original SEG), ``study_instance_uid``, ``volume_mm3``, ``segment``,
        ``tracking_uid``, ``identity`` (``"clinical"``), ``pacs``.

    Raises
    ------
    InvalidInputError
        When the study holds no SEG from which this MRI study was imported.
    """
    pydicom = require_extra("pydicom", "imaging")
    from resorb.interop.deid import UIDMap
    from resorb.interop.sr import read_volumes, volume_report
    from resorb.registry import _models as m
    from resorb.registry._dicom import _uid_key, volume_sr

    ds = pydicom.dcmread(seg) if isinstance(seg, str | Path) else seg
    if str(getattr(ds, "PatientIdentityRemoved", "")).upper() != "YES":
        raise InvalidInputError(
            "seg",
            "is not de-identified (PatientIdentityRemoved is not YES)",
            allowed="the de-identified copy written by the import",
        )
    checked_sr, info = volume_sr(registry, mri_id, ds, segment=segment, actor=actor)
    with registry.transaction(actor=actor) as s:
        uid_map = UIDMap(key=_uid_key(s))
        level = s.get(m.MRIStudy, mri_id).level
    wanted = str(ds.SOPInstanceUID)
    candidates = [
        i
        for i in client.search_instances(study_instance_uid)
        if i["SOPClassUID"] in SEGMENTATION_SOP_CLASSES
    ]
    match = [i for i in candidates if uid_map(i["SOPInstanceUID"]) == wanted]
    if not match:
        raise InvalidInputError(
            "study_instance_uid",
            f"holds no SEG from which MRI study "
            f"{mri_id} was imported ({len(candidates)} SEG checked)",
            allowed="the study the MRI study was imported from",
        )
    original = client.retrieve_instance(
        study_instance_uid, match[0]["SeriesInstanceUID"], match[0]["SOPInstanceUID"]
    )
    # The registry's SR as a plain dataset (read_volumes parses stored SRs): its
    # tracking identifier is reused, so both SRs of this herniation name it alike.
    buf = io.BytesIO()
    checked_sr.save_as(buf, enforce_file_format=True)
    (checked,) = read_volumes(pydicom.dcmread(io.BytesIO(buf.getvalue())))
    sr = volume_report(
        original,
        [
            {
                "segment_number": info["segment"],
                "volume_mm3": info["volume_mm3"],
                "level": level,
                "tracking_uid": info["tracking_uid"],
                "tracking_id": checked["tracking_id"],
            }
        ],
    )
    result = client.store([sr])
    log.info(
        "stored the SR of MRI study %s in its original study on PACS %s",
        mri_id,
        client.config.display_url,
    )
    return {
        "stored": list(result.stored),
        "sr_sop_instance_uid": str(sr.SOPInstanceUID),
        "seg_sop_instance_uid": str(original.SOPInstanceUID),
        "study_instance_uid": str(original.StudyInstanceUID),
        "volume_mm3": info["volume_mm3"],
        "segment": info["segment"],
        "tracking_uid": str(info["tracking_uid"]),
        "identity": "clinical",
        "pacs": client.config.display_url,
    }
