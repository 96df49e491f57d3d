"""``resorb volume`` and ``resorb resorption``: herniation volume and its change."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from resorb.cli._common import emit, print_table
from resorb.errors import InvalidInputError

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")

#: Let negative numbers through as values so that they are rejected with a
#: message naming the field instead of "no such option".
_NUMERIC_ARGS = {"ignore_unknown_options": True}


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def _parse_areas(text: str) -> list[float]:
    out = []
    for i, part in enumerate(text.replace(";", ",").split(",")):
        part = part.strip()
        if not part:
            raise InvalidInputError(
                f"areas[{i}]", "is empty", allowed="comma-separated areas in mm2, e.g. 20,35.5,12"
            )
        try:
            out.append(float(part))
        except ValueError:
            raise InvalidInputError(
                f"areas[{i}]",
                f"{part!r} is not a number",
                allowed="comma-separated areas in mm2, e.g. 20,35.5,12",
            ) from None
    return out


def _volume_arg(text: str, field: str, label: int | None) -> tuple[float, dict[str, Any]]:
    """A volume given as a number (mm3) or as a mask file to measure."""
    try:
        value = float(text)
    except ValueError:
        value = None
    from resorb.domain.bounds import check_volume_mm3

    if value is not None:
        if not math.isfinite(value):
            raise InvalidInputError(field, f"{text!r}", allowed="a finite volume in mm3")
        check_volume_mm3(value, field=field)
        return value, {"value": value, "method": "reported"}
    path = Path(text)
    if not path.suffix and not path.exists():
        raise InvalidInputError(
            field,
            f"{text!r} is neither a number nor a mask file",
            allowed="a volume in mm3 or a mask file (.nii, .nii.gz, .nrrd, DICOM SEG)",
        )
    from resorb.errors import ImagingError
    from resorb.imaging import HerniationMask, mask_volume

    try:
        mask = HerniationMask.from_file(path)
        if label is None:
            # A serial comparison of disc + herniation would be meaningless: insist on a label.
            present = mask.present_labels()
            if len(present) > 1:
                raise InvalidInputError(
                    "--label",
                    f"{path} holds labels {', '.join(map(str, present))}",
                    allowed="--label N naming the herniation's label",
                )
        m = mask_volume(mask, label=label)
    except ImagingError as exc:
        raise ImagingError(f"{field}: {exc}") from None
    check_volume_mm3(m.volume_mm3, field=field)
    return m.volume_mm3, {
        "file": str(path),
        "label": label,
        "voxel_count": m.voxel_count,
        "method": m.method,
        "warnings": [{"field": f"{field}.{f}", "message": msg} for f, msg in m.warnings],
    }


def _render_volume(data: Mapping[str, Any]) -> None:
    shown = {k: v for k, v in data.items() if k != "warnings"}
    shown["volume_mm3"] = f"{data['volume_mm3']:.1f}"
    if data.get("voxel_volume_mm3") is not None:
        shown["voxel_volume_mm3"] = f"{data['voxel_volume_mm3']:.4f}"
    if data.get("label") is None and "label" in shown:
        shown["label"] = "all nonzero"
    print_table(shown, title="Herniation volume")
    for w in data.get("warnings") or []:
        typer.echo(f"warning: {w['field']}: {w['message']}")


def _render_resorption(data: Mapping[str, Any]) -> None:
    keys = (
        "v0_mm3",
        "v1_mm3",
        "delta_mm3",
        "resorption_percent",
        "grade",
        "within_mdc",
        "mdc_mm3",
        "days",
        "resorption_percent_per_month",
        "delta_mm3_per_month",
    )
    fmt = {
        "v0_mm3": ".1f",
        "v1_mm3": ".1f",
        "delta_mm3": "+.1f",
        "resorption_percent": ".1f",
        "mdc_mm3": "g",
        "days": "g",
        "resorption_percent_per_month": ".2f",
        "delta_mm3_per_month": "+.1f",
    }
    shown = {
        k: (format(data[k], fmt[k]) if k in fmt and data[k] is not None else data[k])
        for k in keys
        if k in data
    }
    print_table(shown, title="Herniation volume change")
    if data["within_mdc"]:
        typer.echo(
            f"note: the change ({data['delta_mm3']:+.0f} mm3) is within the minimal "
            f"detectable change ({data['mdc_mm3']:g} mm3) and may be measurement error."
        )
    t = data["thresholds"]
    typer.echo(
        f"grades: complete = not visible (0 mm3), significant >= "
        f"{t['significant_percent']:g} %, partial >= {t['partial_percent']:g} %, "
        f"enlarged <= {t['enlarged_percent']:g} % ({', '.join(t['sources'])}); "
        f"MDC: {', '.join(data['mdc_sources'])}"
    )


def register(app: typer.Typer) -> None:
    @app.command("volume", context_settings=_NUMERIC_ARGS)
    def volume(
        mask: Path | None = typer.Argument(
            None, help="Label mask: .nii, .nii.gz, .nrrd, or a DICOM SEG file.", show_default=False
        ),
        label: int | None = typer.Option(
            None, "--label", help="Label (segment number) to measure; default: every nonzero voxel."
        ),
        ellipsoid: tuple[float, float, float] | None = typer.Option(
            None,
            "--ellipsoid",
            metavar="AP TR CC",
            help="Three diameters in mm: volume = pi/6 x AP x TR x CC.",
        ),
        areas: str | None = typer.Option(
            None,
            "--areas",
            metavar="A1,A2,...",
            help="Herniation area on each section (mm2) for the "
            "Cavalieri volume; needs --spacing-mm.",
        ),
        spacing_mm: float | None = typer.Option(
            None, "--spacing-mm", help="Distance between section centres (mm) for --areas."
        ),
        source_images: Path | None = typer.Option(
            None,
            "--source-images",
            help="Folder (or file) of the MRI images a DICOM SEG was "
            "drawn on; gives the slice spacing when the SEG does not.",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Herniation volume from a label mask, three diameters, or section areas."""
        from resorb.imaging import (
            HerniationMask,
            cavalieri_volume_mm3,
            ellipsoid_volume_mm3,
            mask_volume,
        )

        given = [
            n
            for n, v in (("MASK", mask), ("--ellipsoid", ellipsoid), ("--areas", areas))
            if v is not None
        ]
        if len(given) != 1:
            raise InvalidInputError(
                "volume",
                f"gives {', '.join(given) or 'nothing to measure'}",
                allowed="exactly one of MASK, --ellipsoid AP TR CC, "
                "--areas A1,A2,... --spacing-mm S",
            )
        if label is not None and mask is None:
            raise InvalidInputError("--label", "given without a mask", allowed="--label with MASK")
        if spacing_mm is not None and areas is None:
            raise InvalidInputError(
                "--spacing-mm", "given without --areas", allowed="--spacing-mm with --areas"
            )
        if source_images is not None and mask is None:
            raise InvalidInputError(
                "--source-images",
                "given without a mask",
                allowed="--source-images with a DICOM SEG MASK",
            )
        if source_images is not None and not source_images.exists():
            raise InvalidInputError(
                "--source-images", "does not exist", allowed="a folder or file of DICOM images"
            )
        if mask is not None:
            read = HerniationMask.from_file(mask, source_images=source_images)
            m = mask_volume(read, label=label)
            notes = [{"field": f, "message": msg} for f, msg in m.warnings]
            present = [int(x) for x in read.present_labels()] if label is None else []
            if len(present) > 1:
                # Counted together as documented, but never silently: the other labels are
                # other structures (the parent disc, a second level).
                notes.append(
                    {
                        "field": "label",
                        "message": (
                            "the mask holds labels "
                            + ", ".join(map(str, present))
                            + ", all counted "
                            "together; give --label N to measure the herniation alone"
                        ),
                    }
                )
            data = {
                "volume_mm3": _round(m.volume_mm3),
                "voxel_count": m.voxel_count,
                "voxel_volume_mm3": _round(m.voxel_volume_mm3, 6),
                "method": m.method,
                "label": label,
                "file": str(mask),
                "warnings": notes,
            }
        elif ellipsoid is not None:
            ap, tr, cc = ellipsoid
            data = {
                "volume_mm3": _round(ellipsoid_volume_mm3(ap, tr, cc)),
                "method": "ellipsoid",
                "diameters_mm": [ap, tr, cc],
                "note": "ellipsoid approximation of an irregular shape; not interchangeable "
                "with a segmented (voxel_count) volume",
            }
        else:
            if spacing_mm is None:
                raise InvalidInputError(
                    "--spacing-mm",
                    "missing for --areas",
                    allowed="the distance between section centres in mm",
                )
            parsed = _parse_areas(areas or "")
            data = {
                "volume_mm3": _round(cavalieri_volume_mm3(parsed, spacing_mm=spacing_mm)),
                "method": "cavalieri",
                "sections": len(parsed),
                "spacing_mm": spacing_mm,
            }
        from resorb.domain.bounds import check_volume_mm3

        # One set of plausible bounds for every door: a mask whose geometry makes the
        # herniation larger than any lumbar herniation is refused, not reported.
        check_volume_mm3(float(data["volume_mm3"]), field="volume_mm3")
        emit(data, as_json=as_json, render=_render_volume)

    @app.command("resorption", context_settings=_NUMERIC_ARGS)
    def resorption(
        v0: str = typer.Argument(
            ..., metavar="V0", help="Baseline volume in mm3 (or a mask file to measure)."
        ),
        v1: str = typer.Argument(
            ...,
            metavar="V1",
            help="Follow-up volume in mm3 (or a mask file); 0 = fragment no longer visible.",
        ),
        days: float | None = typer.Option(
            None, "--days", help="Days between the two MRI studies; adds rates per month."
        ),
        label: int | None = typer.Option(
            None,
            "--label",
            help="Label to measure when V0/V1 "
            "are mask files (required when a mask holds several "
            "labels).",
        ),
        mdc_mm3: float | None = typer.Option(
            None,
            "--mdc-mm3",
            help="Minimal detectable "
            "change in mm3 (default: from the error model "
            "of herniation volumes, two readers).",
        ),
        same_reader: bool = typer.Option(
            False,
            "--same-reader",
            help="The same reader measured both studies (smaller relative error).",
        ),
        partial: float | None = typer.Option(
            None, "--partial-percent", help="Threshold of partial resorption (%)."
        ),
        significant: float | None = typer.Option(
            None, "--significant-percent", help="Threshold of significant resorption (%)."
        ),
        enlarged: float | None = typer.Option(
            None, "--enlarged-percent", help="Threshold of enlargement (%, negative)."
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Signed resorption percent (V0 - V1) / V0 x 100, its grade and the MDC flag."""
        from resorb.imaging import ResorptionGrading, compare_volumes

        if same_reader and mdc_mm3 is not None:
            raise InvalidInputError(
                "--same-reader", "given with --mdc-mm3", allowed="one of --same-reader or --mdc-mm3"
            )
        vol0, src0 = _volume_arg(v0, "v0_mm3", label)
        vol1, src1 = _volume_arg(v1, "v1_mm3", label)
        grading = ResorptionGrading(
            partial_percent=partial, significant_percent=significant, enlarged_percent=enlarged
        )
        r = compare_volumes(
            vol0,
            vol1,
            days=days,
            grading=grading,
            mdc_mm3=mdc_mm3,
            readers="same" if same_reader else "two",
            warn=False,
        )
        data: dict[str, Any] = {
            "resorption_percent": _round(r.resorption_percent),
            "grade": r.grade.value,
            "within_mdc": r.within_mdc,
            "mdc_mm3": r.mdc_mm3,
            "delta_mm3": _round(r.delta_mm3),
            "v0_mm3": _round(r.v0_mm3),
            "v1_mm3": _round(r.v1_mm3),
        }
        if r.days is not None:
            data["days"] = r.days
            data["resorption_percent_per_month"] = _round(r.resorption_percent_per_month)
            data["delta_mm3_per_month"] = _round(r.delta_mm3_per_month)
        data["thresholds"] = r.grading.to_dict()
        data["mdc_sources"] = list(r.mdc_sources)
        data["inputs"] = {"v0": src0, "v1": src1}
        emit(data, as_json=as_json, render=_render_resorption)
