"""Every DICOM object resorb writes or stores, checked by the field's validators.

Recipe (run by hand the same way): ``dciodvfy FILE`` (Debian ``dicom3tools``) checks
the object against its IOD (modules, attribute types, value representations,
enumerated values) and prints ``Error - ...`` lines; an object passes with no such
line. ``dsrdump FILE`` (Debian ``dcmtk``) parses an SR's content tree and prints it;
it must exit 0, print no ``E:``/``W:`` message and show the volume with its unit.

The objects: the synthetic MR series and a highdicom SEG on it, both carrying the
identifying attributes a clinical object has (``dicom_factory.add_clinical_identifiers``),
de-identified; the SRs ``resorb.interop.sr.volume_report`` writes (series reference,
source images, a LABELMAP SEG); a clinical SR from another system (a person observer,
a text finding) de-identified; every file ``import-dicom --store-deidentified``
stores; the SR ``export-sr`` writes.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import add_clinical_identifiers, make_mr_series, make_seg

from resorb.interop.deid import UIDMap, deidentify
from resorb.interop.sr import volume_report

pytestmark = pytest.mark.skipif(
    shutil.which("dciodvfy") is None or shutil.which("dsrdump") is None,
    reason="dciodvfy (Debian dicom3tools) and dsrdump (Debian dcmtk) are not installed; "
    "scripts/test.sh installs both",
)

KEY = bytes(range(32))
OFFSET = -321


def dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


#: What Debian's validators (dicom3tools 2022-06, dcmtk 3.6.7) say about any object of,
#: or referencing, Label Map Segmentation Storage (1.2.840.10008.5.1.4.1.1.66.7, DICOM
#: 2024, Sup 243), which they predate: the IOD is unknown to dciodvfy, and a segment
#: reference to it is taken for a reference to a non-segmentation. Nothing else is
#: accepted for LABELMAP objects.
PREDATES_LABELMAP = {
    "Error - Information Object Not found",
    "Error - SegmentNumber not monotonically increasing from one by one - have "
    "SegmentSequence item number 1 (from one) with SegmentNumber of 0",
    "Error - Shall not be present for Referenced SOP Class that is not segmentation - "
    "attribute <ReferencedSegmentNumber>",
}
PREDATES_LABELMAP_DSRDUMP = (
    "W: Invalid or unknown image SOP class referenced from IMAGE content item",
    "W: Reading invalid/incomplete content item IMAGE",
)


def dsrdump(path: Path, *, labelmap: bool = False) -> str:
    """dsrdump's output; for a LABELMAP reference ``-Ev`` (accept the item value that
    dcmtk 3.6.7 calls invalid because it does not know the SOP class)."""
    args = ["dsrdump", *(["-Ev"] if labelmap else []), str(path)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    problems = [
        line
        for line in (run.stdout + run.stderr).splitlines()
        if line.startswith(("E:", "W:", "F:"))
        and not (labelmap and line.startswith(PREDATES_LABELMAP_DSRDUMP))
    ]
    assert problems == [], problems
    return run.stdout


def _save(ds, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def clinical_sr(seg, images):
    """An SR as another system writes it: a person observer and a text finding."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Reader^Jane^Marker"
        ),
    )
    group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Jane Doe L5-S1"),
        referenced_segment=hd.sr.ReferencedSegment.from_segmentation(seg, 1),
        measurements=[
            hd.sr.Measurement(name=codes.SCT.Volume, value=15.0, unit=codes.UCUM.CubicMillimeter)
        ],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=codes.DCM.Finding, value=codes.SCT.Lesion)
        ],
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.MRIUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[seg, *images],
        content=report[0],
        series_instance_uid=hd.UID(),
        series_number=7,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="Other vendor",
        institution_name="St Marker Hospital",
        is_complete=True,
        is_final=True,
    )
    return sr


