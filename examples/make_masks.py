"""Write the synthetic herniation label masks in ``examples/masks/``.

Deterministic (seed and UIDs fixed below); no patient data: the "patient" is a
phantom with an obviously fake name, and all UIDs are derived by pydicom from
fixed strings. Run from the repository root::

    .venv/bin/python examples/make_masks.py

Files written (labels: 1 = disc, 2 = herniation):

- ``baseline.nii.gz`` and ``followup.nii.gz``: NIfTI-1, voxels 0.6 x 0.6 x 4 mm
  on an oblique grid (rotated 12 degrees about the left-right axis and 7
  degrees about the craniocaudal axis), herniation ellipsoid semi-axes
  5.5 x 7.5 x 9.0 mm at baseline and 3.5 x 5.5 x 6.5 mm at follow-up;
- ``baseline.nrrd``: the baseline labels and geometry as NRRD (LPS space, gzip);
- ``baseline_seg.dcm``: the baseline as a DICOM SEG (highdicom, BINARY, two
  segments numbered like the labels) over a synthetic MR series that is not saved.

The functions are also used by the tests in ``tests/imaging/``.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np

SEED = 20260215
OUT = Path(__file__).resolve().parent / "masks"

#: Grid shared by baseline and follow-up (array axes i, j, k).
SHAPE = (80, 80, 14)
VOXEL_MM = (0.6, 0.6, 4.0)
#: Semi-axes (mm) along RAS x (transverse), y (AP), z (craniocaudal).
DISC_SEMI_MM = (20.0, 14.0, 4.5)
HERNIATION_SEMI_MM = {"baseline": (7.5, 5.5, 9.0), "followup": (5.5, 3.5, 6.5)}
#: Herniation centre relative to the disc centre: posterior (RAS y < 0).
HERNIATION_OFFSET_MM = (3.0, -15.0, -2.0)

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def rotation(rx_deg: float, rz_deg: float) -> np.ndarray:
    """Rotation about x (left-right) then z (craniocaudal), as a 3 x 3 matrix."""
    ax, az = math.radians(rx_deg), math.radians(rz_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def oblique_affine(shape=SHAPE, voxel_mm=VOXEL_MM, rx_deg=12.0, rz_deg=7.0) -> np.ndarray:
    """RAS affine of a rotated, anisotropic grid whose centre is at the origin."""
    a = np.eye(4)
    a[:3, :3] = rotation(rx_deg, rz_deg) @ np.diag(voxel_mm)
    centre = (np.asarray(shape) - 1) / 2.0
    a[:3, 3] = -a[:3, :3] @ centre
    return a


def voxel_centres_mm(shape, affine: np.ndarray) -> np.ndarray:
    """World coordinates (RAS mm) of every voxel centre, shape ``shape + (3,)``."""
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return idx @ affine[:3, :3].T + affine[:3, 3]


def inside_ellipsoid(xyz: np.ndarray, centre, semi_mm, rot: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of points inside an ellipsoid (axes along ``rot``'s columns)."""
    d = xyz - np.asarray(centre, dtype=float)
    if rot is not None:
        d = d @ rot
    return np.sum((d / np.asarray(semi_mm, dtype=float)) ** 2, axis=-1) <= 1.0


def phantom_labels(which: str, *, shape=SHAPE, affine=None, seed: int = SEED) -> np.ndarray:
    """Disc (1) and herniation (2) labels on the grid; a little seeded boundary jitter.

    The jitter flips no voxel inside the herniation's core: it only perturbs the
    disc outline, so the herniation stays an exact voxelised ellipsoid.
    """
    affine = oblique_affine(shape) if affine is None else affine
    xyz = voxel_centres_mm(shape, affine)
    rng = np.random.default_rng(seed)
    disc_semi = np.asarray(DISC_SEMI_MM) * (1.0 + 0.02 * rng.standard_normal(3))
    labels = np.zeros(shape, dtype=np.uint8)
    labels[inside_ellipsoid(xyz, (0, 0, 0), disc_semi)] = 1
    labels[inside_ellipsoid(xyz, HERNIATION_OFFSET_MM, HERNIATION_SEMI_MM[which])] = 2
    return labels


def write_nifti(labels: np.ndarray, affine: np.ndarray, path: Path) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(labels, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(path))


def write_nrrd(labels: np.ndarray, affine: np.ndarray, path: Path) -> None:
    import nrrd

    lps = _LPS @ affine
    header = {
        "space": "left-posterior-superior",
        "space directions": lps[:3, :3].T,  # one row per array axis
        "space origin": lps[:3, 3],
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
    }
    nrrd.write(str(path), labels, header, index_order="F")
    # pynrrd writes the current time as a comment; drop it for reproducible files.
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    head = b"\n".join(line for line in head.split(b"\n") if not line.startswith(b"# on "))
    path.write_bytes(head + sep + body)


def _uid(name: str) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=["resorb synthetic example", name])


