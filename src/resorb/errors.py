"""Exceptions and warnings raised by resorb.

One small tree; every domain error is also the matching built-in so that
callers who only know Python's own exceptions still catch it::

    ResorbError
     ├── InvalidInputError (ValueError)        bad value at the door; names the field
     │    ├── InvalidFindingError              a finding outside its scale
     │    ├── CaseFileError                    a case file that does not validate
     │    └── InvalidScoreError                a questionnaire answer out of range
     ├── ImagingError (ValueError)             a mask or image that cannot be measured
     ├── EvidenceError (LookupError)           a record missing from the evidence base
     ├── ModelError (RuntimeError)             a statistical or mechanistic model failed
     ├── PacsError (OSError)                   a PACS that cannot be reached or refuses a request
     └── MissingExtraError (ImportError)       an optional dependency is not installed

    ResorbWarning (UserWarning)
     ├── OutsideEvidenceRangeWarning           input outside the data behind an estimate
     ├── LowEvidenceWarning                    an estimate rests on weak or unverified data
     ├── HypothesisModuleWarning               a mechanism module without calibration data
     └── WithinMeasurementErrorWarning         a change smaller than the detectable change

Every :class:`InvalidInputError` carries ``field`` (dotted path of the input
that failed) and ``allowed`` (what would have been accepted), so the CLI and the
web app can print one line that tells the user what to change.
"""

from __future__ import annotations

from types import ModuleType

__all__ = [
    "CaseFileError",
    "EvidenceError",
    "HypothesisModuleWarning",
    "ImagingError",
    "InvalidFindingError",
    "InvalidInputError",
    "InvalidScoreError",
    "LowEvidenceWarning",
    "MissingExtraError",
    "ModelError",
    "OutsideEvidenceRangeWarning",
    "PacsError",
    "ResorbError",
    "ResorbWarning",
    "WithinMeasurementErrorWarning",
    "require_extra",
]


class ResorbError(Exception):
    """Base class of every error raised on purpose by resorb."""


class InvalidInputError(ResorbError, ValueError):
    """A value that fails validation.

    Parameters
    ----------
    field : str
        Dotted name of the offending input (``"herniation.level"``).
    message : str
        What is wrong with it.
    allowed : str, optional
        What would be accepted (``"L1-L2, L2-L3, L3-L4, L4-L5, L5-S1"``).
    """

    def __init__(self, field: str, message: str, *, allowed: str | None = None) -> None:
        self.field = field
        self.message = message
        self.allowed = allowed
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)


class InvalidFindingError(InvalidInputError):
    """A radiological or clinical finding outside its scale."""


class CaseFileError(InvalidInputError):
    """A case file that cannot be read or does not validate."""


class InvalidScoreError(InvalidInputError):
    """A questionnaire or score item outside its range."""


class ImagingError(ResorbError, ValueError):
    """A mask or image that cannot be read or measured."""


class EvidenceError(ResorbError, LookupError):
    """A record that is missing from, or malformed in, the evidence base."""


class ModelError(ResorbError, RuntimeError):
    """A statistical or mechanistic model that cannot be fitted or solved."""


class PacsError(ResorbError, OSError):
    """A PACS (DICOMweb server) that cannot be reached, refuses a request or rejects objects."""


class MissingExtraError(ResorbError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


class ResorbWarning(UserWarning):
    """Base class of resorb's statistical and clinical caveats."""


class OutsideEvidenceRangeWarning(ResorbWarning):
    """An input lies outside the data an estimate was derived from."""


class LowEvidenceWarning(ResorbWarning):
    """An estimate rests on weak, indirect or unverified evidence."""


class HypothesisModuleWarning(ResorbWarning):
    """A mechanism module without quantitative calibration data was used."""


class WithinMeasurementErrorWarning(ResorbWarning):
    """A measured change is smaller than the minimal detectable change."""


def require_extra(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra.

    >>> np = require_extra("numpy", "core")
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"{module} is needed for this feature: pip install 'resorb[{extra}]'"
        ) from exc
