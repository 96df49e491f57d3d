"""Herniation volume: voxel counting under the image's affine, ellipsoid, Cavalieri.

The core works on arrays and numbers only; files are read by
:mod:`resorb.imaging.io`.

References
----------
Cavalieri estimator (sum of section areas x section spacing) and ellipsoid
approximation (pi/6 x three orthogonal diameters) are standard geometry; their
use for herniation volume is described in the reference notes
(clinical-evidence.md, section 1.3).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resorb.errors import ImagingError, InvalidInputError
from resorb.imaging._types import HerniationMask, VolumeMeasurement

if TYPE_CHECKING:
    from resorb.domain import MRIStudy

__all__ = [
    "cavalieri_volume_mm3",
    "count_label_voxels",
    "ellipsoid_volume_mm3",
    "mask_volume",
    "measure_study",
]

#: Voxels compared per block when counting a label, so the boolean temporary
#: stays in cache instead of doubling the memory of a large image.
_BLOCK_VOXELS = 1 << 22


def _finite_number(value: object, field: str) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(field, f"{value!r} is not a number", allowed="a number") from None
    if not math.isfinite(x):
        raise InvalidInputError(field, f"{value!r} is not finite", allowed="a finite number")
    return x


def ellipsoid_volume_mm3(ap_mm: float, tr_mm: float, cc_mm: float) -> float:
    """Ellipsoid volume from three orthogonal diameters, pi/6 x AP x TR x CC.

    Parameters
    ----------
    ap_mm, tr_mm, cc_mm : float
        Anteroposterior, transverse and craniocaudal diameters (full lengths,
        not semi-axes) in mm; each >= 0.

    Returns
    -------
    float
        Volume in mm3.

    Notes
    -----
    A diameter-based volume is an approximation of a herniation's irregular
    shape and is not interchangeable with a segmented volume; results carry
    ``method="ellipsoid"`` so that the two are never mixed silently.

    Examples
    --------
    >>> round(ellipsoid_volume_mm3(10, 10, 10), 3)   # a 10 mm sphere
    523.599
    """
    names = ("ap_mm", "tr_mm", "cc_mm")
    values = [_finite_number(v, n) for v, n in zip((ap_mm, tr_mm, cc_mm), names, strict=True)]
    for v, n in zip(values, names, strict=True):
        if v < 0:
            raise InvalidInputError(n, f"{v:g} mm is negative", allowed="a diameter >= 0 mm")
    return math.pi / 6.0 * values[0] * values[1] * values[2]


def cavalieri_volume_mm3(areas_mm2: Sequence[float] | np.ndarray, *, spacing_mm: float) -> float:
    """Cavalieri volume: sum of the herniation's section areas x section spacing.

    Parameters
    ----------
    areas_mm2 : sequence of float
        Herniation area outlined on each consecutive, equally spaced section
        (mm2, each >= 0), including sections where it is 0 if they lie inside
        the sampled range.
    spacing_mm : float, keyword-only
        Distance between the centres of consecutive sections (slice thickness
        plus gap), in mm; > 0.

    Returns
    -------
    float
        Volume in mm3.

    Examples
    --------
    >>> cavalieri_volume_mm3([20.0, 35.5, 12.0], spacing_mm=4.0)
    270.0
    """
    spacing = _finite_number(spacing_mm, "spacing_mm")
    if spacing <= 0:
        raise InvalidInputError("spacing_mm", f"{spacing:g} mm", allowed="a spacing > 0 mm")
    try:
        areas = np.asarray(areas_mm2, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "areas_mm2", "not a list of numbers", allowed="areas >= 0 mm2"
        ) from None
    if areas.ndim != 1 or areas.size == 0:
        raise InvalidInputError(
            "areas_mm2", f"{areas.size} areas given", allowed="one or more section areas >= 0 mm2"
        )
    bad = np.flatnonzero(~np.isfinite(areas) | (areas < 0))
    if bad.size:
        i = int(bad[0])
        raise InvalidInputError(
            f"areas_mm2[{i}]", f"{areas[i]:g} mm2", allowed="a finite area >= 0 mm2"
        )
    return float(math.fsum(areas.tolist()) * spacing)


def _voxel_volume_mm3(*, affine: object, spacing_mm: object) -> float:
    if affine is not None and spacing_mm is not None:
        raise InvalidInputError(
            "affine", "given together with spacing_mm", allowed="either affine or spacing_mm"
        )
    if affine is not None:
        a = np.asarray(affine, dtype=float)
        if a.shape not in ((4, 4), (3, 3)) or not np.all(np.isfinite(a)):
            raise InvalidInputError(
                "affine", f"shape {a.shape}", allowed="a finite 4 x 4 (or 3 x 3) matrix in mm"
            )
        v = abs(float(np.linalg.det(a[:3, :3])))
    elif spacing_mm is not None:
        s = np.asarray(spacing_mm, dtype=float)
        if s.shape != (3,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise InvalidInputError(
                "spacing_mm", f"{spacing_mm!r}", allowed="three voxel sizes > 0 mm"
            )
        v = float(np.prod(s))
    else:
        raise InvalidInputError(
            "affine",
            "missing for a bare array",
            allowed="affine (4 x 4, mm) or spacing_mm (3 sizes)",
        )
    if v == 0:
        raise InvalidInputError(
            "affine", "has a zero voxel volume", allowed="an invertible voxel-to-mm matrix"
        )
    return v


def count_label_voxels(labels: np.ndarray, label: int | None = None) -> int:
    """Count the voxels of one label (or all nonzero voxels) without float copies.

    Integer comparisons run block by block over the flattened array, so the
    boolean temporary stays small; memory-mapped arrays are read once.

    Parameters
    ----------
    labels : ndarray of int or bool
        Label image, any shape.
    label : int, optional
        Label to count; None counts every nonzero voxel.
    """
    if label is None:
        return int(np.count_nonzero(labels))
    if labels.dtype.kind == "b":
        return int(np.count_nonzero(labels)) if label == 1 else 0
    info = np.iinfo(labels.dtype)
    if not info.min <= label <= info.max:
        return 0
    target = labels.dtype.type(label)
    flat = labels.reshape(-1, order="A") if labels.flags.forc else labels.ravel()
    if flat.size <= _BLOCK_VOXELS:
        return int(np.count_nonzero(flat == target))
    buf = np.empty(_BLOCK_VOXELS, dtype=bool)
    total = 0
    for start in range(0, flat.size, _BLOCK_VOXELS):
        chunk = flat[start : start + _BLOCK_VOXELS]
        out = buf[: chunk.size]
        np.equal(chunk, target, out=out)
        total += int(np.count_nonzero(out))
    return total


def _check_label(label: object) -> int | None:
    if label is None:
        return None
    if isinstance(label, bool | np.bool_):
        raise InvalidInputError("label", f"{label!r}", allowed="an integer label >= 1")
    try:
        value = operator.index(label)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInputError(
            "label", f"{label!r} is not an integer", allowed="an integer label >= 1"
        ) from None
    if value < 1:
        raise InvalidInputError(
            "label", f"{value}", allowed="an integer label >= 1 (0 is background)"
        )
    return value


def mask_volume(
    mask_or_array: HerniationMask | np.ndarray,
    *,
    affine: object = None,
    spacing_mm: object = None,
    label: int | None = None,
) -> VolumeMeasurement:
    """Volume of a label mask: voxel count x ``|det(affine[:3, :3])|``.

    Parameters
    ----------
    mask_or_array : HerniationMask or (I, J, K) ndarray of int or bool
        The mask. A :class:`HerniationMask` carries its own affine; a bare
        array needs ``affine`` or ``spacing_mm``.
    affine : (4, 4) array_like, keyword-only, optional
        Voxel-to-mm affine of a bare array (oblique and anisotropic allowed).
    spacing_mm : (3,) array_like, keyword-only, optional
        Voxel edge lengths of a bare array on an orthogonal grid.
    label : int, keyword-only, optional
        Label to measure (>= 1); None counts every nonzero voxel.

    Returns
    -------
    VolumeMeasurement
        ``method="voxel_count"`` with ``voxel_count`` and ``voxel_volume_mm3``.

    Raises
    ------
    ImagingError
        If ``label`` has no voxels in the mask (unless the file declares it,
        as a DICOM SEG does for its segments: then the volume is 0).
    InvalidInputError
        If the label or geometry arguments are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 4, 4), dtype=np.uint8); m[1:3, 1:3, 1:3] = 2
    >>> mask_volume(m, spacing_mm=(0.5, 0.5, 4.0), label=2).volume_mm3
    8.0
    """
    label = _check_label(label)
    if isinstance(mask_or_array, HerniationMask):
        if affine is not None or spacing_mm is not None:
            raise InvalidInputError(
                "affine",
                "given for a HerniationMask, which has its own",
                allowed="affine/spacing_mm only with a bare array",
            )
        mask = mask_or_array
    else:
        _voxel_volume_mm3(affine=affine, spacing_mm=spacing_mm)  # validates the geometry
        a = np.asarray(affine, dtype=float) if affine is not None else None
        if a is not None and a.shape == (3, 3):
            a = np.block([[a, np.zeros((3, 1))], [np.zeros((1, 3)), np.ones((1, 1))]])
        if a is None:
            a = np.diag([*np.asarray(spacing_mm, dtype=float), 1.0])
        mask = HerniationMask(labels=np.asanyarray(mask_or_array), affine=a)
    count = count_label_voxels(mask.labels, label)
    if (
        label is not None
        and count == 0
        and (mask.declared_labels is None or label not in mask.declared_labels)
    ):
        present = mask.present_labels()
        listed = ", ".join(str(v) for v in present) if present else "none (the mask is empty)"
        raise ImagingError(
            f"label: {label} is not present in {mask._where()} (labels present: {listed})"
        )
    vox = mask.voxel_volume_mm3
    return VolumeMeasurement(
        volume_mm3=count * vox,
        method="voxel_count",
        voxel_count=count,
        voxel_volume_mm3=vox,
        label=label,
        source=str(mask.source) if mask.source is not None else None,
        warnings=mask.warnings,
    )


def measure_study(study: MRIStudy) -> VolumeMeasurement:
    """Herniation volume of one MRI study of a case.

    Parameters
    ----------
    study : resorb.domain.MRIStudy
        Gives exactly one of ``volume_mm3`` (taken as reported), ``mask``
        (+ optional ``label``; read with :meth:`HerniationMask.from_file`) or
        ``diameters_mm`` (AP, TR, CC: ellipsoid).

    Returns
    -------
    VolumeMeasurement
    """
    where = f"mri[{getattr(study, 'index', 0)}]"
    volume = getattr(study, "volume_mm3", None)
    mask_path = getattr(study, "mask", None)
    diameters = getattr(study, "diameters_mm", None)
    if volume is not None:
        return VolumeMeasurement(volume_mm3=float(volume), method="reported")
    if mask_path is not None:
        try:
            mask = HerniationMask.from_file(Path(mask_path))
        except ImagingError as exc:
            raise ImagingError(f"{where}.mask: {exc}") from exc
        try:
            m = mask_volume(mask, label=study.label)
        except ImagingError as exc:
            raise ImagingError(f"{where}.{exc}") from exc
        from resorb.domain.bounds import check_volume_mm3

        check_volume_mm3(m.volume_mm3, field=f"{where}.mask")
        if m.warnings:
            import dataclasses

            m = dataclasses.replace(
                m, warnings=tuple((f"{where}.{f}", msg) for f, msg in m.warnings)
            )
        return m
    if diameters is not None:
        ap, tr, cc = diameters
        return VolumeMeasurement(volume_mm3=ellipsoid_volume_mm3(ap, tr, cc), method="ellipsoid")
    raise InvalidInputError(
        where, "has no measurement", allowed="one of volume_mm3, mask, diameters_mm"
    )
