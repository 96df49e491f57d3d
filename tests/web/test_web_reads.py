"""Pages read the registry once per request, and the research view writes nothing.

A patient page, its assessment (even on a cache hit) and its PDF read the
patient's records in one session; the research page of one patient reads
that patient only, in a read-only session (its date offset is drawn once, on
first use, in a short transaction of its own).
"""

from __future__ import annotations

import pytest
from _webtools import login, make_client


class _Counter:
    """Counts the sessions a registry opens for reading and for writing."""

    def __init__(self, registry, monkeypatch) -> None:
        self.reads = 0
        self.writes = 0
        reading, transaction = registry.reading, registry.transaction

        def counted_reading():
            self.reads += 1
            return reading()

        def counted_transaction(*, actor):
            self.writes += 1
            return transaction(actor=actor)

        monkeypatch.setattr(registry, "reading", counted_reading)
        monkeypatch.setattr(registry, "transaction", counted_transaction)

    def during(self, fn):
        self.reads = self.writes = 0
        response = fn()
        assert response.status_code == 200, response.text[:300]
        return self.reads, self.writes


@pytest.fixture
def counted(app, registry, monkeypatch):
    return _Counter(registry, monkeypatch)


def _baseline_reads(client, counted) -> int:
    """Sessions a signed-in page opens before it reads patient data (the sign-in check)."""
    reads, writes = counted.during(lambda: client.get("/patients/new"))
    assert writes == 0
    return reads


def test_patient_page_reads_the_patient_records_in_one_session(app, patient_with_series, counted):
    with make_client(app) as c:
        login(c, "doc")
        base = _baseline_reads(c, counted)
        for _ in range(2):  # the second view is an assessment cache hit: still one read
            assert counted.during(lambda: c.get(f"/patients/{patient_with_series}")) == (
                base + 1,
                0,
            )


def test_assessment_page_and_pdf_read_the_patient_once(app, patient_with_series, counted):
    with make_client(app) as c:
        login(c, "doc")
        base = _baseline_reads(c, counted)
        assert counted.during(lambda: c.get(f"/patients/{patient_with_series}/assessment")) == (
            base + 1,
            0,
        )
        assert counted.during(lambda: c.get(f"/patients/{patient_with_series}/assessment.pdf")) == (
            base + 1,
            0,
        )


def test_research_page_of_one_patient_reads_without_a_write_transaction(
    app, registry, patient_with_series, counted
):
    registry.date_offset_days(patient_with_series, actor="doc")  # drawn before, e.g. by export
    with make_client(app) as c:
        login(c, "doc")
        base = _baseline_reads(c, counted)  # the sign-in check does not depend on the role
    with make_client(app) as c:
        login(c, "res")
        reads, writes = counted.during(lambda: c.get("/research/patients/WEB-001"))
    assert writes == 0
    assert reads - base == 2  # the look-up by pseudonym, then the patient's row


def test_research_page_draws_a_missing_offset_for_that_patient_only(app, registry, counted):
    with make_client(app) as c:
        login(c, "res")  # lands on the research list, which draws every offset so far
        new, other = (
            registry.create_patient(
                {"pseudonym": name, "birth_year": 1970, "sex": "male"}, actor="doc"
            )
            for name in ("WEB-002", "WEB-003")
        )
        _, writes = counted.during(lambda: c.get("/research/patients/WEB-002"))
        assert writes == 1
        _, writes = counted.during(lambda: c.get("/research/patients/WEB-002"))
        assert writes == 0
    from resorb.registry import _models as m

    with registry.reading() as s:
        assert s.get(m.DateShift, new.id) is not None
        assert s.get(m.DateShift, other.id) is None
