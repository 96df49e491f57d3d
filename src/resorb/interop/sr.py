"""DICOM SR (TID 1500 Measurement Report) of herniation volume, referencing the DICOM SEG.

One Comprehensive 3D SR holding a TID 1500 *Imaging Measurement Report* with
one TID 1411 *Volumetric ROI Measurements* group per herniation: the group
references the SEG segment it was measured on (``ReferencedSegment``), says what
was measured with the segment's own codes (TID 1411 *Finding* = the segment's
Segmented Property Type, *Finding Category* = its category, as the SEG states
them), names the disc level as finding site and carries the volume as a TID 300
measurement (SNOMED CT 118565006 *Volume*, UCUM ``mm3``). Built with highdicom, which
validates the template structure; every code comes from pydicom's copy of the
DICOM code tables (PS3.16), none is typed in here.

The SR copies patient and study attributes from the SEG (highdicom's
behaviour), so export de-identified SEGs (``import_dicom(..., store_dir=...)``)
when the SR leaves the clinic.

The procedure reported is *MRI unspecified body region* (LOINC 25056-3) from
CID 100 "Quantitative Diagnostic Imaging Procedures", the context group TID 1500
draws it from (a report title such as LOINC 18756-7 is not a procedure). The
report is complete and final (``PreliminaryFlag`` FINAL, as the FHIR export's
``status`` final) and unverified: no person has signed it. A herniation keeps
one Tracking UID across reports when the caller passes the same
``tracking_uid`` (the registry derives it from the patient and the level), so
baseline and follow-up SRs of one herniation can be linked.
"""

from __future__ import annotations

from typing import Any

from resorb.errors import InvalidInputError, require_extra

__all__ = ["read_volumes", "volume_report"]

_LEVEL_CODE_NAMES = {
    "L1-L2": "L1L2Disc",
    "L2-L3": "L2L3Disc",
    "L3-L4": "L3L4Disc",
    "L4-L5": "L4L5Disc",
    "L5-S1": "L5S1Disc",
}


def volume_report(
    seg: Any,
    measurements: list[dict[str, Any]],
    *,
    series_number: int = 900,
    instance_number: int = 1,
    manufacturer: str = "resorb",
    device_name: str = "resorb",
    sop_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    source_images: list[Any] | None = None,
):
    """A TID 1500 Comprehensive 3D SR of herniation volumes measured on ``seg``.

    Parameters
    ----------
    seg : pydicom.Dataset
        The DICOM SEG the volumes were measured on (evidence and reference).
    measurements : list of dict
        One per herniation: ``segment_number`` (int), ``volume_mm3`` (float,
        >= 0), optional ``level`` (``"L5-S1"``), ``tracking_id`` (str) and
        ``tracking_uid`` (the herniation's Tracking UID; a new one otherwise).
    series_number, instance_number, manufacturer, device_name
        Attributes of the new SR.
    source_images : list of pydicom.Dataset, optional
        The images the SEG was drawn on (each must be referenced by the SEG):
        the segment reference then names the source instances and the SR lists
        them as evidence. Without them the reference names the source series
        (from the SEG's ReferencedSeriesSequence) and the SEG alone is the
        evidence.

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
    """
    hd = require_extra("highdicom", "imaging")
    from pydicom.sr.codedict import codes

    from resorb.domain import SpinalLevel, parse_enum

    if not measurements:
        raise InvalidInputError("measurements", "is empty", allowed="at least one volume")
    segment_numbers = {int(s.SegmentNumber) for s in getattr(seg, "SegmentSequence", [])}
    if not segment_numbers:
        raise InvalidInputError(
            "seg", "is not a DICOM SEG with segments", allowed="a Segmentation dataset"
        )
    if source_images is not None:
        _check_sources(seg, source_images)
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=device_name
        ),
    )
    context = hd.sr.ObservationContext(observer_device_context=observer)
    groups = []
    for i, m in enumerate(measurements):
        number = m.get("segment_number")
        if number not in segment_numbers:
            raise InvalidInputError(
                f"measurements[{i}].segment_number",
                f"{number!r}",
                allowed=", ".join(map(str, sorted(segment_numbers))),
            )
        volume = m.get("volume_mm3")
        if not (isinstance(volume, int | float) and volume >= 0):
            raise InvalidInputError(
                f"measurements[{i}].volume_mm3", f"{volume!r}", allowed="a volume >= 0 mm3"
            )
        sites = None
        if m.get("level") is not None:
            level = parse_enum(SpinalLevel, m["level"], field=f"measurements[{i}].level").value
            sites = [
                hd.sr.FindingSite(anatomic_location=getattr(codes.SCT, _LEVEL_CODE_NAMES[level]))
            ]
        tracking = hd.sr.TrackingIdentifier(
            uid=hd.UID(str(m["tracking_uid"])) if m.get("tracking_uid") else hd.UID(),
            identifier=str(m.get("tracking_id") or f"herniation {number}"),
        )
        finding_type, finding_category = _segment_codes(hd, seg, number)
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                referenced_segment=_referenced_segment(hd, seg, number, source_images),
                finding_type=finding_type,
                finding_category=finding_category,
                finding_sites=sites,
                measurements=[
                    hd.sr.Measurement(
                        name=codes.SCT.Volume, value=float(volume), unit=codes.UCUM.CubicMillimeter
                    )
                ],
            )
        )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.LN.MRIUnspecifiedBodyRegion,
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[seg, *(source_images or [])],
        content=report[0],
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=instance_number,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=True,
        is_verified=False,
    )