def synthetic_mr_series(labels_shape, affine: np.ndarray, *, tag: str = "example") -> list:
    """One fake MR slice per array index k, carrying the geometry of ``affine``.

    Array axis i runs along a row (DICOM column index), axis j down a column
    (row index), axis k across slices, as in :func:`resorb.imaging.io.read_dicom_seg`.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    ni, nj, nk = labels_shape
    lps = _LPS @ affine
    row_dir = lps[:3, 0] / np.linalg.norm(lps[:3, 0])
    col_dir = lps[:3, 1] / np.linalg.norm(lps[:3, 1])
    pixel_spacing = [float(np.linalg.norm(lps[:3, 1])), float(np.linalg.norm(lps[:3, 0]))]
    slice_mm = float(np.linalg.norm(lps[:3, 2]))
    study, series, frame = _uid(f"{tag} study"), _uid(f"{tag} series"), _uid(f"{tag} frame")
    out = []
    for k in range(nk):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        sop = _uid(f"{tag} image {k}")
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, sop
        ds.Modality = "MR"
        ds.PatientName = "Phantom^Synthetic"
        ds.PatientID = "SYNTHETIC-0001"
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
        ds.StudyDate, ds.StudyTime = "20260220", "120000"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.Manufacturer = "resorb synthetic"
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.ImagePositionPatient = [float(v) for v in (lps @ [0, 0, k, 1])[:3]]
        ds.PixelSpacing = pixel_spacing
        ds.SliceThickness = slice_mm
        ds.SpacingBetweenSlices = slice_mm
        ds.Rows, ds.Columns = nj, ni
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = np.zeros((nj, ni), dtype=np.uint16).tobytes()
        out.append(ds)
    return out


def write_dicom_seg(
    labels: np.ndarray,
    affine: np.ndarray,
    path: Path,
    *,
    tag: str = "example",
    segmentation_type: str = "BINARY",
) -> None:
    """Write ``labels`` (1 = disc, 2 = herniation, others allowed) as a DICOM SEG with highdicom."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources = synthetic_mr_series(labels.shape, affine, tag=tag)
    numbers = [int(v) for v in np.unique(labels) if v != 0]
    descriptions = []
    for n in numbers:
        if n == 1:
            name = "disc (synthetic)"
            cat = codes.SCT.AnatomicalStructure
            typ = hd.sr.CodedConcept(
                "75782005", "SCT", "Intervertebral disc structure of fifth lumbar vertebra"
            )
        else:
            name = "herniation (synthetic)" if n == 2 else f"label {n} (synthetic)"
            cat, typ = codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Tissue
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=n,
                segment_label=name,
                segmented_property_category=cat,
                segmented_property_type=typ,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            )
        )
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"labels must be numbered 1..n for a SEG, got {numbers}")
    frames = np.ascontiguousarray(np.transpose(labels, (2, 1, 0)))  # (slice, row, column)
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=frames,
        segmentation_type=getattr(hd.seg.SegmentationTypeValues, segmentation_type),
        segment_descriptions=descriptions,
        series_instance_uid=_uid(f"{tag} seg series"),
        series_number=100,
        sop_instance_uid=_uid(f"{tag} seg instance"),
        instance_number=1,
        manufacturer="resorb synthetic",
        manufacturer_model_name="make_masks.py",
        software_versions="resorb",
        device_serial_number="0000",
    )
    fixed = dt.datetime(2026, 2, 20, 12, 0, 0)
    seg.ContentDate, seg.ContentTime = fixed.strftime("%Y%m%d"), fixed.strftime("%H%M%S")
    for kw in ("SeriesDate", "InstanceCreationDate"):
        if kw in seg:
            setattr(seg, kw, fixed.strftime("%Y%m%d"))
    for kw in ("SeriesTime", "InstanceCreationTime"):
        if kw in seg:
            setattr(seg, kw, fixed.strftime("%H%M%S"))
    # highdicom stamps the creation time and a random dimension-organisation UID;
    # fix both so that rerunning the script reproduces the committed file byte for byte.
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = fixed.strftime("%Y%m%d%H%M%S")
    dim_uid = _uid(f"{tag} dimension organisation")
    for item in seg.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = dim_uid
    for item in seg.get("DimensionIndexSequence", []):
        if "DimensionOrganizationUID" in item:
            item.DimensionOrganizationUID = dim_uid
    seg.save_as(str(path), enforce_file_format=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    affine = oblique_affine()
    base = phantom_labels("baseline", affine=affine)
    follow = phantom_labels("followup", affine=affine)
    write_nifti(base, affine, OUT / "baseline.nii.gz")
    write_nifti(follow, affine, OUT / "followup.nii.gz")
    write_nrrd(base, affine, OUT / "baseline.nrrd")
    write_dicom_seg(base, affine, OUT / "baseline_seg.dcm")
    vox = abs(np.linalg.det(affine[:3, :3]))
    for name, lab in (("baseline", base), ("followup", follow)):
        a, b, c = HERNIATION_SEMI_MM[name]
        n = int(np.count_nonzero(lab == 2))
        print(
            f"{name}: herniation {n} voxels x {vox:.4f} mm3 = {n * vox:.1f} mm3 "
            f"(ellipsoid {4 / 3 * math.pi * a * b * c:.1f} mm3)"
        )


if __name__ == "__main__":
    main()
