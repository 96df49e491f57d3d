"""Readers of label masks: NIfTI (nibabel), NRRD (pynrrd), DICOM SEG (pydicom).

Every reader returns a :class:`~resorb.imaging.HerniationMask` whose affine maps
voxel indices to millimetres in RAS+ patient space (nibabel's convention;
DICOM and LPS NRRD geometry is converted by negating x and y). The volume
depends only on ``|det(affine[:3, :3])|``, which the conversion preserves.

Every reader checks the dimensions its header declares against a voxel budget
(:data:`MAX_MASK_VOXELS`, :data:`MAX_MASK_BYTES`) before reading or allocating
the voxels. Readers fail with :class:`~resorb.errors.ImagingError` naming the
file and the problem (missing, empty, truncated, corrupt, too large, not a
label image, unknown slice spacing) on one line; a missing library raises
:class:`~resorb.errors.MissingExtraError` naming the ``imaging`` extra.

The readers live in :mod:`resorb.imaging._nifti`, :mod:`resorb.imaging._nrrd`
and :mod:`resorb.imaging._seg` (the slice-spacing rules of a DICOM SEG are
documented there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resorb.errors import ImagingError
from resorb.imaging._mask_files import FORMATS, MAX_MASK_BYTES, MAX_MASK_VOXELS, check_file
from resorb.imaging._nifti import read_nifti
from resorb.imaging._nrrd import read_nrrd
from resorb.imaging._seg import (
    LABEL_MAP_SEGMENTATION_STORAGE,
    SEGMENTATION_STORAGE,
    read_dicom_seg,
)
from resorb.imaging._types import HerniationMask

__all__ = [
    "LABEL_MAP_SEGMENTATION_STORAGE",
    "MAX_MASK_BYTES",
    "MAX_MASK_VOXELS",
    "SEGMENTATION_STORAGE",
    "read_dicom_seg",
    "read_mask",
    "read_nifti",
    "read_nrrd",
]


def read_mask(
    path: str | Path, *, source_images: Any = None, max_voxels: int | None = None
) -> HerniationMask:
    """Read a label mask, choosing the reader by suffix, else by the file's first bytes.

    ``source_images`` (a folder, file paths or pydicom Datasets of the images a
    DICOM SEG was drawn on) is used only for a DICOM SEG, whose slice spacing
    may need it; for NIfTI and NRRD it is refused.
    """
    p = check_file(path)
    name = p.name.lower()
    with p.open("rb") as fh:
        head = fh.read(132)
    if name.endswith((".dcm", ".dicom")) or (
        not name.endswith((".nii", ".nii.gz", ".nrrd", ".nhdr")) and head[128:132] == b"DICM"
    ):
        return read_dicom_seg(p, source_images=source_images, max_voxels=max_voxels)
    if source_images is not None:
        raise ImagingError(f"{p}: source images are only used with a DICOM SEG")
    if name.endswith((".nii", ".nii.gz")):
        return read_nifti(p, max_voxels=max_voxels)
    if name.endswith((".nrrd", ".nhdr")) or head.startswith(b"NRRD"):
        return read_nrrd(p, max_voxels=max_voxels)
    if (
        head[:2] == b"\x1f\x8b"
        or (len(head) >= 4 and int.from_bytes(head[:4], "little") in (348, 540))
        or (len(head) >= 4 and int.from_bytes(head[:4], "big") in (348, 540))
    ):
        return read_nifti(p, max_voxels=max_voxels)
    raise ImagingError(f"{p}: unknown mask format (allowed: {FORMATS})")
