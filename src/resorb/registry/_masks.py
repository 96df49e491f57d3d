"""Measure an uploaded herniation mask and keep a de-identified copy beside the registry.

A mask arrives as a NIfTI (``.nii``/``.nii.gz``), NRRD (``.nrrd``, Slicer's
``.seg.nrrd``) or DICOM SEG file. :func:`inspect_mask` reads it with the
imaging readers (:meth:`resorb.imaging.HerniationMask.from_file`, which refuse
unreadable files, non-integer labels and oversized grids) and measures every
label; :func:`store_mask_measurement` stores one label's volume as an MRI
measurement (``source = "mask"``) together with a de-identified copy:

- NIfTI and NRRD: a new NIfTI-1 file holding only the label array and its
  affine (as both sform and qform). Every free-text header field of the
  upload (NIfTI ``descrip``, ``aux_file``, ``intent_name``, ``db_name``; NRRD
  ``content``, comments and custom keys, which tools fill with file paths,
  names and dates) is left behind; the segment names of a Slicer file are not
  kept either (free text).
- DICOM SEG: the registry's DICOM import (:func:`resorb.registry.import_dicom`),
  which de-identifies after DICOM PS3.15 and stores the study date shifted.

The uploaded file's name is never stored or logged; stored copies are named by
a random UUID under ``store_dir/masks``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resorb.errors import ImagingError, InvalidInputError
from resorb.registry._service import Registry

__all__ = [
    "MASK_SUFFIXES",
    "LabelVolume",
    "MaskInspection",
    "inspect_mask",
    "mask_suffix",
    "read_mask_file",
    "store_mask_measurement",
]

log = logging.getLogger("resorb.registry.masks")

#: Accepted file name endings, longest first.
MASK_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".dcm")


def mask_suffix(filename: str, head: bytes) -> str:
    """The reader suffix of an upload: from its name, else DICOM by its preamble.

    Raises
    ------
    InvalidInputError
        For any other kind of file (``field = "mask"``).
    """
    name = (filename or "").strip().lower()
    for suffix in MASK_SUFFIXES:
        if name.endswith(suffix):
            return ".nrrd" if suffix == ".seg.nrrd" else suffix
    if len(head) >= 132 and head[128:132] == b"DICM":
        return ".dcm"
    raise InvalidInputError(
        "mask",
        "is not a NIfTI, NRRD or DICOM SEG file",
        allowed=".nii, .nii.gz, .nrrd, .seg.nrrd or a DICOM SEG (.dcm)",
    )


@dataclass(frozen=True, slots=True)
class LabelVolume:
    """One label of a mask and its volume."""

    label: int
    voxel_count: int
    volume_mm3: float
    name: str | None


@dataclass(frozen=True, slots=True)
class MaskInspection:
    """What a mask holds: its format, voxel size and every label's volume."""

    kind: str  # "nifti" | "nrrd" | "dicom-seg"
    voxel_volume_mm3: float
    shape: tuple[int, int, int]
    labels: tuple[LabelVolume, ...]
    warnings: tuple[tuple[str, str], ...]

    def label_volume(self, label: int | None) -> LabelVolume:
        """The volume of ``label``; None picks the only label (refused when there are several)."""
        if not self.labels:
            raise InvalidInputError(
                "mask", "holds no labelled voxels", allowed="a mask with the herniation labelled"
            )
        if label is None:
            if len(self.labels) > 1:
                raise InvalidInputError(
                    "label",
                    "is needed: the mask holds labels "
                    + ", ".join(str(v.label) for v in self.labels),
                    allowed="the label of the herniation",
                )
            return self.labels[0]
        for v in self.labels:
            if v.label == label:
                return v
        raise InvalidInputError(
            "label",
            f"{label} is not in the mask",
            allowed=", ".join(str(v.label) for v in self.labels),
        )


def _read(path: Path):
    from resorb.imaging import HerniationMask

    try:
        return HerniationMask.from_file(path)
    except ImagingError as exc:
        # Reader messages start with the (temporary) path; the user knows the file.
        text = str(exc).replace(str(path), "the mask file").removeprefix("the mask file: ")
        # A reader that names what it allows ends its message with "(allowed: ...)":
        # keep that as the allowed values instead of saying "allowed" twice.
        message, sep, allowed = text.partition(" (allowed: ")
        raise InvalidInputError(
            "mask",
            message,
            allowed=allowed.removesuffix(")") if sep else "a NIfTI, NRRD or DICOM SEG label image",
        ) from None


def read_mask_file(path: str | Path):
    """The :class:`~resorb.imaging.HerniationMask` of a file; errors name the field ``mask``."""
    return _read(Path(path))


def inspect_mask(path: str | Path, *, mask: Any = None) -> MaskInspection:
    """Measure each label of a mask file (voxel count x voxel volume).

    ``mask`` is the file's :class:`~resorb.imaging.HerniationMask` when already
    read (:func:`read_mask_file`), so that a large file is read once.
    """
    from resorb.imaging import mask_volume

    p = Path(path)
    if mask is None:
        mask = _read(p)
    kind = {".nii": "nifti", ".gz": "nifti", ".nrrd": "nrrd"}.get(p.suffix.lower(), "dicom-seg")
    data = np.asarray(mask.labels)
    present = mask.present_labels()
    volumes = []
    for label in present:
        m = mask_volume(mask, label=label)
        volumes.append(
            LabelVolume(
                label=int(label),
                voxel_count=int(m.voxel_count or 0),
                volume_mm3=float(m.volume_mm3),
                name=mask.label_names.get(label) if kind != "nifti" else None,
            )
        )
    return MaskInspection(
        kind=kind,
        voxel_volume_mm3=float(mask.voxel_volume_mm3),
        shape=tuple(int(n) for n in data.shape[:3]),  # type: ignore[arg-type]
        labels=tuple(volumes),
        warnings=tuple(mask.warnings),
    )


