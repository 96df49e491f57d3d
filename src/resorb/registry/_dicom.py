"""Import a DICOM SEG or series into the registry, de-identified on the way in.

The original files are read once in memory: the herniation volume is measured
from the SEG (:meth:`resorb.imaging.HerniationMask.from_dicom_seg`), then each
dataset is de-identified (:func:`resorb.interop.deid.deidentify`, PS3.15 Basic
Profile with Modified Dates) with the patient's secret date offset and one UID
map for the whole import. Only de-identified values reach the database (the
study date shifted, new UIDs, technical series attributes) and the log; file
paths, which often carry names, are never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from pathlib import Path
from typing import Any

from resorb.domain.bounds import check_volume_mm3, is_plausible_date, plausible_bounds
from resorb.errors import ImagingError, InvalidInputError, require_extra
from resorb.registry import _models as m
from resorb.registry._rows import _ensure_offset, _patient
from resorb.registry._service import Registry

__all__ = ["import_dicom"]

log = logging.getLogger("resorb.registry.dicom")

SEGMENTATION_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")

#: Technical attributes copied (after de-identification) into ``series_info``.
_SERIES_KEYWORDS = (
    "Modality",
    "SOPClassUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "SeriesNumber",
    "Manufacturer",
    "ManufacturerModelName",
    "MagneticFieldStrength",
    "SliceThickness",
    "SpacingBetweenSlices",
    "PixelSpacing",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SegmentationType",
    "ContentLabel",
)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    raise InvalidInputError("path", "does not exist", allowed="a DICOM file or a folder")


def _read_all(paths: list[Path]):
    pydicom = require_extra("pydicom", "imaging")
    out = []
    for p in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom's warnings quote element values
                ds = pydicom.dcmread(p)
        except Exception:  # not DICOM: skipped, and not named (paths may identify)
            continue
        if "SOPClassUID" not in ds:
            continue
        out.append((p, ds))
    if not out:
        raise InvalidInputError(
            "path",
            "holds no readable DICOM object",
            allowed="a DICOM SEG, a DICOM image or a folder of one series",
        )
    return out


def _study_date(ds) -> str:
    for kw in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        value = str(getattr(ds, kw, "") or "").strip()
        if len(value) >= 8:
            return value[:8]
    raise InvalidInputError(
        "StudyDate",
        "is missing from the DICOM object",
        allowed="a DICOM object with its study date",
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return [_jsonable(v) for v in value]
    if isinstance(value, int | float | str) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _series_info(deid, *, n_instances: int, extra: dict[str, Any]) -> dict[str, Any]:
    from resorb.interop.deid import TABLE_EDITION

    info: dict[str, Any] = {"instances": n_instances}
    for kw in _SERIES_KEYWORDS:
        if kw in deid and deid.data_element(kw).value not in (None, ""):
            info[kw] = _jsonable(deid.data_element(kw).value)
    info["deidentification"] = {
        "profile": "DICOM PS3.15 Basic Application Level Confidentiality Profile",
        "options": ["Retain Longitudinal Temporal Information Modified Dates", "Clean Descriptors"],
        "table": f"PS3.15 Table E.1-1 ({TABLE_EDITION})",
        "PatientIdentityRemoved": str(deid.PatientIdentityRemoved),
    }
    info.update(extra)
    return info


def import_dicom(
    registry: Registry,
    path: str | Path,
    *,
    patient_id: int,
    level: str | None = None,
    label: int | None = None,
    actor: str,
    store_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Import DICOM SEG(s) and/or one image series for a registry patient.

    Parameters
    ----------
    registry : Registry
    path : str or Path
        A SEG file, an image file, or a folder (searched recursively).
    patient_id : int, keyword-only
    level : str, keyword-only, optional
        Disc level of the segmented herniation (``"L5-S1"``).
    label : int, keyword-only, optional
        SEG segment number of the herniation; may be left out only when one
        segment holds voxels (that one is measured). Several segments are never
        added together: the other segments are other structures.
    actor : str, keyword-only
        Acting user for the audit log.
    store_dir : str or Path, keyword-only, optional
        Also write the de-identified DICOM objects here (named by their new
        SOP Instance UID).

    Returns
    -------
    dict
        ``mri`` (one entry per SEG, or one per image series when there is no
        SEG: id, date as shifted, volume_mm3, source, series UIDs) and
        ``deidentified`` (number of objects).

    Raises
    ------
    InvalidInputError, ImagingError
        Nothing is written then.
    """
    from resorb.domain import SpinalLevel, parse_enum
    from resorb.imaging import HerniationMask, mask_volume
    from resorb.interop.deid import UIDMap, deidentify

    src = Path(path)
    level_value = None if level is None else parse_enum(SpinalLevel, level, field="level").value
    objects = _read_all(_files(src))
    segs = [(p, ds) for p, ds in objects if str(ds.SOPClassUID) in SEGMENTATION_SOP_CLASSES]
    images = [(p, ds) for p, ds in objects if str(ds.SOPClassUID) not in SEGMENTATION_SOP_CLASSES]
    # The real study date must not lie in the future. Checked before shifting: a
    # shifted date is 30-730 days earlier and would hide a future original. The
    # date itself is not repeated in the message (it is an identifier).
    today = dt.date.today()
    earliest = plausible_bounds().earliest_date
    for _p, ds in segs or images:
        if _to_date(_study_date(ds)) > today:
            raise InvalidInputError(
                "StudyDate", "is in the future", allowed="a DICOM study date up to today"
            )
        if not is_plausible_date(_to_date(_study_date(ds)), today=today):
            raise InvalidInputError(
                "StudyDate",
                "is before the earliest plausible date",
                allowed=f"a DICOM study date from {earliest} to today",
            )

    # Measure from the originals before anything is written.
    volumes = []
    # The images imported with a SEG are its source series: they give the slice spacing
    # when the SEG does not (frames left out because empty would otherwise be ambiguous).
    sources = [ds for _p, ds in images] or None
    segments = []
    for p, _ds in segs:
        try:
            mask = HerniationMask.from_dicom_seg(p, source_images=sources)
        except (ImagingError, InvalidInputError) as exc:
            text = str(exc).replace(str(p), "<SEG file>")
            raise ImagingError(f"DICOM SEG cannot be measured: {text}") from None
        segment = label if label is not None else _only_segment(mask)
        try:
            vm = mask_volume(mask, label=segment)
        except (ImagingError, InvalidInputError) as exc:
            text = str(exc).replace(str(p), "<SEG file>")
            raise ImagingError(f"DICOM SEG cannot be measured: {text}") from None
        check_volume_mm3(float(vm.volume_mm3), field="volume_mm3")
        volumes.append(vm)
        segments.append(segment)

    created = []
    with registry.transaction(actor=actor) as s:
        _patient(s, patient_id)
        offset = _ensure_offset(s, patient_id)
        # One key per registry: the same object gets the same new UIDs in every import,
        # so a SEG imported apart from its series still references it.
        uid_map = UIDMap(key=_uid_key(s))
        deid_objects = [
            (ds, deidentify(ds, offset_days=offset, uid_map=uid_map)) for _p, ds in objects
        ]
        deid_of = {id(ds): d for ds, d in deid_objects}
        rows = []
        known = []
        for (_p, ds), vm, segment in zip(segs, volumes, segments, strict=True):
            d = deid_of[id(ds)]
            previous = _imported(s, patient_id, "SOPInstanceUID", str(d.SOPInstanceUID))
            if previous is not None:
                known.append(previous)
                continue
            rows.append(
                m.MRIStudy(
                    patient_id=patient_id,
                    date=_to_date(_study_date(d)),
                    date_is_shifted=True,
                    level=level_value,
                    source="dicom-seg",
                    method=vm.method,
                    volume_mm3=float(vm.volume_mm3),
                    series_info=_series_info(
                        d,
                        n_instances=1,
                        extra={
                            "voxel_count": vm.voxel_count,
                            "voxel_volume_mm3": vm.voxel_volume_mm3,
                            "segment": segment,
                            "SOPInstanceUID": str(d.SOPInstanceUID),
                        },
                    ),
                )
            )
        if not segs:
            by_series: dict[str, list] = {}
            for _p, ds in images:
                by_series.setdefault(str(getattr(ds, "SeriesInstanceUID", "")), []).append(ds)
            for members in by_series.values():
                d = deid_of[id(members[0])]
                previous = _imported(
                    s,
                    patient_id,
                    "SeriesInstanceUID",
                    str(d.SeriesInstanceUID),
                    source="dicom-series",
                )
                if previous is not None:
                    known.append(previous)
                    continue
                rows.append(
                    m.MRIStudy(
                        patient_id=patient_id,
                        date=_to_date(_study_date(d)),
                        date_is_shifted=True,
                        level=level_value,
                        source="dicom-series",
                        method=None,
                        volume_mm3=None,
                        series_info=_series_info(d, n_instances=len(members), extra={}),
                    )
                )
        for row in rows:
            s.add(row)
        s.flush()
        for row in [*known, *rows]:
            created.append(
                {
                    "id": row.id,
                    "date_shifted": row.date.isoformat(),
                    "source": row.source,
                    "volume_mm3": row.volume_mm3,
                    "level": row.level,
                    "StudyInstanceUID": row.series_info.get("StudyInstanceUID"),
                    "SeriesInstanceUID": row.series_info.get("SeriesInstanceUID"),
                    "already_imported": row in known,
                }
            )
        if store_dir is not None:
            out = Path(store_dir)
            out.mkdir(parents=True, exist_ok=True)
            for _ds, d in deid_objects:
                d.save_as(out / f"{d.SOPInstanceUID}.dcm", enforce_file_format=False)
    for c in created:
        log.info(
            "imported MRI %s (%s, %s instances de-identified) as study %s",
            c["id"],
            c["source"],
            len(objects),
            c["StudyInstanceUID"],
        )
    return {"patient_id": patient_id, "mri": created, "deidentified": len(objects)}


