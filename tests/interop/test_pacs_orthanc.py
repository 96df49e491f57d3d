"""A real PACS: Orthanc with its DICOMweb plugin (QIDO-RS, WADO-RS, STOW-RS).

Orthanc comes from ``RESORB_TEST_ORTHANC_URL`` (set by ``scripts/test.sh`` after
``.ci/orthanc.sh``) or is started here through that script (see
``pacs_helpers.orthanc_url``). Every test stores a synthetic study of a patient of
its own (fresh UIDs and patient ID), so tests and reruns on one Orthanc never mix.
"""

from __future__ import annotations

import json
import sqlite3

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pacs_helpers import dciodvfy_errors, dsrdump_tree, orthanc_url, unique_study

from cli_helpers import run_cli
from resorb.errors import InvalidInputError, PacsError
from resorb.interop.dicomweb import PacsClient, PacsConfig
from resorb.registry import Registry

pytestmark = pytest.mark.pacs

VOXEL_MM3 = 0.5 * 0.5 * 1.0  # dicom_factory's grid
SEGMENT_1_MM3 = 60 * VOXEL_MM3


@pytest.fixture(scope="module")
def pacs_url() -> str:
    return orthanc_url()


@pytest.fixture
def client(pacs_url) -> PacsClient:
    return PacsClient(PacsConfig(pacs_url))


@pytest.fixture
def study(tmp_path, client):
    """A synthetic MR series + SEG of a new patient, stored on the PACS."""
    s = unique_study(tmp_path)
    result = client.store([*s["series"], s["seg"]])
    assert len(result.stored) == 9 and result.failed == ()
    return s


@pytest.fixture
def registry(tmp_path):
    db = tmp_path / "reg.db"
    reg = Registry(f"sqlite:///{db}")
    reg.upgrade()
    reg.create_patient(
        {"pseudonym": "LDH-PACS-1", "birth_year": 1970, "sex": "female"}, actor="test"
    )
    yield reg, db
    reg.close()


def _database_text(db) -> str:
    con = sqlite3.connect(db)
    try:
        parts = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            parts.extend(repr(row) for row in con.execute(f'SELECT * FROM "{table}"'))
    finally:
        con.close()
    return "\n".join(parts) + db.read_bytes().decode("latin-1")


