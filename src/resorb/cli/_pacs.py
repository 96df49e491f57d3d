"""``resorb pacs ...``: search a PACS, import a study de-identified, send SEG and SR back.

The PACS is named by ``--pacs URL`` or the ``RESORB_PACS_URL`` environment
variable (the DICOMweb root); credentials come from ``RESORB_PACS_USERNAME``
and ``RESORB_PACS_PASSWORD`` (or ``RESORB_PACS_PASSWORD_FILE``), or
``RESORB_PACS_TOKEN`` for a bearer token, so that they stay out of the shell
history and the process list.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from resorb.cli._common import emit
from resorb.cli._registry import _DB_HELP, _default_actor, _open, _patient_id

__all__ = ["register"]

_PACS_HELP = (
    "DICOMweb root of the PACS (default: RESORB_PACS_URL). Credentials: "
    "RESORB_PACS_USERNAME + RESORB_PACS_PASSWORD (or _PASSWORD_FILE), or "
    "RESORB_PACS_TOKEN."
)


def _client(pacs: str | None):
    from resorb.errors import InvalidInputError
    from resorb.interop.dicomweb import PacsClient, PacsConfig

    config = PacsConfig.from_env()
    if pacs:
        base = (
            {}
            if config is None
            else {
                "username": config.username,
                "password": config.password,
                "token": config.token,
                "timeout_s": config.timeout_s,
                "max_instances": config.max_instances,
                "max_bytes": config.max_bytes,
            }
        )
        config = PacsConfig(pacs, **base)
    if config is None:
        raise InvalidInputError(
            "--pacs",
            "is not given and RESORB_PACS_URL is not set",
            allowed="the DICOMweb root of the PACS",
        )
    return PacsClient(config)


def _render_studies(data: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from resorb.cli._common import to_jsonable

    data = to_jsonable(data)
    table = Table(title=f"Studies on {data['pacs']}")
    for col in (
        "date",
        "patient ID",
        "patient name",
        "description",
        "modalities",
        "series",
        "instances",
        "StudyInstanceUID",
    ):
        table.add_column(col)
    for s in data["studies"]:
        table.add_row(
            s["study_date"] or "–",
            s["patient_id"],
            s["patient_name"],
            s["study_description"],
            " ".join(s["modalities"]),
            str(s["number_of_series"] or "–"),
            str(s["number_of_instances"] or "–"),
            s["study_instance_uid"],
        )
    Console().print(table)


def _render_series(data: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from resorb.cli._common import to_jsonable

    data = to_jsonable(data)
    table = Table(title=f"Series on {data['pacs']}")
    for col in ("number", "modality", "description", "instances", "SeriesInstanceUID"):
        table.add_column(col)
    for s in data["series"]:
        table.add_row(
            str(s["series_number"] or "–"),
            s["modality"],
            s["series_description"],
            str(s["number_of_instances"] or "–"),
            s["series_instance_uid"],
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the ``pacs`` command group to ``app``."""
    pacs_app = typer.Typer(
        name="pacs",
        help="A PACS over DICOMweb: search, import (de-identified), send SEG and SR back.",
        no_args_is_help=True,
    )
    app.add_typer(pacs_app)

    @pacs_app.command("search")
    def search(
        patient_id: str | None = typer.Option(
            None, "--patient-id", help="PACS patient ID (wildcards * ?)."
        ),
        patient_name: str | None = typer.Option(
            None, "--patient-name", help="Patient name, FAMILY^GIVEN (wildcards * ?)."
        ),
        accession: str | None = typer.Option(None, "--accession", help="Accession number."),
        study_date: str | None = typer.Option(
            None, "--date", help="YYYYMMDD, YYYY-MM-DD or a range YYYYMMDD-YYYYMMDD."
        ),
        modality: str | None = typer.Option(
            "MR", "--modality", help="Keep studies holding this modality ('' for all)."
        ),
        limit: int = typer.Option(50, "--limit", help="At most this many studies."),
        pacs: str | None = typer.Option(None, "--pacs", help=_PACS_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Find a patient's studies on the PACS (QIDO-RS)."""
        client = _client(pacs)
        found = client.search_studies(
            patient_id=patient_id,
            patient_name=patient_name,
            accession_number=accession,
            study_date=study_date,
            modality=modality or None,
            limit=limit,
        )
        emit(
            {"pacs": client.config.display_url, "studies": found},
            as_json=as_json,
            render=_render_studies,
        )

    @pacs_app.command("series")
    def series_(
        study_uid: str = typer.Argument(
            ..., metavar="STUDY_UID", help="StudyInstanceUID on the PACS."
        ),
        pacs: str | None = typer.Option(None, "--pacs", help=_PACS_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """List the series of a study (QIDO-RS), to import only some with --series."""
        client = _client(pacs)
        found = client.search_series(study_uid)
        emit(
            {"pacs": client.config.display_url, "series": found},
            as_json=as_json,
            render=_render_series,
        )

    @pacs_app.command("import")
    def import_(
        study_uid: str = typer.Argument(
            ..., metavar="STUDY_UID", help="StudyInstanceUID on the PACS."
        ),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        patient: str = typer.Option(..., "--patient", help="Registry patient id or pseudonym."),
        series: list[str] | None = typer.Option(
            None, "--series", help="Only this SeriesInstanceUID (repeatable)."
        ),
        level: str | None = typer.Option(None, "--level", help="Disc level of the herniation."),
        label: int | None = typer.Option(None, "--label", help="SEG segment number to measure."),
        store: Path | None = typer.Option(
            None,
            "--store-deidentified",
            help="Keep the de-identified objects in this folder (needed by `pacs send`).",
        ),
        pacs: str | None = typer.Option(None, "--pacs", help=_PACS_HELP),
        actor: str = typer.Option(
            _default_actor(), "--actor", help="Acting user for the audit log."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Retrieve a study (WADO-RS) and import it de-identified (DICOM PS3.15)."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from resorb.registry._pacs import import_from_pacs

        client = _client(pacs)
        # On stderr, and only from the first instance on: a refused request prints
        # nothing but its one error line, and --json output stays one object.
        bar = Progress(
            TextColumn("retrieving from the PACS"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        task: list[Any] = []

        def tick(done: int, total: int | None) -> None:
            if not task:
                bar.start()
                task.append(bar.add_task("retrieve", total=total))
            bar.update(task[0], completed=done, total=total)

        try:
            with _open(db) as reg:
                pid = _patient_id(reg, patient)
                result = import_from_pacs(
                    reg,
                    client,
                    study_uid,
                    patient_id=pid,
                    actor=actor,
                    level=level,
                    label=label,
                    series_instance_uids=series or None,
                    store_dir=store,
                    progress=tick,
                )
        finally:
            bar.stop()
        emit(result, as_json=as_json)

    @pacs_app.command("send")
    def send(
        seg: Path = typer.Argument(
            ..., help="The de-identified DICOM SEG of the study (from --store-deidentified)."
        ),
        db: str = typer.Option("sqlite:///./resorb.db", "--db", help=_DB_HELP),
        mri: int = typer.Option(..., "--mri", help="Registry MRI study id."),
        segment: int | None = typer.Option(
            None, "--segment", help="SEG segment of the herniation (default: the one measured)."
        ),
        no_seg: bool = typer.Option(
            False, "--sr-only", help="Store the SR only (the SEG is already on the PACS)."
        ),
        into_study: str | None = typer.Option(
            None,
            "--into-study",
            metavar="STUDY_UID",
            help="Put the SR into this original study on the PACS instead, built on "
            "its original SEG (clinical identity; the SEG is not sent).",
        ),
        pacs: str | None = typer.Option(None, "--pacs", help=_PACS_HELP),
        actor: str = typer.Option(
            _default_actor(), "--actor", help="Acting user for the audit log."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Store the SEG and a DICOM SR (TID 1500) of the study's volume on the PACS (STOW-RS).

        Default: the de-identified SEG and SR (de-identified identity). With
        --into-study: the SR alone, in the original study (clinical identity).
        """
        from resorb.errors import InvalidInputError
        from resorb.registry._pacs import send_sr_to_original_study, send_to_pacs

        if into_study is not None and no_seg:
            raise InvalidInputError(
                "--sr-only",
                "given with --into-study",
                allowed="--into-study alone (it sends the SR only)",
            )
        client = _client(pacs)
        with _open(db) as reg:
            if into_study is not None:
                result = send_sr_to_original_study(
                    reg,
                    client,
                    mri_id=mri,
                    seg=seg,
                    study_instance_uid=into_study,
                    segment=segment,
                    actor=actor,
                )
            else:
                result = send_to_pacs(
                    reg,
                    client,
                    mri_id=mri,
                    seg=seg,
                    segment=segment,
                    include_seg=not no_seg,
                    actor=actor,
                )
                result["identity"] = "deidentified"
        emit(result, as_json=as_json)
