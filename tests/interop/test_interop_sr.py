"""DICOM SR TID 1500: the volume and its unit are found again by highdicom and by pydicom."""

from __future__ import annotations

import pydicom
import pytest
from dicom_factory import make_mr_series, make_seg

from resorb.errors import InvalidInputError
from resorb.interop.sr import read_volumes, volume_report


@pytest.fixture(scope="module")
def seg_and_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sr")
    series = make_mr_series(folder / "mr", markers=False)
    seg = pydicom.dcmread(make_seg(series, folder / "seg.dcm", markers=False))
    return seg, [pydicom.dcmread(p) for p in series], folder


def _num_items(items):
    """Walk an SR content tree with plain pydicom and yield every NUM content item."""
    for item in items:
        if item.ValueType == "NUM":
            yield item
        yield from _num_items(getattr(item, "ContentSequence", []))


def _image_refs(items):
    for item in items:
        if item.ValueType == "IMAGE":
            yield item.ReferencedSOPSequence[0]
        yield from _image_refs(getattr(item, "ContentSequence", []))


@pytest.mark.parametrize("with_images", [False, True])
def test_volume_is_read_back_with_unit_and_segment_reference(seg_and_images, with_images):
    """Recipe: write the SR to disk, read it with highdicom (``srread`` and the TID 1411
    accessors) and independently walk the content tree with pydicom for the NUM item
    whose concept is SCT 118565006 and whose unit is UCUM mm3."""
    import highdicom as hd

    seg, images, folder = seg_and_images
    sr = volume_report(
        seg,
        [{"segment_number": 1, "volume_mm3": 15.0, "level": "L5-S1"}],
        source_images=images if with_images else None,
    )
    path = folder / f"sr-{with_images}.dcm"
    sr.save_as(path)

    back = hd.sr.srread(path)
    assert read_volumes(back) == [
        {
            "volume": 15.0,
            "unit": "mm3",
            "seg_sop_instance_uid": str(seg.SOPInstanceUID),
            "segment_number": 1,
            "tracking_id": "herniation 1",
        }
    ]

    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    nums = [
        n
        for n in _num_items(ds.ContentSequence)
        if n.ConceptNameCodeSequence[0].CodeValue == "118565006"
    ]
    assert len(nums) == 1
    mv = nums[0].MeasuredValueSequence[0]
    assert float(mv.NumericValue) == 15.0
    unit = mv.MeasurementUnitsCodeSequence[0]
    assert (unit.CodeValue, unit.CodingSchemeDesignator) == ("mm3", "UCUM")
    refs = [r for r in _image_refs(ds.ContentSequence) if "ReferencedSegmentNumber" in r]
    assert [str(r.ReferencedSOPInstanceUID) for r in refs] == [str(seg.SOPInstanceUID)]
    assert [int(r.ReferencedSegmentNumber) for r in refs] == [1]
    evidence = {
        str(i.ReferencedSOPInstanceUID)
        for s in ds.CurrentRequestedProcedureEvidenceSequence
        for series in s.ReferencedSeriesSequence
        for i in series.ReferencedSOPSequence
    }
    assert str(seg.SOPInstanceUID) in evidence
    assert len(evidence) == (1 + len(images) if with_images else 1)


def test_bad_measurements_are_rejected(seg_and_images):
    seg, _, _ = seg_and_images
    with pytest.raises(InvalidInputError, match="segment_number"):
        volume_report(seg, [{"segment_number": 7, "volume_mm3": 1.0}])
    with pytest.raises(InvalidInputError, match="volume_mm3"):
        volume_report(seg, [{"segment_number": 1, "volume_mm3": -1.0}])
    with pytest.raises(InvalidInputError, match="measurements"):
        volume_report(seg, [])


def _code_items(items):
    for item in items:
        if item.ValueType == "CODE":
            yield item
        yield from _code_items(getattr(item, "ContentSequence", []))


def test_sr_says_what_was_measured_with_the_segments_own_codes(seg_and_images):
    """A radiologist reading the report sees what the volume is of: TID 1411's Finding
    (DCM 121071) is the segment's Segmented Property Type and its Finding Category
    (SCT 276214006) the segment's category, as the SEG codes them (the factory's
    herniation segment: SCT 52988006 Lesion in 49755003 Morphologically abnormal
    structure). Before, only the free-text tracking identifier said "herniation"."""
    seg, _images, folder = seg_and_images
    sr = volume_report(seg, [{"segment_number": 1, "volume_mm3": 15.0, "level": "L5-S1"}])
    path = folder / "sr-finding.dcm"
    sr.save_as(path)
    codes = {
        (
            c.ConceptNameCodeSequence[0].CodeValue,
            c.ConceptNameCodeSequence[0].CodingSchemeDesignator,
        ): (c.ConceptCodeSequence[0].CodeValue, c.ConceptCodeSequence[0].CodingSchemeDesignator)
        for c in _code_items(pydicom.dcmread(path).ContentSequence)
    }
    segment = seg.SegmentSequence[0]
    kind = segment.SegmentedPropertyTypeCodeSequence[0]
    category = segment.SegmentedPropertyCategoryCodeSequence[0]
    assert (
        codes[("121071", "DCM")]
        == (kind.CodeValue, kind.CodingSchemeDesignator)
        == ("52988006", "SCT")
    )
    assert (
        codes[("276214006", "SCT")]
        == (category.CodeValue, category.CodingSchemeDesignator)
        == ("49755003", "SCT")
    )