def test_pacs_round_trip_imports_deidentified_and_reads_back_the_sr_and_seg(
    study, client, registry, tmp_path, capsys, monkeypatch
):
    """Store, query, retrieve, de-identify, measure, send SR + SEG back, read them back.

    Peers: highdicom reads the original SEG (``segread(...).get_volume``) for the
    volume (60 voxels x 0.25 mm3 = 15 mm3); Orthanc answers the queries and
    stores the objects; dciodvfy (dicom3tools) checks what comes back.
    """
    _reg, db = registry
    monkeypatch.setenv("RESORB_PACS_URL", client.config.url)
    monkeypatch.setenv("RESORB_PACS_USERNAME", client.config.username or "")
    monkeypatch.setenv("RESORB_PACS_PASSWORD", client.config.password or "")
    url = f"sqlite:///{db}"

    # Query (QIDO-RS): the clinician finds the patient's MR study by the hospital ID.
    code, out, err = run_cli(
        capsys, "pacs", "search", "--patient-id", study["patient_id"], "--json"
    )
    assert code == 0, err
    found = json.loads(out)["studies"]
    assert [s["study_instance_uid"] for s in found] == [study["study_uid"]]
    assert set(found[0]["modalities"]) == {"MR", "SEG"}
    assert found[0]["number_of_instances"] == 9

    # Retrieve (WADO-RS), de-identify and measure: the registry import.
    code, out, err = run_cli(
        capsys,
        "pacs",
        "import",
        study["study_uid"],
        "--db",
        url,
        "--patient",
        "LDH-PACS-1",
        "--level",
        "L5-S1",
        "--label",
        "1",
        "--store-deidentified",
        str(tmp_path / "deid"),
        "--json",
    )
    assert code == 0, err
    imported = json.loads(out)
    assert imported["pacs"]["instances"] == 9
    (mri,) = imported["mri"]
    vol = hd.seg.segread(study["files"][-1]).get_volume(segment_numbers=[1], combine_segments=True)
    peer = int((vol.array == 1).sum()) * abs(np.linalg.det(vol.affine[:3, :3]))
    assert mri["volume_mm3"] == pytest.approx(peer) == pytest.approx(SEGMENT_1_MM3)
    leaks = [i for i in study["identifiers"] if i in _database_text(db) or i in out]
    assert leaks == []

    deid = [pydicom.dcmread(p) for p in sorted((tmp_path / "deid").glob("*.dcm"))]
    seg_file = next(
        p
        for p, d in zip(sorted((tmp_path / "deid").glob("*.dcm")), deid, strict=True)
        if d.Modality == "SEG"
    )

    # Store back (STOW-RS): the de-identified SEG and an SR of the registry's volume.
    code, out, err = run_cli(
        capsys, "pacs", "send", str(seg_file), "--db", url, "--mri", str(mri["id"]), "--json"
    )
    assert code == 0, err
    sent = json.loads(out)
    assert sent["segment"] == 1 and sent["volume_mm3"] == pytest.approx(SEGMENT_1_MM3)
    assert len(sent["stored"]) == 2

    # Read back from Orthanc: the de-identified study holds exactly the SEG and the SR.
    new_study = sent["study_instance_uid"]
    assert new_study != study["study_uid"]
    instances = client.search_instances(new_study)
    by_uid = {i["SOPInstanceUID"]: i for i in instances}
    assert set(by_uid) == {sent["sr_sop_instance_uid"], sent["seg_sop_instance_uid"]}
    sr_info = by_uid[sent["sr_sop_instance_uid"]]
    seg_info = by_uid[sent["seg_sop_instance_uid"]]
    sr = client.retrieve_instance(
        new_study, sr_info["SeriesInstanceUID"], sent["sr_sop_instance_uid"]
    )
    seg = client.retrieve_instance(
        new_study, seg_info["SeriesInstanceUID"], sent["seg_sop_instance_uid"]
    )

    from resorb.imaging import HerniationMask, mask_volume
    from resorb.interop.sr import read_volumes

    (reported,) = read_volumes(sr)
    assert reported["volume"] == pytest.approx(SEGMENT_1_MM3) and reported["unit"] == "mm3"
    assert reported["seg_sop_instance_uid"] == sent["seg_sop_instance_uid"]
    assert reported["segment_number"] == 1
    back = tmp_path / "back"
    back.mkdir()
    seg.save_as(back / "seg.dcm", enforce_file_format=True)
    sr.save_as(back / "sr.dcm", enforce_file_format=True)
    remeasured = mask_volume(HerniationMask.from_dicom_seg(back / "seg.dcm"), label=1)
    assert remeasured.volume_mm3 == pytest.approx(SEGMENT_1_MM3)
    for ds in (sr, seg):
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.StudyInstanceUID == new_study
        text = str(ds)
        assert [i for i in study["identifiers"] if i in text] == []
    # The SR resorb built and stored is valid (dicom3tools) and its content tree parses
    # (dcmtk dsrdump); the SEG: next test.
    assert dciodvfy_errors(back / "sr.dcm") == []
    tree = dsrdump_tree(back / "sr.dcm")
    assert "Imaging Measurement Report" in tree and "Volume" in tree


def test_deidentified_seg_sent_to_the_pacs_passes_dciodvfy(study, client, registry, tmp_path):
    """The SEG resorb stores on the PACS is its de-identified copy: a valid IOD (0 errors).

    Recipe: ``dciodvfy seg.dcm 2>&1 | grep '^Error'`` on the object read back from
    Orthanc; the original SEG (highdicom) gives none.
    """
    from resorb.registry._pacs import import_from_pacs, send_to_pacs

    reg, _db = registry
    assert dciodvfy_errors(study["files"][-1]) == []
    out = import_from_pacs(
        reg,
        client,
        study["study_uid"],
        patient_id=1,
        actor="test",
        label=1,
        store_dir=tmp_path / "deid",
    )
    seg_file = next(
        p
        for p in (tmp_path / "deid").glob("*.dcm")
        if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"
    )
    sent = send_to_pacs(reg, client, actor="test", mri_id=out["mri"][0]["id"], seg=seg_file)
    (info,) = [
        i
        for i in client.search_instances(sent["study_instance_uid"])
        if i["SOPInstanceUID"] == sent["seg_sop_instance_uid"]
    ]
    seg = client.retrieve_instance(
        sent["study_instance_uid"], info["SeriesInstanceUID"], sent["seg_sop_instance_uid"]
    )
    seg.save_as(tmp_path / "seg-back.dcm", enforce_file_format=True)
    assert dciodvfy_errors(tmp_path / "seg-back.dcm") == []


