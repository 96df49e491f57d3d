"""Look-ups in the shipped evidence base, with the unverified-value guard."""

from __future__ import annotations

import warnings

from resorb.errors import EvidenceError, LowEvidenceWarning
from resorb.evidence._shipped import load_evidence
from resorb.evidence._types import (
    Confidence,
    EvidenceSource,
    EvidenceStatement,
    EvidenceValue,
)

__all__ = [
    "evidence_record",
    "evidence_source",
    "evidence_statement",
    "evidence_value",
]


def evidence_value(value_id: str, *, allow_unverified: bool = False) -> EvidenceValue:
    """One number of the evidence base, by id.

    Parameters
    ----------
    value_id : str
        E.g. ``"resorption_grade_thresholds"`` or ``"volume_mdc_mm3"``.
    allow_unverified : bool, default False
        Values tagged ``unverified`` are refused unless this is True, in which
        case a :class:`~resorb.errors.LowEvidenceWarning` is issued.

    Raises
    ------
    EvidenceError
        Unknown id, or an unverified value without ``allow_unverified``.

    Examples
    --------
    >>> evidence_value("volume_mdc_mm3").unit
    'mm3'
    """
    base = load_evidence()
    try:
        value = base.values[value_id]
    except KeyError:
        raise EvidenceError(
            f"evidence value {value_id!r} is not in the evidence base "
            "(see 'resorb evidence list --kind value')"
        ) from None
    if value.confidence is Confidence.UNVERIFIED:
        if not allow_unverified:
            raise EvidenceError(
                f"evidence value {value_id!r} is unverified and is not used "
                "by default (pass allow_unverified=True to use it anyway)"
            )
        warnings.warn(
            f"evidence value {value_id!r} is unverified: {value.quantity}",
            LowEvidenceWarning,
            stacklevel=2,
        )
    return value


def evidence_source(source_id: str) -> EvidenceSource:
    """One study or guideline, by id; :class:`EvidenceError` if unknown."""
    try:
        return load_evidence().sources[source_id]
    except KeyError:
        raise EvidenceError(
            f"evidence source {source_id!r} is not in the evidence base "
            "(see 'resorb evidence list --kind source')"
        ) from None


def evidence_statement(statement_id: str) -> EvidenceStatement:
    """One recommendation or qualitative finding, by id; :class:`EvidenceError` if unknown."""
    try:
        return load_evidence().statements[statement_id]
    except KeyError:
        raise EvidenceError(
            f"evidence statement {statement_id!r} is not in the evidence base "
            "(see 'resorb evidence list --kind statement')"
        ) from None


def evidence_record(record_id: str) -> EvidenceSource | EvidenceValue | EvidenceStatement:
    """Any record (source, value or statement) by id; :class:`EvidenceError` if unknown."""
    return load_evidence().get(record_id)