def labelmap_seg(images):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    labels = np.zeros((len(images), 16, 16), dtype=np.uint8)
    labels[2:5, 4:9, 6:10] = 1
    desc = [
        hd.seg.SegmentDescription(
            segment_number=1,
            segment_label="herniation",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Lesion,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
    ]
    return hd.seg.Segmentation(
        source_images=images,
        pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP,
        segment_descriptions=desc,
        series_instance_uid=hd.UID(),
        series_number=98,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="resorb synthetic",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="SERIAL-MARKER-3",
    )


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> dict[str, Path]:
    """name -> file of every object the checks below run on."""
    from resorb.registry import Registry
    from resorb.registry._dicom import import_dicom, volume_sr

    d = tmp_path_factory.mktemp("validators")
    clinic = d / "clinic"  # the originals only: what import-dicom is given
    series = make_mr_series(clinic / "mr", study_date=dt.date(2025, 3, 14), markers=False)
    for path in series:
        _save(add_clinical_identifiers(pydicom.dcmread(path)), path)
    seg_path = make_seg(series, clinic / "seg.dcm", markers=False)
    _save(add_clinical_identifiers(pydicom.dcmread(seg_path)), seg_path)
    images = [pydicom.dcmread(p) for p in series]
    seg = pydicom.dcmread(seg_path)
    uids = UIDMap(key=KEY)
    out = {"original MR image": series[0], "original SEG": seg_path}
    deid_images = [deidentify(ds, offset_days=OFFSET, uid_map=uids) for ds in images]
    deid_seg = deidentify(seg, offset_days=OFFSET, uid_map=uids)
    out["de-identified MR image"] = _save(deid_images[0], d / "deid_mr.dcm")
    out["de-identified SEG"] = _save(deid_seg, d / "deid_seg.dcm")
    measurement = [{"segment_number": 1, "volume_mm3": 15.0, "level": "L5-S1"}]
    out["SR on a SEG (series reference)"] = _save(
        volume_report(deid_seg, measurement), d / "sr_series.dcm"
    )
    out["SR on a SEG with its source images"] = _save(
        volume_report(deid_seg, measurement, source_images=deid_images), d / "sr_images.dcm"
    )
    lm = labelmap_seg(images)
    out["LABELMAP SEG"] = _save(lm, d / "labelmap.dcm")
    out["SR on a LABELMAP SEG with its source images"] = _save(
        volume_report(pydicom.dcmread(out["LABELMAP SEG"]), measurement, source_images=images),
        d / "sr_labelmap.dcm",
    )
    clinical = _save(clinical_sr(seg, images), d / "clinical_sr.dcm")
    out["clinical SR from another system"] = clinical
    out["de-identified clinical SR"] = _save(
        deidentify(pydicom.dcmread(clinical), offset_days=OFFSET, uid_map=uids),
        d / "deid_clinical_sr.dcm",
    )
    # What import-dicom stores, and what export-sr writes from it.
    reg = Registry(f"sqlite:///{d / 'reg.db'}")
    reg.upgrade()
    try:
        p = reg.create_patient(
            {"pseudonym": "LDH-0077", "birth_year": 1971, "sex": "female"}, actor="test"
        )
        store = d / "stored"
        result = import_dicom(
            reg, clinic, patient_id=p.id, label=1, level="L5-S1", actor="test", store_dir=store
        )
        for i, path in enumerate(sorted(store.glob("*.dcm"))):
            out[f"stored by import-dicom #{i}"] = path
        mri = next(r for r in result["mri"] if r["source"] == "dicom-seg")
        seg_uid = reg.patient_timeline(p.id)["mri"][0]["series_info"]["SOPInstanceUID"]
        stored_seg = pydicom.dcmread(store / f"{seg_uid}.dcm")
        sr, _ = volume_sr(reg, mri["id"], stored_seg, actor="test")
        out["SR written by export-sr"] = _save(sr, d / "export_sr.dcm")
    finally:
        reg.close()
    return out


WRITTEN_OR_STORED = [
    "de-identified MR image",
    "de-identified SEG",
    "SR on a SEG (series reference)",
    "SR on a SEG with its source images",
    "SR on a LABELMAP SEG with its source images",
    "de-identified clinical SR",
    "SR written by export-sr",
]


@pytest.mark.parametrize("name", WRITTEN_OR_STORED)
def test_every_object_resorb_writes_passes_dciodvfy_with_no_error(objects, name):
    errors = dciodvfy_errors(objects[name])
    if "LABELMAP" in name:
        errors = [e for e in errors if e not in PREDATES_LABELMAP]
    assert errors == []


def test_every_object_import_dicom_stores_passes_dciodvfy_with_no_error(objects):
    stored = {k: v for k, v in objects.items() if k.startswith("stored by import-dicom")}
    assert len(stored) == 9  # 8 MR images and the SEG
    assert {k: dciodvfy_errors(v) for k, v in stored.items()} == {k: [] for k in stored}


def test_the_inputs_themselves_pass_dciodvfy(objects):
    """The checks above mean something only if the originals are valid too."""
    for name in ("original MR image", "original SEG", "clinical SR from another system"):
        assert dciodvfy_errors(objects[name]) == [], name
    assert set(dciodvfy_errors(objects["LABELMAP SEG"])) <= PREDATES_LABELMAP


@pytest.mark.parametrize(
    "name", [n for n in WRITTEN_OR_STORED if "SR" in n] + ["clinical SR from another system"]
)
def test_sr_content_trees_parse_with_dsrdump(objects, name):
    text = dsrdump(objects[name], labelmap="LABELMAP" in name)
    assert "Imaging Measurement Report" in text
    assert "mm3" in text and "Volume" in text


def test_deidentifying_an_object_invalid_from_the_start_adds_no_dciodvfy_error(tmp_path):
    """Objects with every Table E.1-1 attribute filled (``dicom_factory``'s markers, which
    make the originals invalid: a Container Identifier without its Specimen Description,
    a Concatenation UID without the rest of a concatenation) are what several import
    tests store. Their de-identified copies keep those errors of the original, and
    de-identification must add none (it removes most: the markers' person, institution
    and hierarchic designator errors)."""
    series = make_mr_series(tmp_path / "mr", study_date=dt.date(2025, 3, 14), markers=True)
    seg_path = make_seg(series, tmp_path / "seg.dcm", markers=True)
    uids = UIDMap(key=KEY)
    for original in (series[0], seg_path):
        before = set(dciodvfy_errors(original))
        deid = _save(
            deidentify(pydicom.dcmread(original), offset_days=OFFSET, uid_map=uids),
            tmp_path / f"deid_{original.name}",
        )
        after = set(dciodvfy_errors(deid))
        assert before, "the marker-filled original is invalid, as the factory says"
        assert after <= before, sorted(after - before)
        assert len(after) < len(before)
