"""An Orthanc PACS for the tests, synthetic studies with unique identities, dciodvfy.

``orthanc_url()`` answers ``RESORB_TEST_ORTHANC_URL`` (what ``scripts/test.sh``
exports after running ``.ci/orthanc.sh``); when it is unset and Debian's
``Orthanc`` is installed, it starts one through ``.ci/orthanc.sh`` itself (on a
free port of its own) and stops it at exit. No Orthanc installed: the PACS tests skip
with that reason.

``unique_study`` writes the synthetic MR series and SEG of ``dicom_factory``
with every UID and the patient ID replaced by fresh ones, so that studies of
different tests (and of earlier runs on a reused Orthanc) never mix.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pydicom
import pytest

try:
    from dicom_factory import make_mr_series, make_seg
except ImportError:  # imported from another test folder (tests/ is on the path)
    from interop.dicom_factory import make_mr_series, make_seg

ROOT = Path(__file__).resolve().parents[2]
_started: dict[str, str] = {}

#: Roots of the UIDs that dicom_factory writes (pydicom's generate_uid and the markers).
_TEST_UID_ROOTS = ("1.2.826.0.1.3680043.8.498.", "1.2.826.0.1.3680043.10.1234.")


def orthanc_url() -> str:
    url = os.environ.get("RESORB_TEST_ORTHANC_URL")
    if url:
        return url
    if "url" in _started:
        return _started["url"]
    if shutil.which("Orthanc") is None:
        pytest.skip(
            "Orthanc is not installed (Debian packages orthanc and orthanc-dicomweb); "
            "scripts/test.sh installs them and sets RESORB_TEST_ORTHANC_URL"
        )
    with socket.socket() as probe:  # a free loopback port: other test runs may hold one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        RESORB_ORTHANC_PORT=str(port),
        RESORB_ORTHANC_DIR=f"/tmp/resorb-orthanc-pytest-{os.getpid()}",
    )
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "orthanc.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f".ci/orthanc.sh failed: {proc.stderr.strip()[-500:]}")
    _started["url"] = proc.stdout.strip().splitlines()[-1]
    atexit.register(
        subprocess.run,
        ["bash", str(ROOT / ".ci" / "orthanc.sh"), "stop"],
        env=env,
        capture_output=True,
        check=False,
    )
    return _started["url"]


def _remap(ds, mapping: dict[str, str]) -> None:
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _remap(item, mapping)
        elif elem.VR == "UI" and elem.value:
            values = elem.value if elem.VM > 1 else [elem.value]
            new = [
                mapping.setdefault(v, f"2.25.{uuid.uuid4().int}")
                if str(v).startswith(_TEST_UID_ROOTS)
                else v
                for v in values
            ]
            elem.value = new if elem.VM > 1 else new[0]


def unique_study(folder: Path) -> dict:
    """A synthetic MR series + BINARY SEG (segment 1 = 60 voxels of 0.25 mm3) of a new patient.

    Returns the datasets (``series``, ``seg``), their files, the patient ID and
    every original identifier (for leak checks).
    """
    src = folder / "factory"
    # Without the factory's markers (every Table E.1-1 attribute filled, which makes
    # the originals themselves invalid IODs): a study as a scanner and a
    # segmentation tool would write it, so that dciodvfy judges resorb's changes only.
    paths = make_mr_series(src / "mr", markers=False)
    seg_path = make_seg(paths, src / "seg.dcm", markers=False)
    mapping: dict[str, str] = {}
    patient_id = f"PACS-{uuid.uuid4().hex[:12].upper()}"
    out = []
    for p in [*paths, seg_path]:
        ds = pydicom.dcmread(p)
        _remap(ds, mapping)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = patient_id
        target = folder / "original" / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        out.append(target)
    shutil.rmtree(src)
    series = [pydicom.dcmread(p) for p in out[:-1]]
    seg = pydicom.dcmread(out[-1])
    identifiers = {
        patient_id,
        str(seg.PatientName),
        "ACC-556677",
        "STUDY-4455",
        "SERIAL-MARKER-1",
        "19700412",
        "20250314",
    }
    for ds in [*series, seg]:
        for kw in (
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "FrameOfReferenceUID",
        ):
            identifiers.add(str(ds.data_element(kw).value))
    return {
        "series": series,
        "seg": seg,
        "files": out,
        "patient_id": patient_id,
        "study_uid": str(seg.StudyInstanceUID),
        "identifiers": identifiers,
    }


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy (Debian dicom3tools) prints for a DICOM file.

    Recipe: ``dciodvfy FILE 2>&1 | grep '^Error'``; dciodvfy exits 0 whatever it finds.
    """
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.skip("dciodvfy is not installed (Debian package dicom3tools)")
    proc = subprocess.run(
        [exe, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Error")]


def dsrdump_tree(path: Path) -> str:
    """The SR content tree as dcmtk's ``dsrdump`` prints it (fails if it cannot parse it).

    Recipe: ``dsrdump FILE`` (Debian dcmtk); exit status 0 and the tree on stdout.
    """
    exe = shutil.which("dsrdump")
    if exe is None:
        pytest.skip("dsrdump is not installed (Debian package dcmtk)")
    proc = subprocess.run(
        [exe, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
