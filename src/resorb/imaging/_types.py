"""Value objects of :mod:`resorb.imaging`: label masks and volume measurements.

Nothing here reads files; the readers live in :mod:`resorb.imaging.io` and are
reached through the ``HerniationMask.from_*`` constructors, which import them
lazily so that the core never imports nibabel, pynrrd or pydicom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from resorb.errors import ImagingError, InvalidInputError

__all__ = ["HerniationMask", "VolumeMeasurement"]

#: Names of the volume methods, as they appear in results and JSON.
METHODS = ("voxel_count", "ellipsoid", "cavalieri", "reported")


@dataclass(frozen=True, slots=True)
class VolumeMeasurement:
    """A herniation volume and how it was obtained.

    Attributes
    ----------
    volume_mm3 : float
        Volume in cubic millimetres (>= 0).
    method : str
        ``"voxel_count"`` (label mask: voxel count x voxel volume),
        ``"ellipsoid"`` (pi/6 x AP x TR x CC), ``"cavalieri"`` (sum of slice
        areas x slice spacing) or ``"reported"`` (a volume given as a number).
    voxel_count : int or None
        Voxels counted (``voxel_count`` method only).
    voxel_volume_mm3 : float or None
        Volume of one voxel, ``|det(affine[:3, :3])|`` in mm3 (``voxel_count`` only).
    label : int or None
        Label that was counted; None means every nonzero voxel.
    source : str or None
        File the mask came from, when there was one.
    warnings : tuple of (field, message)
        Doubts about the mask's geometry that did not stop the measurement
        (see :attr:`HerniationMask.warnings`).
    """

    volume_mm3: float
    method: str
    voxel_count: int | None = None
    voxel_volume_mm3: float | None = None
    label: int | None = None
    source: str | None = None
    warnings: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not (np.isfinite(self.volume_mm3) and self.volume_mm3 >= 0):
            raise InvalidInputError(
                "volume_mm3", f"{self.volume_mm3!r}", allowed="a finite volume >= 0 mm3"
            )
        if self.method not in METHODS:
            raise InvalidInputError("method", f"{self.method!r}", allowed=", ".join(METHODS))


@dataclass(frozen=True, slots=True, eq=False)
class HerniationMask:
    """A label image of the herniation with its voxel-to-millimetre affine.

    Valid once built: the labels are a 3-D integer (or boolean) array and the
    affine a finite 4 x 4 matrix whose 3 x 3 part is invertible. The array is
    kept as given (a read-only view; memory-mapped files stay mapped), so
    building a mask of a large image costs no copy.

    Parameters
    ----------
    labels : (I, J, K) ndarray of int or bool
        Label of each voxel; 0 is background.
    affine : (4, 4) ndarray of float
        Maps voxel indices ``(i, j, k, 1)`` to millimetres in the image's own
        patient space (RAS+ for every reader in :mod:`resorb.imaging.io`).
        Oblique and anisotropic voxels are allowed; the voxel volume is
        ``|det(affine[:3, :3])|``.
    source : Path, optional
        File the mask was read from.
    declared_labels : frozenset of int, optional
        Labels the file declares even when they have no voxels (the segment
        numbers of a DICOM SEG). Counting a declared but empty label gives a
        volume of 0 instead of an error.
    label_names : mapping of int to str, optional
        Names of the labels where the file has them (DICOM SEG segment labels,
        Slicer ``.seg.nrrd`` segment names); stored read-only.
    warnings : tuple of (field, message), optional
        What the reader found doubtful without refusing the file (a NIfTI whose
        qform and sform disagree names both readings here).
    """

    labels: np.ndarray
    affine: np.ndarray
    source: Path | None = None
    declared_labels: frozenset[int] | None = None
    label_names: Mapping[int, str] = field(default_factory=dict)
    warnings: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        labels = np.asanyarray(self.labels)
        if labels.ndim > 3 and all(n == 1 for n in labels.shape[3:]):
            labels = labels.reshape(labels.shape[:3])
        if labels.ndim != 3:
            raise ImagingError(
                f"{self._where()}: label image has shape {labels.shape}; "
                "a 3-D label image is needed"
            )
        if labels.dtype.kind == "f":
            labels = _integral_labels(labels, self._where())
        elif labels.dtype.kind not in "biu":
            raise ImagingError(
                f"{self._where()}: label image of type {labels.dtype} "
                "cannot hold labels (allowed: integer or boolean voxels)"
            )
        labels = labels.view(type=np.ndarray) if isinstance(labels, np.memmap) else labels.view()
        labels.flags.writeable = False
        affine = np.array(self.affine, dtype=float)
        if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
            raise ImagingError(
                f"{self._where()}: affine must be a finite 4 x 4 matrix, got shape {affine.shape}"
            )
        if abs(np.linalg.det(affine[:3, :3])) == 0:
            raise ImagingError(f"{self._where()}: affine has a zero voxel volume")
        affine.flags.writeable = False
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "affine", affine)
        if self.source is not None:
            object.__setattr__(self, "source", Path(self.source))
        object.__setattr__(
            self,
            "label_names",
            MappingProxyType({int(k): str(v) for k, v in self.label_names.items()}),
        )
        object.__setattr__(self, "warnings", tuple((str(f), str(m)) for f, m in self.warnings))
        if self.declared_labels is not None:
            object.__setattr__(
                self, "declared_labels", frozenset(int(v) for v in self.declared_labels)
            )

    def _where(self) -> str:
        return str(self.source) if self.source is not None else "mask"

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the label array (voxels)."""
        return tuple(self.labels.shape)

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm3, ``|det(affine[:3, :3])|``."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @property
    def voxel_size_mm(self) -> tuple[float, float, float]:
        """Edge lengths of a voxel along the three array axes (mm)."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    def present_labels(self) -> tuple[int, ...]:
        """Nonzero labels that have at least one voxel (reads the whole array)."""
        data = self.labels
        if data.dtype.kind == "b":
            return (1,) if data.any() else ()
        if data.dtype.kind == "u" and data.dtype.itemsize <= 2:
            counts = np.bincount(data.ravel(order="K"))
            return tuple(int(v) for v in np.flatnonzero(counts) if v != 0)
        return tuple(int(v) for v in np.unique(data) if v != 0)

    # Readers -----------------------------------------------------------------------------

    @classmethod
    def from_nifti(cls, path: str | Path) -> HerniationMask:
        """Read a NIfTI-1/2 label image (``.nii`` or ``.nii.gz``) with nibabel."""
        from resorb.imaging import io

        return io.read_nifti(path)

    @classmethod
    def from_nrrd(cls, path: str | Path) -> HerniationMask:
        """Read an NRRD label image (``.nrrd``, ``.seg.nrrd``) with pynrrd."""
        from resorb.imaging import io

        return io.read_nrrd(path)

    @classmethod
    def from_dicom_seg(cls, path: str | Path, *, source_images: object = None) -> HerniationMask:
        """Read a DICOM Segmentation (BINARY or LABELMAP) with pydicom.

        ``source_images`` (folder, paths or Datasets of the images the SEG was
        drawn on) gives the slice spacing when the SEG itself does not.
        """
        from resorb.imaging import io

        return io.read_dicom_seg(path, source_images=source_images)

    @classmethod
    def from_file(cls, path: str | Path, *, source_images: object = None) -> HerniationMask:
        """Read a mask, choosing the reader from the suffix or, failing that, the content."""
        from resorb.imaging import io

        return io.read_mask(path, source_images=source_images)


def _integral_labels(labels: np.ndarray, where: str) -> np.ndarray:
    """Convert a floating-point label image whose values are all whole numbers."""
    if not np.all(np.isfinite(labels)):
        raise ImagingError(
            f"{where}: label image contains NaN or infinite values (allowed: integer labels)"
        )
    if not np.array_equal(labels, np.trunc(labels)):
        raise ImagingError(
            f"{where}: label image is not integer-valued (a probability or "
            "intensity image?); allowed: integer labels, 0 = background"
        )
    if labels.size and (
        labels.min() < np.iinfo(np.int32).min or labels.max() > np.iinfo(np.int32).max
    ):
        raise ImagingError(f"{where}: label values out of the 32-bit integer range")
    return labels.astype(np.int32)
