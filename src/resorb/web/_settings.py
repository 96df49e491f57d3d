"""Settings of the web app and the signing secret kept beside the database."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resorb.errors import InvalidInputError

__all__ = [
    "OBJECT_STORE_ENV",
    "WebSettings",
    "load_or_create_secret",
    "object_store_of",
    "pacs_from_env",
    "sqlite_path",
]

#: Environment variable that supplies the signing secret (for server databases).
SECRET_ENV = "RESORB_SECRET_KEY"
#: Environment variable naming the folder of de-identified uploaded masks and DICOM objects.
OBJECT_STORE_ENV = "RESORB_OBJECT_STORE"
_MIN_SECRET_CHARS = 32


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Security and session settings of one app instance.

    Durations are in seconds. These are software settings, not clinical
    numbers; the defaults follow common practice for clinical web applications
    (short-lived tokens, idle logout after 30 minutes, a working-day session).

    Parameters
    ----------
    secret_key : str
        Key that signs session cookies and bearer tokens (at least 32 characters).
    session_idle_s : float
        A session unused for this long is logged out.
    session_absolute_s : float
        A session older than this is logged out however active it was.
    token_ttl_s : float
        Lifetime of a bearer token from ``POST /api/token``.
    login_max_failures : int
        Failed sign-ins of one user name from one address (within
        ``login_window_s``) that cost no delay; each further one doubles the
        wait before the next attempt (1 s, 2 s, 4 s, ... up to ``login_window_s``),
        answered 429 with ``Retry-After``. One address gets 4x as many free
        failures over all names, one name 2x as many over all addresses.
    login_window_s : float
        How long a failure is remembered, and the longest wait.
    login_account_max_delay_s : float
        Longest wait a name's failures from all addresses together can impose
        (36 s: at most 100 failed guesses an hour, OWASP ASVS 4.0 2.2.1).
        Addresses the user signed in from recently are exempt.
    login_known_source_s : float
        How long an address stays "known" for a user after a successful sign-in.
    assessment_cache_size : int
        Assessments kept per app, keyed by the patient's case and the date
        (0 = none): the page, its PDF and "store" of one case compute it once.
    clock : callable
        Returns the current time in seconds since the epoch (injectable for tests).
    pacs : resorb.interop.dicomweb.PacsConfig or None
        The PACS the "Import from PACS" page searches (DICOMweb root and
        credentials); default: the ``RESORB_PACS_*`` environment variables
        (:meth:`~resorb.interop.dicomweb.PacsConfig.from_env`), None = no PACS.
    object_store_dir : Path or None
        Folder of the de-identified copies of uploaded masks and PACS imports;
        default: ``RESORB_OBJECT_STORE``, else ``<database>.objects`` beside a
        SQLite file (see :func:`object_store_of`).
    mask_max_bytes : int
        Largest mask upload accepted (bytes); 64 MiB holds a DICOM SEG of a
        3-D lumbar MRI several times over (a software limit).
    max_body_bytes : int
        Largest request body accepted (bytes) before anything is parsed or any
        login checked; larger ones get 413. 1 MiB holds any JSON record or form
        many times over (a software limit). Multipart uploads to a mask path may
        be up to ``mask_max_bytes`` plus 1 MiB of form overhead.
    """

    secret_key: str
    session_idle_s: float = 30 * 60
    session_absolute_s: float = 10 * 3600
    token_ttl_s: float = 15 * 60
    login_max_failures: int = 5
    login_window_s: float = 15 * 60
    login_account_max_delay_s: float = 36.0
    login_known_source_s: float = 30 * 24 * 3600
    assessment_cache_size: int = 128
    clock: Callable[[], float] = field(default=time.time)
    pacs: Any = field(default_factory=lambda: pacs_from_env())
    object_store_dir: Path | None = field(
        default_factory=lambda: (
            Path(os.environ[OBJECT_STORE_ENV]) if os.environ.get(OBJECT_STORE_ENV) else None
        )
    )
    mask_max_bytes: int = 64 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if not (isinstance(self.max_body_bytes, int) and self.max_body_bytes > 0):
            raise InvalidInputError(
                "max_body_bytes", f"{self.max_body_bytes!r}", allowed="an integer > 0"
            )
        if not (isinstance(self.mask_max_bytes, int) and self.mask_max_bytes > 0):
            raise InvalidInputError(
                "mask_max_bytes", f"{self.mask_max_bytes!r}", allowed="an integer > 0"
            )
        if not isinstance(self.secret_key, str) or len(self.secret_key) < _MIN_SECRET_CHARS:
            raise InvalidInputError(
                "secret_key",
                "is too short",
                allowed=f"a random string of at least {_MIN_SECRET_CHARS} characters",
            )
        for name in (
            "session_idle_s",
            "session_absolute_s",
            "token_ttl_s",
            "login_window_s",
            "login_account_max_delay_s",
            "login_known_source_s",
        ):
            if not getattr(self, name) > 0:
                raise InvalidInputError(
                    name, f"{getattr(self, name)!r}", allowed="a duration > 0 s"
                )
        if self.assessment_cache_size < 0:
            raise InvalidInputError(
                "assessment_cache_size",
                f"{self.assessment_cache_size!r}",
                allowed="an integer >= 0",
            )
        if self.login_max_failures < 1:
            raise InvalidInputError(
                "login_max_failures", f"{self.login_max_failures!r}", allowed="an integer >= 1"
            )


def pacs_from_env() -> Any:
    """The PACS named by the ``RESORB_PACS_*`` environment variables, or None."""
    from resorb.interop.dicomweb import PacsConfig

    return PacsConfig.from_env()


def object_store_of(settings: WebSettings, db_url: str) -> Path | None:
    """Folder of de-identified objects: the setting, else ``<database>.objects`` (SQLite)."""
    if settings.object_store_dir is not None:
        return Path(settings.object_store_dir)
    path = sqlite_path(db_url)
    return None if path is None else path.with_name(path.name + ".objects")


def sqlite_path(db_url: str) -> Path | None:
    """File of a ``sqlite:///`` URL, or None for in-memory and server databases."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return None
    rest = db_url[len(prefix) :].split("?", 1)[0]
    if rest in ("", ":memory:"):
        return None
    return Path(rest)


def load_or_create_secret(db_url: str) -> str:
    """The signing secret for ``db_url``.

    Order: the ``RESORB_SECRET_KEY`` environment variable; for a SQLite file,
    the file ``<database>.secret`` beside it, created (mode 0600) with a fresh
    random key on first start; for an in-memory SQLite database a random key
    that lives as long as the process. A server database (PostgreSQL) needs the
    environment variable or an explicit ``secret_key``: several workers must
    share one key.
    """
    env = os.environ.get(SECRET_ENV)
    if env:
        return env
    path = sqlite_path(db_url)
    if path is None:
        if db_url.startswith("sqlite"):
            return secrets.token_urlsafe(48)
        raise InvalidInputError(
            "secret_key",
            "is needed for a server database",
            allowed=f"set {SECRET_ENV} (a random string of at least "
            f"{_MIN_SECRET_CHARS} characters)",
        )
    secret_file = path.with_name(path.name + ".secret")
    if secret_file.exists():
        text = secret_file.read_text(encoding="ascii").strip()
        if len(text) < _MIN_SECRET_CHARS:
            raise InvalidInputError(
                str(secret_file),
                "holds no usable secret",
                allowed="delete the file to generate a new one",
            )
        return text
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two servers starting at once must not overwrite each other's key.
    try:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_secret(db_url)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key