def test_pacs_search_by_wildcard_finds_the_patients_studies(study, client):
    head = study["patient_id"][:-3]
    found = client.search_studies(patient_id=head + "*", modality="MR")
    assert [s.study_instance_uid for s in found] == [study["study_uid"]]
    assert found[0].patient_id == study["patient_id"]


def test_pacs_search_of_the_whole_archive_is_refused(client):
    with pytest.raises(InvalidInputError, match="search: gives no patient ID"):
        client.search_studies(modality="MR")
    with pytest.raises(InvalidInputError, match="patient_id"):
        client.search_studies(patient_id="A\\B")


def test_wrong_pacs_password_is_one_line_exit_2(pacs_url, capsys, monkeypatch):
    config = PacsConfig(pacs_url)
    monkeypatch.setenv("RESORB_PACS_URL", config.url)
    monkeypatch.setenv("RESORB_PACS_USERNAME", config.username or "resorb")
    monkeypatch.setenv("RESORB_PACS_PASSWORD", "wrong-password")
    code, out, err = run_cli(capsys, "pacs", "search", "--patient-id", "X", "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "HTTP 401" in err
    assert "wrong-password" not in err


def test_unreachable_pacs_is_one_line_exit_2_naming_it(capsys, monkeypatch):
    monkeypatch.delenv("RESORB_PACS_URL", raising=False)
    code, out, err = run_cli(
        capsys,
        "pacs",
        "search",
        "--pacs",
        "http://user:secret@127.0.0.1:9/dicom-web",
        "--patient-id",
        "X",
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "http://127.0.0.1:9/dicom-web" in err
    assert "cannot connect" in err and "secret" not in err


def test_study_over_the_instance_limit_is_refused_before_anything_is_imported(
    study, pacs_url, registry, tmp_path
):
    from resorb.registry._pacs import import_from_pacs

    reg, _db = registry
    small = PacsClient(PacsConfig(pacs_url, max_instances=5))
    with pytest.raises(PacsError, match="9 instances, more than the limit of 5"):
        import_from_pacs(reg, small, study["study_uid"], patient_id=1, actor="test")
    assert reg.list_mri(1) == []


def test_import_of_chosen_series_only_measures_the_seg(
    study, client, registry, capsys, monkeypatch
):
    from resorb.registry._pacs import import_from_pacs

    reg, _db = registry
    monkeypatch.setenv("RESORB_PACS_URL", client.config.url)
    monkeypatch.setenv("RESORB_PACS_USERNAME", client.config.username or "")
    monkeypatch.setenv("RESORB_PACS_PASSWORD", client.config.password or "")
    code, out, err = run_cli(capsys, "pacs", "series", study["study_uid"], "--json")
    assert code == 0, err
    listed = {s["modality"]: s for s in json.loads(out)["series"]}
    assert set(listed) == {"MR", "SEG"} and listed["MR"]["number_of_instances"] == 8
    seg_series = listed["SEG"]["series_instance_uid"]
    assert seg_series == str(study["seg"].SeriesInstanceUID)
    out = import_from_pacs(
        reg,
        client,
        study["study_uid"],
        patient_id=1,
        actor="test",
        label=1,
        series_instance_uids=[seg_series],
    )
    assert out["pacs"]["instances"] == 1
    assert out["mri"][0]["volume_mm3"] == pytest.approx(SEGMENT_1_MM3)


def test_send_refuses_a_seg_that_the_study_was_not_measured_on(
    study, client, registry, tmp_path, capsys
):
    from resorb.registry._pacs import import_from_pacs, send_to_pacs

    reg, _db = registry
    out = import_from_pacs(
        reg,
        client,
        study["study_uid"],
        patient_id=1,
        actor="test",
        label=1,
        store_dir=tmp_path / "deid",
    )
    mri_id = out["mri"][0]["id"]
    # The identified original is refused: results leave only de-identified.
    with pytest.raises(InvalidInputError, match="not de-identified"):
        send_to_pacs(reg, client, actor="test", mri_id=mri_id, seg=study["files"][-1])
    # Another study's (de-identified) SEG is refused.
    other = unique_study(tmp_path / "other")
    client.store([*other["series"], other["seg"]])
    import_from_pacs(
        reg,
        client,
        other["study_uid"],
        patient_id=1,
        actor="test",
        label=1,
        store_dir=tmp_path / "deid-other",
    )
    other_seg = next(
        p
        for p in (tmp_path / "deid-other").glob("*.dcm")
        if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"
    )
    with pytest.raises(InvalidInputError, match=f"is not the SEG MRI study {mri_id}"):
        send_to_pacs(reg, client, actor="test", mri_id=mri_id, seg=other_seg)
    # A segment other than the one measured is refused.
    own_seg = next(
        p
        for p in (tmp_path / "deid").glob("*.dcm")
        if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"
    )
    with pytest.raises(InvalidInputError, match="is not the segment measured"):
        send_to_pacs(reg, client, actor="test", mri_id=mri_id, seg=own_seg, segment=2)


def test_pacs_credentials_stay_out_of_repr_and_messages(tmp_path):
    config = PacsConfig("https://alice:s3cr%40t@pacs.example.org/dicom-web/")
    assert config.url == "https://pacs.example.org/dicom-web"
    assert (config.username, config.password) == ("alice", "s3cr@t")
    assert "s3cr" not in repr(config)
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    env = {
        "RESORB_PACS_URL": "http://pacs.local/dicom-web",
        "RESORB_PACS_USERNAME": "bob",
        "RESORB_PACS_PASSWORD_FILE": str(pw),
        "RESORB_PACS_MAX_INSTANCES": "100",
    }
    from_env = PacsConfig.from_env(env)
    assert from_env is not None
    assert (from_env.username, from_env.password, from_env.max_instances) == (
        "bob",
        "from-file",
        100,
    )
    assert PacsConfig.from_env({}) is None
    with pytest.raises(InvalidInputError, match="pacs_url"):
        PacsConfig("ftp://pacs.local")
    with pytest.raises(InvalidInputError, match="pacs_token"):
        PacsConfig("http://u:p@pacs.local", token="t", username="u", password="p")


def test_objects_built_in_memory_are_stored_as_dicom_files_and_retrieved(client, tmp_path):
    """A dataset made in memory (no preamble) is sent as a PS3.10 file: the PACS serves it
    back as one, and the retrieval (pydicom's reader, no force) accepts it."""
    import uuid

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    study_uid = f"2.25.{uuid.uuid4().int}"
    items = []
    for k in range(3):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        ds.SOPInstanceUID = f"2.25.{uuid.uuid4().int}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, f"{study_uid}.1"
        ds.PatientID, ds.Modality, ds.InstanceNumber = f"MEM-{study_uid[-10:]}", "MR", k + 1
        ds.Rows = ds.Columns = 64
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = np.full((64, 64), k, dtype=np.uint16).tobytes()
        items.append(ds)
    assert all(getattr(d, "preamble", None) is None for d in items)
    client.store(items)
    got = client.retrieve_study(study_uid, tmp_path / "got")
    assert len(got.files) == 3
    back = sorted(pydicom.dcmread(p).InstanceNumber for p in got.files)
    assert back == [1, 2, 3]


def test_sr_only_send_stores_the_report_beside_the_seg_already_there(
    study, client, registry, tmp_path
):
    from resorb.registry._pacs import import_from_pacs, send_to_pacs

    reg, _db = registry
    out = import_from_pacs(
        reg,
        client,
        study["study_uid"],
        patient_id=1,
        actor="test",
        label=1,
        store_dir=tmp_path / "deid",
    )
    seg_file = next(
        p
        for p in (tmp_path / "deid").glob("*.dcm")
        if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"
    )
    first = send_to_pacs(reg, client, actor="test", mri_id=out["mri"][0]["id"], seg=seg_file)
    again = send_to_pacs(
        reg, client, actor="test", mri_id=out["mri"][0]["id"], seg=seg_file, include_seg=False
    )
    assert again["stored"] == [again["sr_sop_instance_uid"]]
    assert again["tracking_uid"] == first["tracking_uid"]  # one herniation, one Tracking UID
    uids = {i["SOPInstanceUID"] for i in client.search_instances(first["study_instance_uid"])}
    assert uids == {
        first["seg_sop_instance_uid"],
        first["sr_sop_instance_uid"],
        again["sr_sop_instance_uid"],
    }


def test_sr_sent_into_the_original_study_carries_the_clinical_identity_only(
    study, client, registry, tmp_path, capsys, monkeypatch
):
    """The SR goes beside the radiologist's own SEG in the patient's study: built on the
    original SEG (found by the registry's keyed UID map), no de-identified value in it;
    valid (dciodvfy 0 errors) and parsed by dsrdump."""
    _reg, db = registry
    monkeypatch.setenv("RESORB_PACS_URL", client.config.url)
    monkeypatch.setenv("RESORB_PACS_USERNAME", client.config.username or "")
    monkeypatch.setenv("RESORB_PACS_PASSWORD", client.config.password or "")
    url = f"sqlite:///{db}"
    code, out, err = run_cli(
        capsys,
        "pacs",
        "import",
        study["study_uid"],
        "--db",
        url,
        "--patient",
        "LDH-PACS-1",
        "--level",
        "L4-L5",
        "--label",
        "1",
        "--store-deidentified",
        str(tmp_path / "deid"),
        "--json",
    )
    assert code == 0, err
    (mri,) = json.loads(out)["mri"]
    deid_files = sorted((tmp_path / "deid").glob("*.dcm"))
    seg_file = next(
        p for p in deid_files if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"
    )
    deid_uids = {
        str(pydicom.dcmread(p, stop_before_pixels=True).data_element(kw).value)
        for p in deid_files
        for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    }

    code, out, err = run_cli(
        capsys,
        "pacs",
        "send",
        str(seg_file),
        "--db",
        url,
        "--mri",
        str(mri["id"]),
        "--into-study",
        study["study_uid"],
        "--json",
    )
    assert code == 0, err
    sent = json.loads(out)
    assert sent["identity"] == "clinical" and sent["stored"] == [sent["sr_sop_instance_uid"]]
    assert sent["seg_sop_instance_uid"] == str(study["seg"].SOPInstanceUID)

    instances = client.search_instances(study["study_uid"])
    assert len(instances) == 10  # 8 MR + the original SEG + the new SR
    (sr_info,) = [i for i in instances if i["SOPInstanceUID"] == sent["sr_sop_instance_uid"]]
    sr = client.retrieve_instance(
        study["study_uid"], sr_info["SeriesInstanceUID"], sent["sr_sop_instance_uid"]
    )
    from resorb.interop.sr import read_volumes

    (reported,) = read_volumes(sr)
    assert reported["volume"] == pytest.approx(SEGMENT_1_MM3)
    assert reported["seg_sop_instance_uid"] == str(study["seg"].SOPInstanceUID)
    assert sr.PatientID == study["patient_id"]
    assert str(getattr(sr, "PatientIdentityRemoved", "NO")) != "YES"
    text = str(sr)
    assert [u for u in deid_uids if u in text] == []  # never a mix of identities
    sr.save_as(tmp_path / "sr-clinical.dcm", enforce_file_format=True)
    assert dciodvfy_errors(tmp_path / "sr-clinical.dcm") == []
    assert "Volume" in dsrdump_tree(tmp_path / "sr-clinical.dcm")


def test_sr_into_a_study_without_the_imported_seg_is_refused(study, client, registry, tmp_path):
    from resorb.registry._pacs import import_from_pacs, send_sr_to_original_study

    reg, _db = registry
    out = import_from_pacs(
        reg,
        client,
        study["study_uid"],
        patient_id=1,
        actor="test",
        label=1,
        store_dir=tmp_path / "deid",
    )
    seg_file = next(
        p
        for p in (tmp_path / "deid").glob("*.dcm")
        if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG"
    )
    other = unique_study(tmp_path / "other")
    client.store([*other["series"], other["seg"]])
    with pytest.raises(InvalidInputError, match="holds no SEG from which MRI study"):
        send_sr_to_original_study(
            reg,
            client,
            mri_id=out["mri"][0]["id"],
            seg=seg_file,
            study_instance_uid=other["study_uid"],
            actor="test",
        )
    assert len(client.search_instances(other["study_uid"])) == 9  # nothing stored