def _segment_codes(hd, seg, number: int):
    """(finding type, finding category) of segment ``number``: its Segmented Property
    Type and Category codes (Type 1 in the SEG), or None where a code is incomplete."""

    def code(item, keyword):
        seq = item.get(keyword)
        if not seq or not all(
            k in seq[0] for k in ("CodeValue", "CodingSchemeDesignator", "CodeMeaning")
        ):
            return None
        c = seq[0]
        return hd.sr.CodedConcept(
            value=str(c.CodeValue),
            scheme_designator=str(c.CodingSchemeDesignator),
            meaning=str(c.CodeMeaning)[:64],
        )

    for item in getattr(seg, "SegmentSequence", []):
        if int(item.SegmentNumber) == number:
            return (
                code(item, "SegmentedPropertyTypeCodeSequence"),
                code(item, "SegmentedPropertyCategoryCodeSequence"),
            )
    return None, None


def _seg_source_uids(seg) -> set[str]:
    return {
        str(i.ReferencedSOPInstanceUID)
        for series in getattr(seg, "ReferencedSeriesSequence", [])
        for i in getattr(series, "ReferencedInstanceSequence", [])
    }


def _check_sources(seg, source_images) -> None:
    referenced = _seg_source_uids(seg)
    for i, img in enumerate(source_images):
        if str(getattr(img, "SOPInstanceUID", "")) not in referenced:
            raise InvalidInputError(
                f"source_images[{i}]",
                "is not an image the SEG references",
                allowed="the images the SEG was drawn on",
            )


def _referenced_segment(hd, seg, number: int, source_images):
    if source_images is not None:
        if str(getattr(seg, "SegmentationType", "")).upper() == "BINARY":
            return hd.sr.ReferencedSegment.from_segmentation(seg, number)
        # LABELMAP: every frame holds every label, so each source image of the SEG is a
        # source of the segment (highdicom's from_segmentation handles BINARY only).
        return hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID,
            sop_instance_uid=seg.SOPInstanceUID,
            segment_number=number,
            source_images=[
                hd.sr.SourceImageForSegmentation(
                    referenced_sop_class_uid=img.SOPClassUID,
                    referenced_sop_instance_uid=img.SOPInstanceUID,
                )
                for img in source_images
            ],
        )
    series = getattr(seg, "ReferencedSeriesSequence", None)
    if not series:
        raise InvalidInputError(
            "seg",
            "names no source series (ReferencedSeriesSequence)",
            allowed="a SEG with its source series, or pass source_images",
        )
    return hd.sr.ReferencedSegment(
        sop_class_uid=seg.SOPClassUID,
        sop_instance_uid=seg.SOPInstanceUID,
        segment_number=number,
        source_series=hd.sr.SourceSeriesForSegmentation(series[0].SeriesInstanceUID),
    )


def read_volumes(sr: Any) -> list[dict[str, Any]]:
    """Volumes found in a TID 1500 SR: value, unit, referenced SEG instance and segment."""
    hd = require_extra("highdicom", "imaging")
    from pydicom.sr.codedict import codes

    if not isinstance(sr, hd.sr.Comprehensive3DSR | hd.sr.ComprehensiveSR | hd.sr.EnhancedSR):
        sr = hd.sr.Comprehensive3DSR.from_dataset(sr)
    out = []
    for group in sr.content.get_volumetric_roi_measurement_groups():
        ref = group.referenced_segment
        for meas in group.get_measurements(name=codes.SCT.Volume):
            out.append(
                {
                    "volume": float(meas.value),
                    "unit": meas.unit.value,
                    "seg_sop_instance_uid": None
                    if ref is None
                    else str(ref.referenced_sop_instance_uid),
                    "segment_number": None
                    if ref is None
                    else int(ref.referenced_segment_numbers[0]),
                    "tracking_id": group.tracking_identifier,
                }
            )
    return out