def _write_clean_nifti(mask: Any, out: Path) -> None:
    """A NIfTI-1 of the label array and affine only (no text fields of the upload)."""
    import nibabel as nib

    data = np.asarray(mask.labels)
    top = int(data.max()) if data.size else 0
    dtype = np.uint8 if top <= 255 else np.uint16 if top <= 65535 else np.int32
    img = nib.Nifti1Image(data.astype(dtype, copy=False), mask.affine)
    img.set_sform(mask.affine, code=1)  # scanner-based coordinates
    img.set_qform(mask.affine, code=1)
    img.header.set_xyzt_units("mm")
    nib.save(img, out)


def store_mask_measurement(
    registry: Registry,
    path: str | Path,
    *,
    patient_id: int,
    date: Any,
    level: str | None,
    label: int | None,
    actor: str,
    store_dir: str | Path,
    mask: Any = None,
) -> dict[str, Any]:
    """Store the volume of one label of a mask file as an MRI measurement, with a clean copy.

    Parameters
    ----------
    registry : Registry
    path : str or Path
        The uploaded file, with its format's suffix (:func:`mask_suffix`).
    patient_id : int, keyword-only
    date : date or ISO string, keyword-only
        The MRI date (NIfTI/NRRD; a DICOM SEG carries its own study date).
    level : str, optional
    label : int, optional
        The herniation's label; required when the mask holds several.
    actor : str, keyword-only
    store_dir : str or Path, keyword-only
        Folder of the de-identified copies (``masks/`` and DICOM objects inside).
    mask : HerniationMask, optional
        The file already read (:func:`read_mask_file`); read here otherwise.

    Returns
    -------
    dict
        ``id`` (MRI study), ``volume_mm3``, ``label``, ``voxel_count``,
        ``voxel_volume_mm3``, ``kind``, ``stored_as`` (relative file name),
        ``date_from``, ``already_imported`` (a DICOM SEG imported before: its
        existing study is returned, nothing is added), ``warnings``.
    """
    from resorb.registry import MRIIn
    from resorb.registry import _models as m
    from resorb.registry._schemas import validate_input

    p = Path(path)
    registry.get_patient(patient_id)
    if mask is None:
        mask = _read(p)
    found = inspect_mask(p, mask=mask)
    chosen = found.label_volume(label)
    store = Path(store_dir)
    warnings = [{"field": f, "message": msg} for f, msg in found.warnings]
    if found.kind == "dicom-seg":
        from resorb.registry._dicom import import_dicom

        seg_dir = store / "dicom"
        before = set(seg_dir.glob("*.dcm")) if seg_dir.is_dir() else set()
        result = import_dicom(
            registry,
            p,
            patient_id=patient_id,
            level=level,
            label=chosen.label,
            actor=actor,
            store_dir=seg_dir,
        )
        (row,) = result["mri"]
        new = sorted(set(seg_dir.glob("*.dcm")) - before)
        stored = str(new[0].relative_to(store)) if new else None
        return {
            "id": row["id"],
            "volume_mm3": row["volume_mm3"],
            "label": chosen.label,
            "already_imported": bool(row.get("already_imported")),
            "voxel_count": chosen.voxel_count,
            "voxel_volume_mm3": found.voxel_volume_mm3,
            "kind": found.kind,
            "stored_as": stored,
            "date_from": "DICOM study date",
            "warnings": warnings,
        }
    mri = validate_input(
        MRIIn,
        {
            "date": date,
            "source": "mask",
            "volume_mm3": chosen.volume_mm3,
            "level": level,
            "method": f"mask ({found.kind}), voxel count",
        },
        field="mri",
    )
    masks = store / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.nii.gz"
    _write_clean_nifti(mask, masks / name)
    try:
        with registry.transaction(actor=actor) as s:
            row = m.MRIStudy(
                patient_id=patient_id,
                date=mri.date,
                date_is_shifted=False,
                level=mri.level,
                source="mask",
                method=mri.computed_method,
                volume_mm3=chosen.volume_mm3,
                series_info={
                    "mask_file": f"masks/{name}",
                    "format": found.kind,
                    "label": chosen.label,
                    "voxel_count": chosen.voxel_count,
                    "voxel_volume_mm3": found.voxel_volume_mm3,
                    "labels_present": [v.label for v in found.labels],
                    "deidentification": "label array and affine only; header "
                    "text, segment names and file name "
                    "not kept",
                },
            )
            s.add(row)
            s.flush()
            row_id = row.id
    except BaseException:
        (masks / name).unlink(missing_ok=True)
        raise
    log.info(
        "stored mask measurement %s (%s, label %s) for patient %s",
        row_id,
        found.kind,
        chosen.label,
        patient_id,
    )
    return {
        "id": row_id,
        "volume_mm3": chosen.volume_mm3,
        "label": chosen.label,
        "voxel_count": chosen.voxel_count,
        "voxel_volume_mm3": found.voxel_volume_mm3,
        "kind": found.kind,
        "stored_as": f"masks/{name}",
        "date_from": "form",
        "already_imported": False,
        "warnings": warnings,
    }
