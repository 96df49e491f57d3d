"""A PACS over DICOMweb: search (QIDO-RS), retrieve (WADO-RS) and store (STOW-RS).

A thin adapter over `dicomweb-client <https://github.com/ImagingDataCommons/dicomweb-client>`_
(the Imaging Data Commons client; PS3.18 web services). What it adds:

- :class:`PacsConfig`: where the PACS is and how to sign in (HTTP basic
  credentials or a bearer token), read from the environment by
  :meth:`PacsConfig.from_env`; credentials never appear in ``repr``, messages or
  logs (:attr:`PacsConfig.display_url`).
- Typed results (:class:`StudySummary`, :class:`SeriesSummary`,
  :class:`RetrievedStudy`, :class:`StoreResult`) instead of DICOM JSON.
- Bounds: a search needs a criterion and returns at most ``limit`` studies; a
  retrieval refuses a study with more than ``max_instances`` instances or
  ``max_bytes`` bytes and writes one instance at a time (WADO-RS streamed), so
  memory stays at one instance.
- Errors: every failure of the network or the server is a
  :class:`~resorb.errors.PacsError` with one line that names the PACS (without
  credentials) and what went wrong; bad search values are
  :class:`~resorb.errors.InvalidInputError` naming the field.

Retrieved objects are the clinic's identified originals: they go to a private
temporary folder and from there through the registry's DICOM import, which
de-identifies them (:func:`resorb.registry.import_from_pacs`).

References
----------
DICOM PS3.18 (Web Services), sections 10.4 (STOW-RS), 10.5 (WADO-RS) and 10.6
(QIDO-RS).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from resorb.errors import InvalidInputError, PacsError, require_extra
from resorb.interop._dicomweb_wire import (
    check_uid,
    dataset_from_json,
    date_filter,
    ensure_file_meta,
    int_of,
    invalid_dicom_error,
    parse_da,
    text_of,
    wildcard_session_class,
)

__all__ = [
    "PACS_ENV",
    "PacsClient",
    "PacsConfig",
    "RetrievedStudy",
    "SeriesSummary",
    "StoreResult",
    "StudySummary",
]

#: Environment variables read by :meth:`PacsConfig.from_env`.
PACS_ENV = {
    "url": "RESORB_PACS_URL",
    "username": "RESORB_PACS_USERNAME",
    "password": "RESORB_PACS_PASSWORD",
    "password_file": "RESORB_PACS_PASSWORD_FILE",
    "token": "RESORB_PACS_TOKEN",
    "timeout_s": "RESORB_PACS_TIMEOUT_S",
    "max_instances": "RESORB_PACS_MAX_INSTANCES",
    "max_bytes": "RESORB_PACS_MAX_BYTES",
}

#: Search values: DICOM LO/PN/SH text without the multi-value separator or control
#: characters; ``*`` and ``?`` are QIDO wildcards.
_SEARCH_TEXT = re.compile(r"^[^\\\x00-\x1f\x7f]{1,64}$")


@dataclass(frozen=True, slots=True)
class PacsConfig:
    """Where the PACS is and how to sign in.

    Parameters
    ----------
    url : str
        DICOMweb root (``https://pacs.example.org/dicom-web``). Credentials
        written into the URL (``https://user:pw@host/...``) are moved into
        ``username`` and ``password``.
    username, password : str, optional
        HTTP basic authentication (both or neither).
    token : str, optional
        A bearer token (``Authorization: Bearer``), instead of a password.
    timeout_s : float
        Connect and read timeout of each request, in seconds.
    max_instances : int
        A study with more instances is refused before anything is retrieved.
    max_bytes : int
        A retrieval stops (and deletes what it wrote) beyond this many bytes.

    Notes
    -----
    These are software limits, not clinical numbers: the defaults take a
    lumbar MRI study (a few hundred to a few thousand images of ~0.5 MB).
    """

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    max_instances: int = 5000
    max_bytes: int = 4 * 1024**3

    def __post_init__(self) -> None:
        parts = urlsplit(str(self.url).strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                "pacs_url",
                "is not an http(s) URL",
                allowed="the DICOMweb root, e.g. https://pacs.example.org/dicom-web",
            )
        if parts.username is not None or parts.password is not None:
            user, password = unquote(parts.username or ""), unquote(parts.password or "")
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            object.__setattr__(self, "url", urlunsplit(parts._replace(netloc=netloc)))
            if self.username is None and self.token is None:
                object.__setattr__(self, "username", user)
                object.__setattr__(self, "password", password)
        object.__setattr__(self, "url", str(self.url).strip().rstrip("/"))
        if (self.username is None) != (self.password is None):
            raise InvalidInputError(
                "pacs_password" if self.username else "pacs_username",
                "is missing",
                allowed="both a user name and a password",
            )
        if self.token is not None and self.username is not None:
            raise InvalidInputError(
                "pacs_token",
                "given together with a user name",
                allowed="a password or a bearer token, not both",
            )
        if not (isinstance(self.timeout_s, int | float) and 0 < self.timeout_s <= 3600):
            raise InvalidInputError(
                "pacs_timeout_s", f"{self.timeout_s!r}", allowed="seconds, > 0 and <= 3600"
            )
        for name in ("max_instances", "max_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"pacs_{name}", f"{value!r}", allowed="an integer >= 1")

    @property
    def display_url(self) -> str:
        """The URL without credentials, for messages and logs."""
        return self.url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PacsConfig | None:
        """The PACS configured in the environment, or None when ``RESORB_PACS_URL`` is unset.

        ``RESORB_PACS_PASSWORD_FILE`` names a file holding the password (for
        secrets mounted as files); it is read when ``RESORB_PACS_PASSWORD`` is unset.
        """
        env = os.environ if environ is None else environ
        url = env.get(PACS_ENV["url"], "").strip()
        if not url:
            return None
        password = env.get(PACS_ENV["password"]) or None
        pw_file = env.get(PACS_ENV["password_file"])
        if password is None and pw_file:
            try:
                password = Path(pw_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InvalidInputError(
                    PACS_ENV["password_file"],
                    f"cannot be read ({exc.strerror})",
                    allowed="a readable file holding the password",
                ) from None
        kwargs: dict[str, Any] = {
            "username": env.get(PACS_ENV["username"]) or None,
            "password": password,
            "token": env.get(PACS_ENV["token"]) or None,
        }
        for key, conv in (("timeout_s", float), ("max_instances", int), ("max_bytes", int)):
            raw = env.get(PACS_ENV[key])
            if raw:
                try:
                    kwargs[key] = conv(raw)
                except ValueError:
                    raise InvalidInputError(
                        PACS_ENV[key], f"{raw!r} is not a number", allowed="a number"
                    ) from None
        return cls(url, **kwargs)


@dataclass(frozen=True, slots=True)
class StudySummary:
    """One study found by a QIDO-RS search (the PACS's own, identified values)."""

    study_instance_uid: str
    study_date: dt.date | None
    study_description: str
    patient_id: str
    patient_name: str
    accession_number: str
    modalities: tuple[str, ...]
    number_of_series: int | None
    number_of_instances: int | None


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """One series of a study."""

    series_instance_uid: str
    modality: str
    series_number: int | None
    series_description: str
    number_of_instances: int | None


@dataclass(frozen=True, slots=True)
class RetrievedStudy:
    """What :meth:`PacsClient.retrieve_study` wrote: one file per instance."""

    folder: Path
    files: tuple[Path, ...]
    n_bytes: int


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The PACS's answer to a STOW-RS request: stored and failed SOP instances."""

    stored: tuple[str, ...]
    failed: tuple[tuple[str, int | None], ...]


class PacsClient:
    """Search, retrieve and store on one PACS.

    >>> client = PacsClient(PacsConfig("http://127.0.0.1:8042/dicom-web"))  # doctest: +SKIP
    >>> client.search_studies(patient_id="PID-778899")  # doctest: +SKIP
    """

    def __init__(self, config: PacsConfig) -> None:
        dicomweb = require_extra("dicomweb_client", "pacs")
        requests = require_extra("requests", "pacs")
        # dicomweb-client logs study UIDs and query values (patient IDs, names) at INFO;
        # they are identifiers and must not reach an application log kept at INFO.
        logging.getLogger("dicomweb_client").setLevel(logging.WARNING)
        self.config = config
        session = wildcard_session_class(requests)()
        if config.username is not None:
            session.auth = (config.username, config.password or "")
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else None
        self._requests = requests
        self._client = dicomweb.DICOMwebClient(
            config.url, session=session, headers=headers, timeout=config.timeout_s
        )
        # No automatic retries: the client's retry decorator (retrying) repeats every
        # exception too, so a PACS that is down would cost several back-off waits
        # before the one-line error; the user (or the page) simply tries again.
        self._client.set_http_retry_params(retry=False)

    # -- errors -------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call; every network or server failure becomes one PacsError line."""
        exc_mod = self._requests.exceptions
        where = self.config.display_url
        try:
            return fn(*args, **kwargs)
        except exc_mod.HTTPError as exc:
            status = getattr(exc.response, "status_code", None)
            reason = {
                401: "refused the credentials (HTTP 401); check the PACS user name and "
                "password or token",
                403: "refused access (HTTP 403)",
                404: "does not have it (HTTP 404)",
            }.get(status, f"answered HTTP {status}")
            raise PacsError(f"PACS {where}: {what}: {reason}") from None
        except exc_mod.Timeout:
            raise PacsError(
                f"PACS {where}: {what}: no answer within {self.config.timeout_s:g} s"
            ) from None
        except exc_mod.ConnectionError:
            raise PacsError(
                f"PACS {where}: {what}: cannot connect (is the URL right and the server running?)"
            ) from None
        except exc_mod.RequestException:  # a broken or cut-off answer, a bad redirect ...
            # (the class name of the library's exception means nothing to a clinician)
            raise PacsError(
                f"PACS {where}: {what}: the connection failed or the answer was cut off"
            ) from None
        except invalid_dicom_error():
            raise PacsError(
                f"PACS {where}: {what}: the PACS sent an object that is not a DICOM file (PS3.10)"
            ) from None
        except ValueError as exc:  # a malformed multipart or JSON answer
            first = (str(exc).splitlines() or [""])[0][:200]
            raise PacsError(f"PACS {where}: {what}: unreadable answer ({first})") from None

    # -- QIDO-RS ------------------------------------------------------------------------------

    def search_studies(
        self,
        *,
        patient_id: str | None = None,
        patient_name: str | None = None,
        accession_number: str | None = None,
        study_instance_uid: str | None = None,
        study_date: str | dt.date | None = None,
        modality: str | None = None,
        limit: int = 50,
    ) -> list[StudySummary]:
        """Studies that match every given criterion (at least one identifying criterion).

        Parameters
        ----------
        patient_id, patient_name, accession_number : str, optional
            QIDO matching: exact, or with ``*`` / ``?`` wildcards; names are
            DICOM PN (``FAMILY^GIVEN``).
        study_instance_uid : str, optional
        study_date : str or date, optional
            ``YYYYMMDD``, a range ``YYYYMMDD-YYYYMMDD``, or a date.
        modality : str, optional
            ``MR`` keeps studies holding an MR series (ModalitiesInStudy).
        limit : int
            At most this many studies (1-500).
        """
        filters: dict[str, str] = {}
        for key, value, fname in (
            ("PatientID", patient_id, "patient_id"),
            ("PatientName", patient_name, "patient_name"),
            ("AccessionNumber", accession_number, "accession_number"),
        ):
            if value is not None and str(value).strip():
                text = str(value).strip()
                if not _SEARCH_TEXT.match(text):
                    raise InvalidInputError(
                        fname,
                        "is not a DICOM search value",
                        allowed="1-64 characters without backslash or control characters",
                    )
                filters[key] = text
        if study_instance_uid:
            filters["StudyInstanceUID"] = check_uid(study_instance_uid, "study_instance_uid")
        if not filters:
            raise InvalidInputError(
                "search",
                "gives no patient ID, name, accession number or study UID",
                allowed="at least one of them (a search of the whole PACS is not allowed)",
            )
        if study_date is not None:
            filters["StudyDate"] = date_filter(study_date)
        if modality:
            if not re.fullmatch(r"[A-Z]{2,16}", modality):
                raise InvalidInputError(
                    "modality", f"{modality!r}", allowed="a DICOM modality code, e.g. MR"
                )
            filters["ModalitiesInStudy"] = modality
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise InvalidInputError("limit", f"{limit!r}", allowed="an integer 1-500")
        fields = [
            "StudyDescription",
            "ModalitiesInStudy",
            "NumberOfStudyRelatedSeries",
            "NumberOfStudyRelatedInstances",
            "PatientName",
            "PatientID",
            "AccessionNumber",
            "StudyDate",
        ]
        found = self._call(
            "search for studies",
            self._client.search_for_studies,
            search_filters=filters,
            fields=fields,
            limit=limit,
        )
        out = []
        for item in found[:limit]:
            ds = dataset_from_json(item)
            mods = ds.get("ModalitiesInStudy", [])
            mods = getattr(mods, "value", mods)
            mods = [mods] if isinstance(mods, str) else list(mods or [])
            out.append(
                StudySummary(
                    study_instance_uid=text_of(ds, "StudyInstanceUID"),
                    study_date=parse_da(text_of(ds, "StudyDate")),
                    study_description=text_of(ds, "StudyDescription"),
                    patient_id=text_of(ds, "PatientID"),
                    patient_name=text_of(ds, "PatientName"),
                    accession_number=text_of(ds, "AccessionNumber"),
                    modalities=tuple(str(m) for m in mods if m),
                    number_of_series=int_of(ds, "NumberOfStudyRelatedSeries"),
                    number_of_instances=int_of(ds, "NumberOfStudyRelatedInstances"),
                )
            )
        out.sort(key=lambda s: (s.study_date or dt.date.min, s.study_instance_uid), reverse=True)
        return out

    def search_series(self, study_instance_uid: str) -> list[SeriesSummary]:
        """The series of one study, in series-number order."""
        uid = check_uid(study_instance_uid, "study_instance_uid")
        found = self._call(
            "search for series",
            self._client.search_for_series,
            study_instance_uid=uid,
            fields=[
                "Modality",
                "SeriesNumber",
                "SeriesDescription",
                "NumberOfSeriesRelatedInstances",
            ],
        )
        out = []
        for item in found:
            ds = dataset_from_json(item)
            out.append(
                SeriesSummary(
                    series_instance_uid=text_of(ds, "SeriesInstanceUID"),
                    modality=text_of(ds, "Modality"),
                    series_number=int_of(ds, "SeriesNumber"),
                    series_description=text_of(ds, "SeriesDescription"),
                    number_of_instances=int_of(ds, "NumberOfSeriesRelatedInstances"),
                )
            )
        out.sort(key=lambda s: (s.series_number is None, s.series_number or 0))
        return out

    def search_instances(
        self, study_instance_uid: str, series_instance_uid: str | None = None
    ) -> list[dict[str, str]]:
        """SOP class and instance UIDs (and the series UID) of the instances of a study."""
        uid = check_uid(study_instance_uid, "study_instance_uid")
        kwargs: dict[str, Any] = {"study_instance_uid": uid}
        if series_instance_uid is not None:
            kwargs["series_instance_uid"] = check_uid(series_instance_uid, "series_instance_uid")
        found = self._call("search for instances", self._client.search_for_instances, **kwargs)
        out = []
        for item in found:
            ds = dataset_from_json(item)
            out.append(
                {
                    "SOPClassUID": text_of(ds, "SOPClassUID"),
                    "SOPInstanceUID": text_of(ds, "SOPInstanceUID"),
                    "SeriesInstanceUID": text_of(ds, "SeriesInstanceUID"),
                }
            )
        return out

    # -- WADO-RS ------------------------------------------------------------------------------

    def retrieve_study(
        self,
        study_instance_uid: str,
        folder: str | Path,
        *,
        series_instance_uids: Iterable[str] | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> RetrievedStudy:
        """Write every instance of a study (or of the given series) into ``folder``.

        The size is checked first (QIDO-RS instance counts against
        ``max_instances``); instances then arrive one at a time (WADO-RS,
        streamed) and are written as ``NNNNN.dcm``. Beyond ``max_bytes`` the
        retrieval stops and the files written are deleted.

        Parameters
        ----------
        progress : callable, optional
            Called as ``progress(done, total)`` after each instance.
        """
        pydicom = require_extra("pydicom", "imaging")
        uid = check_uid(study_instance_uid, "study_instance_uid")
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        all_series = self.search_series(uid)
        if not all_series:
            raise PacsError(
                f"PACS {self.config.display_url}: the study has no series "
                "(or no study has that UID)"
            )
        if series_instance_uids is not None:
            wanted = [check_uid(s, "series_instance_uid") for s in series_instance_uids]
            known = {s.series_instance_uid for s in all_series}
            missing = [s for s in wanted if s not in known]
            if missing:
                raise InvalidInputError(
                    "series_instance_uid",
                    "is not a series of the study",
                    allowed="a SeriesInstanceUID listed by the series search",
                )
            chosen = [s for s in all_series if s.series_instance_uid in wanted]
        else:
            chosen = all_series
        counts = [s.number_of_instances for s in chosen]
        total = sum(counts) if all(c is not None for c in counts) else None  # type: ignore[misc]
        if total is not None and total > self.config.max_instances:
            raise PacsError(
                f"PACS {self.config.display_url}: the study holds {total} "
                f"instances, more than the limit of {self.config.max_instances} "
                "(choose series, or raise RESORB_PACS_MAX_INSTANCES)"
            )
        files: list[Path] = []
        n_bytes = 0
        try:
            for series in chosen:
                stream = self._call(
                    "retrieve a series",
                    self._client.iter_series,
                    study_instance_uid=uid,
                    series_instance_uid=series.series_instance_uid,
                )
                while True:
                    ds = self._call("retrieve an instance", next, stream, None)
                    if ds is None:
                        break
                    if len(files) >= self.config.max_instances:
                        raise PacsError(
                            f"PACS {self.config.display_url}: more than "
                            f"{self.config.max_instances} instances sent"
                        )
                    path = out / f"{len(files):05d}.dcm"
                    pydicom.dcmwrite(path, ds, enforce_file_format=False)
                    n_bytes += path.stat().st_size
                    files.append(path)
                    if n_bytes > self.config.max_bytes:
                        raise PacsError(
                            f"PACS {self.config.display_url}: the study is larger "
                            f"than the limit of {self.config.max_bytes} bytes "
                            "(choose series, or raise RESORB_PACS_MAX_BYTES)"
                        )
                    if progress is not None:
                        progress(len(files), total)
        except BaseException:
            for p in files:
                p.unlink(missing_ok=True)
            raise
        return RetrievedStudy(folder=out, files=tuple(files), n_bytes=n_bytes)

    def retrieve_instance(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
    ):
        """One instance as a pydicom ``Dataset``."""
        return self._call(
            "retrieve an instance",
            self._client.retrieve_instance,
            study_instance_uid=check_uid(study_instance_uid, "study_instance_uid"),
            series_instance_uid=check_uid(series_instance_uid, "series_instance_uid"),
            sop_instance_uid=check_uid(sop_instance_uid, "sop_instance_uid"),
        )

    # -- STOW-RS ------------------------------------------------------------------------------

    def store(self, datasets: Iterable[Any]) -> StoreResult:
        """Store DICOM objects (pydicom Datasets) on the PACS.

        Raises
        ------
        PacsError
            When the PACS stores none of them or reports any as failed (the
            message gives the DICOM failure reason codes, PS3.18 Table 10.4.3-1).
        """
        items = list(datasets)
        if not items:
            raise InvalidInputError("datasets", "is empty", allowed="at least one DICOM object")
        for ds in items:  # STOW-RS needs Part 10 objects: add the file meta when missing
            ensure_file_meta(ds)
        answer = self._call("store objects", self._client.store_instances, datasets=items)
        stored = tuple(
            text_of(i, "ReferencedSOPInstanceUID")
            for i in (answer.get("ReferencedSOPSequence") or [])
        )
        failed = tuple(
            (text_of(i, "ReferencedSOPInstanceUID"), int_of(i, "FailureReason"))
            for i in (answer.get("FailedSOPSequence") or [])
        )
        result = StoreResult(stored=stored, failed=failed)
        if failed or not stored:
            reasons = (
                ", ".join(f"0x{code:04X}" if code is not None else "unknown" for _, code in failed)
                or "nothing stored"
            )
            raise PacsError(
                f"PACS {self.config.display_url}: store objects: "
                f"{len(failed)} of {len(items)} refused ({reasons})"
            )
        return result
