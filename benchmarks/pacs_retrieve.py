"""Benchmark: retrieving a study from a PACS (WADO-RS), resorb beside dicomweb-client alone.

resorb's :meth:`PacsClient.retrieve_study` streams each series and writes one
instance at a time to disk; the peer is the field client's own
``DICOMwebClient.retrieve_study`` (the whole study decoded into memory), then
written to disk the same way, so both do the same end-to-end work. The script
stores a synthetic MR study (``--slices`` images of 256 x 256 16-bit pixels of a
fictional patient; no patient data) in an Orthanc with the DICOMweb plugin
(``RESORB_TEST_ORTHANC_URL``, else ``.ci/orthanc.sh`` is started), then times
``--repeats`` interleaved runs of each and prints the medians of wall time, CPU
time and peak traced Python memory (tracemalloc), and the ratios peer / resorb.

Run: ``.venv/bin/python benchmarks/pacs_retrieve.py [--slices 300] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

ROOT = Path(__file__).resolve().parents[1]


def _orthanc() -> tuple[str, bool]:
    url = os.environ.get("RESORB_TEST_ORTHANC_URL")
    if url:
        return url, False
    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "orthanc.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1], True


def _study(n: int) -> list[Dataset]:
    study, series, frame = (f"2.25.{uuid.uuid4().int}" for _ in range(3))
    rng = np.random.default_rng(20261202)
    out = []
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"2.25.{uuid.uuid4().int}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID = "BENCH^SYNTHETIC", f"BENCH-{study[-8:]}"
        ds.StudyDate, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "20250101", "MR", 1, k + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.0
        ds.Rows = ds.Columns = 256
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = rng.integers(0, 4096, (256, 256), dtype=np.uint16).tobytes()
        out.append(ds)
    return out


def _measure(fn) -> tuple[float, float, float]:
    tracemalloc.start()
    t, c = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return wall, cpu, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from dicomweb_client import DICOMwebClient

    from resorb.interop.dicomweb import PacsClient, PacsConfig

    url, started = _orthanc()
    try:
        ours = PacsClient(PacsConfig(url))
        data = _study(args.slices)
        ours.store(data)
        uid = str(data[0].StudyInstanceUID)
        size_mb = sum(len(d.PixelData) for d in data) / 2**20
        del data
        cfg = ours.config
        import requests

        session = requests.Session()
        session.auth = (cfg.username, cfg.password) if cfg.username else None
        peer = DICOMwebClient(cfg.url, session=session)

        def run_ours(folder: Path) -> None:
            got = ours.retrieve_study(uid, folder)
            assert len(got.files) == args.slices

        def run_peer(folder: Path) -> None:
            datasets = peer.retrieve_study(uid)
            assert len(datasets) == args.slices
            folder.mkdir(parents=True, exist_ok=True)
            for i, ds in enumerate(datasets):
                pydicom.dcmwrite(folder / f"{i:05d}.dcm", ds, enforce_file_format=False)

        results: dict[str, list[tuple[float, float, float]]] = {"resorb": [], "peer": []}
        with tempfile.TemporaryDirectory() as tmp:
            run_ours(Path(tmp) / "warm")  # warm Orthanc's cache and the imports
            for r in range(args.repeats):
                for name, fn in (("resorb", run_ours), ("peer", run_peer)):
                    folder = Path(tmp) / f"{name}-{r}"
                    results[name].append(_measure(lambda fn=fn, f=folder: fn(f)))
                    shutil.rmtree(folder)
    finally:
        if started:
            subprocess.run(["bash", str(ROOT / ".ci" / "orthanc.sh"), "stop"], check=False)

    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in results.items()}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, pydicom {pydicom.__version__}"
    )
    print(
        f"study: {args.slices} MR images, {size_mb:.1f} MiB of pixel data; "
        f"medians of {args.repeats} interleaved runs"
    )
    print(f"{'':28} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9}")
    print(
        f"{'resorb retrieve_study':28} {med['resorb'][0]:8.2f} {med['resorb'][1]:8.2f} "
        f"{med['resorb'][2]:9.1f}"
    )
    print(
        f"{'dicomweb-client + write':28} {med['peer'][0]:8.2f} {med['peer'][1]:8.2f} "
        f"{med['peer'][2]:9.1f}"
    )
    print(
        f"ratio peer / resorb: wall {med['peer'][0] / med['resorb'][0]:.2f}, CPU "
        f"{med['peer'][1] / med['resorb'][1]:.2f}, peak memory "
        f"{med['peer'][2] / med['resorb'][2]:.1f}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