def _only_segment(mask) -> int:
    """The one segment of a SEG that holds voxels; several: the caller must choose."""
    present = [int(x) for x in mask.present_labels()]
    if len(present) > 1:
        # Numbers only: a segment's label is free text that may name the patient.
        raise InvalidInputError(
            "label",
            "is needed: the SEG holds segments " + ", ".join(map(str, present)),
            allowed="the segment number of the herniation",
        )
    if not present:
        raise ImagingError("DICOM SEG cannot be measured: no segment holds voxels")
    return present[0]


def _uid_key(s) -> bytes:
    """The registry's key of the DICOM UID map, drawn on first use (a savepoint, as for
    the date offsets: if a concurrent import drew it first, theirs is kept)."""
    import secrets

    from sqlalchemy.exc import IntegrityError

    row = s.get(m.RegistryKey, "dicom-uid")
    if row is None:
        try:
            with s.begin_nested():
                row = m.RegistryKey(name="dicom-uid", value=secrets.token_hex(32))
                s.add(row)
        except IntegrityError:
            row = s.get(m.RegistryKey, "dicom-uid", populate_existing=True)
    return bytes.fromhex(row.value)


def _imported(s, patient_id: int, key: str, uid: str, source: str | None = None):
    """The MRI row an earlier import made of this (de-identified) object, if any.

    De-identified UIDs are the same in every import (one key per registry), so the
    same object imported again is recognised. Imported for another patient: refused.
    """
    from sqlalchemy import select

    query = select(m.MRIStudy).where(m.MRIStudy.series_info[key].as_string() == uid)
    if source is not None:
        query = query.where(m.MRIStudy.source == source)
    for row in s.scalars(query):
        if row.patient_id != patient_id:
            raise InvalidInputError(
                "path",
                "holds DICOM objects already imported for another patient",
                allowed="the DICOM objects of this patient",
            )
        return row
    return None


