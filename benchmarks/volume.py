"""Benchmark: volume of a 512 x 512 x 200 label mask, resorb vs plain nibabel + numpy.

Writes one synthetic mask (uint8; disc = 1, herniation = 2; oblique affine,
0.4 x 0.4 x 1.0 mm voxels) as ``.nii`` and ``.nii.gz`` to a temporary folder,
then times, interleaved and repeated, in the same process:

- resorb: ``mask_volume(HerniationMask.from_file(path), label=2)``;
- peer A, the usual recipe: ``nib.load(path).get_fdata()``, ``count_nonzero(data == 2)``
  x ``|det(affine[:3, :3])|``;
- peer B, the lean recipe: ``np.asanyarray(nib.load(path).dataobj)``, then the same count.

Prints the median wall time of each and the ratios peer / resorb (> 1 means
resorb is faster), after checking that all three give the same volume.

Run: ``.venv/bin/python benchmarks/volume.py [--repeats N]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = (512, 512, 200)


def make_mask(folder: Path) -> tuple[Path, Path, int]:
    import nibabel as nib

    labels = np.zeros(SHAPE, dtype=np.uint8)
    i, j, k = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    labels[((i - 256) / 120.0) ** 2 + ((j - 256) / 90.0) ** 2 + ((k - 100) / 15.0) ** 2 <= 1] = 1
    labels[((i - 256) / 20.0) ** 2 + ((j - 150) / 14.0) ** 2 + ((k - 100) / 25.0) ** 2 <= 1] = 2
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    affine = np.array([[0.4 * c, -0.4 * s, 0, -100], [0.4 * s, 0.4 * c, 0, -100],
                       [0, 0, 1.0, -100], [0, 0, 0, 1]])
    nii, niigz = folder / "mask.nii", folder / "mask.nii.gz"
    for path in (nii, niigz):
        nib.save(nib.Nifti1Image(labels, affine), str(path))
    return nii, niigz, int(np.count_nonzero(labels == 2))


def resorb_volume(path: Path) -> float:
    from resorb.imaging import HerniationMask, mask_volume

    return mask_volume(HerniationMask.from_file(path), label=2).volume_mm3


def nibabel_fdata_volume(path: Path) -> float:
    import nibabel as nib

    img = nib.load(str(path))
    data = img.get_fdata()
    return float(np.count_nonzero(data == 2) * abs(np.linalg.det(img.affine[:3, :3])))


def nibabel_dataobj_volume(path: Path) -> float:
    import nibabel as nib

    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)
    return float(np.count_nonzero(data == 2) * abs(np.linalg.det(img.affine[:3, :3])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import nibabel

    import resorb

    contenders = {"resorb": resorb_volume, "nibabel get_fdata": nibabel_fdata_volume,
                  "nibabel dataobj": nibabel_dataobj_volume}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, nibabel {nibabel.__version__}, "
          f"resorb {resorb.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        nii, niigz, count = make_mask(Path(tmp))
        mb = {p.name: p.stat().st_size / 1e6 for p in (nii, niigz)}
        print(f"mask {SHAPE[0]} x {SHAPE[1]} x {SHAPE[2]} uint8; herniation {count} voxels; "
              f".nii {mb['mask.nii']:.1f} MB, .nii.gz {mb['mask.nii.gz']:.2f} MB; "
              f"median of {args.repeats} interleaved runs")
        for path in (nii, niigz):
            volumes = {name: f(path) for name, f in contenders.items()}  # warm-up + check
            ref = volumes["resorb"]
            assert all(abs(v - ref) <= 1e-9 * ref for v in volumes.values()), volumes
            times: dict[str, list[float]] = {name: [] for name in contenders}
            for _ in range(args.repeats):
                for name, f in contenders.items():
                    t0 = time.perf_counter()
                    f(path)
                    times[name].append(time.perf_counter() - t0)
            med = {name: statistics.median(ts) for name, ts in times.items()}
            print(f"\n{path.name}: volume {ref:.1f} mm3")
            for name, t in med.items():
                ratio = "" if name == "resorb" else f"   ratio peer/resorb {t / med['resorb']:.2f}"
                print(f"  {name:<18} {t * 1000:8.1f} ms{ratio}")


if __name__ == "__main__":
    main()
