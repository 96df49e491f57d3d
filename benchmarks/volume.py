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

``--cli`` measures what a user waits for instead: the ``resorb volume MASK
--label 2 --json`` command against a plain script that loads the same mask
with nibabel and counts the label (each recipe above), every one a fresh
process, interleaved, on a 512 x 512 x 300 mask. It reports the median wall
and CPU time (user + system of the child) and the ratios resorb / peer (here
< 1 means resorb is faster), so the command's start-up is included.

Run: ``.venv/bin/python benchmarks/volume.py [--repeats N] [--cli]``
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
CLI_SHAPE = (512, 512, 300)


def make_mask(folder: Path, shape: tuple[int, int, int] = SHAPE) -> tuple[Path, Path, int]:
    import nibabel as nib

    labels = np.zeros(shape, dtype=np.uint8)
    i, j, k = np.ogrid[: shape[0], : shape[1], : shape[2]]
    mid = shape[2] // 2
    labels[((i - 256) / 120.0) ** 2 + ((j - 256) / 90.0) ** 2 + ((k - mid) / 15.0) ** 2 <= 1] = 1
    labels[((i - 256) / 20.0) ** 2 + ((j - 150) / 14.0) ** 2 + ((k - mid) / 25.0) ** 2 <= 1] = 2
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    affine = np.array(
        [[0.4 * c, -0.4 * s, 0, -100], [0.4 * s, 0.4 * c, 0, -100], [0, 0, 1.0, -100], [0, 0, 0, 1]]
    )
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


#: The plain scripts of the ``--cli`` comparison (a fresh Python process each).
PEER_SCRIPTS = {
    "nibabel get_fdata": (
        "import sys, nibabel as nib, numpy as np\n"
        "img = nib.load(sys.argv[1]); data = img.get_fdata()\n"
        "print(np.count_nonzero(data == 2) * abs(np.linalg.det(img.affine[:3, :3])))\n"
    ),
    "nibabel dataobj": (
        "import sys, nibabel as nib, numpy as np\n"
        "img = nib.load(sys.argv[1]); data = np.asanyarray(img.dataobj)\n"
        "print(np.count_nonzero(data == 2) * abs(np.linalg.det(img.affine[:3, :3])))\n"
    ),
}


def _run(argv: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child) and stdout of one process."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def cli_main(repeats: int) -> None:
    """``resorb volume`` against plain nibabel scripts, each a fresh process."""
    import json
    import sys

    exe = Path(sys.executable)
    resorb_cmd = [str(exe.with_name("resorb")), "volume", "--label", "2", "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        nii, niigz, count = make_mask(Path(tmp), CLI_SHAPE)
        scripts = {}
        for name, code in PEER_SCRIPTS.items():
            script = Path(tmp) / (name.replace(" ", "_") + ".py")
            script.write_text(code)
            scripts[name] = script
        print(
            f"command line: mask {CLI_SHAPE[0]} x {CLI_SHAPE[1]} x {CLI_SHAPE[2]} uint8, "
            f"herniation {count} voxels; median of {repeats} interleaved runs, each a fresh "
            f"process"
        )
        for path in (nii, niigz):
            runs = {"resorb volume": [*resorb_cmd[:2], str(path), *resorb_cmd[2:]]}
            runs |= {name: [str(exe), str(script), str(path)] for name, script in scripts.items()}
            ref = json.loads(_run(runs["resorb volume"])[2])["volume_mm3"]  # warm-up + check
            for name in scripts:
                peer = float(_run(runs[name])[2])
                assert abs(peer - ref) <= 1e-6 * ref, (name, peer, ref)
            wall: dict[str, list[float]] = {name: [] for name in runs}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(repeats):
                for name, argv in runs.items():
                    w, c, _ = _run(argv)
                    wall[name].append(w)
                    cpu[name].append(c)
            med_w = {n: statistics.median(v) for n, v in wall.items()}
            med_c = {n: statistics.median(v) for n, v in cpu.items()}
            print(f"\n{path.name} ({path.stat().st_size / 1e6:.2f} MB): volume {ref:.1f} mm3")
            for name in runs:
                ratio = (
                    ""
                    if name == "resorb volume"
                    else (
                        f"   resorb/peer wall {med_w['resorb volume'] / med_w[name]:.2f}, "
                        f"CPU {med_c['resorb volume'] / med_c[name]:.2f}"
                    )
                )
                print(f"  {name:<18} wall {med_w[name]:6.3f} s  CPU {med_c[name]:6.3f} s{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--cli",
        action="store_true",
        help="time the resorb volume command against plain nibabel scripts",
    )
    args = parser.parse_args()
    import nibabel

    import resorb

    contenders = {
        "resorb": resorb_volume,
        "nibabel get_fdata": nibabel_fdata_volume,
        "nibabel dataobj": nibabel_dataobj_volume,
    }
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, nibabel {nibabel.__version__}, "
        f"resorb {resorb.__version__}, load average {os.getloadavg()[0]:.1f}"
    )
    if args.cli:
        cli_main(args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        nii, niigz, count = make_mask(Path(tmp))
        mb = {p.name: p.stat().st_size / 1e6 for p in (nii, niigz)}
        print(
            f"mask {SHAPE[0]} x {SHAPE[1]} x {SHAPE[2]} uint8; herniation {count} voxels; "
            f".nii {mb['mask.nii']:.1f} MB, .nii.gz {mb['mask.nii.gz']:.2f} MB; "
            f"median of {args.repeats} interleaved runs"
        )
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
