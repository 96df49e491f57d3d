"""Herniation volume from MRI and serial comparison.

Volume from label masks (NIfTI, NRRD, DICOM SEG) under the image's own affine,
from three diameters (ellipsoid) or from slice areas (Cavalieri); signed
resorption percent between two studies, its grade and whether the change
exceeds the minimal detectable change. File readers are in
:mod:`resorb.imaging.io` (needs the ``imaging`` extra); the rest works on
arrays and numbers.
"""

from resorb._public import publish as _publish
from resorb.imaging._error import VolumeErrorModel, volume_error_model
from resorb.imaging._serial import (
    DAYS_PER_MONTH,
    ResorptionGrade,
    ResorptionGrading,
    ResorptionResult,
    compare_volumes,
)
from resorb.imaging._types import HerniationMask, VolumeMeasurement
from resorb.imaging._volumetry import (
    cavalieri_volume_mm3,
    count_label_voxels,
    ellipsoid_volume_mm3,
    mask_volume,
    measure_study,
)

__all__ = [
    "DAYS_PER_MONTH",
    "HerniationMask",
    "ResorptionGrade",
    "ResorptionGrading",
    "ResorptionResult",
    "VolumeErrorModel",
    "VolumeMeasurement",
    "cavalieri_volume_mm3",
    "compare_volumes",
    "count_label_voxels",
    "ellipsoid_volume_mm3",
    "mask_volume",
    "measure_study",
    "volume_error_model",
]

_publish(__name__, globals())