def _to_date(da: str):
    try:
        return dt.datetime.strptime(da, "%Y%m%d").date()
    except ValueError:
        raise InvalidInputError(
            "StudyDate", "is not a valid DICOM date", allowed="YYYYMMDD"
        ) from None


def volume_sr(
    registry: Registry, mri_id: int, seg: Any, *, segment: int | None = None, actor: str
) -> tuple[Any, dict[str, Any]]:
    """A DICOM SR (TID 1500) of a registry MRI study's volume on the SEG it was measured on.

    Checks that ``seg`` (a pydicom Dataset) is the de-identified SEG this study was
    measured on (same SOP Instance UID as stored by the import) and that
    ``segment`` is the segment measured (default: that one, or the SEG's only
    segment). The herniation's Tracking UID is derived from the registry's key,
    the patient and the disc level, so every SR of one herniation carries the same.

    Returns
    -------
    (highdicom.sr.Comprehensive3DSR, dict)
        The SR and ``volume_mm3``, ``segment``, ``tracking_uid``.
    """
    from resorb.interop.deid import UIDMap
    from resorb.interop.sr import volume_report
    from resorb.registry._rows import RecordNotFoundError

    with registry.transaction(actor=actor) as s:
        row = s.get(m.MRIStudy, mri_id)
        if row is None:
            raise RecordNotFoundError("mri", f"no MRI study {mri_id}")
        info = dict(row.series_info or {})
        volume, level, patient_id = row.volume_mm3, row.level, row.patient_id
        key = _uid_key(s)
    if volume is None:
        raise InvalidInputError(
            "mri", f"MRI study {mri_id} has no volume", allowed="a study with a measured volume"
        )
    if str(getattr(seg, "SOPClassUID", "")) not in SEGMENTATION_SOP_CLASSES:
        raise InvalidInputError("seg", "is not a DICOM SEG", allowed="a Segmentation object")
    if not info.get("SOPInstanceUID") or str(seg.SOPInstanceUID) != str(info["SOPInstanceUID"]):
        raise InvalidInputError(
            "seg",
            f"is not the SEG MRI study {mri_id} was measured on",
            allowed="the de-identified SEG the import stored for that "
            "study (same SOP Instance UID)",
        )
    numbers = sorted(int(x.SegmentNumber) for x in getattr(seg, "SegmentSequence", []))
    measured = info.get("segment")
    if measured is None and len(numbers) != 1:
        raise InvalidInputError(
            "mri",
            f"MRI study {mri_id} measured every segment together",
            allowed="a study measured on one segment (import with --label)",
        )
    measured = measured if measured is not None else numbers[0]
    segment = measured if segment is None else segment
    if segment not in numbers:
        raise InvalidInputError(
            "segment",
            f"{segment} is not a segment of the SEG",
            allowed=", ".join(map(str, numbers)),
        )
    if segment != measured:
        raise InvalidInputError(
            "segment", f"{segment} is not the segment measured ({measured})", allowed=str(measured)
        )
    tracking_uid = UIDMap(key=key)(f"resorb herniation {patient_id} {level or 'unspecified'}")
    sr = volume_report(
        seg,
        [
            {
                "segment_number": segment,
                "volume_mm3": float(volume),
                "level": level,
                "tracking_uid": tracking_uid,
                "tracking_id": f"herniation {level or 'unspecified level'}",
            }
        ],
    )
    return sr, {"volume_mm3": float(volume), "segment": segment, "tracking_uid": tracking_uid}
