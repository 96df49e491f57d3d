"""The evidence base: traceability of every record, the loader's refusals, derivations."""

from __future__ import annotations

import math
import textwrap

import pytest

from resorb.errors import EvidenceError, LowEvidenceWarning
from resorb.evidence import (
    Confidence,
    evidence_record,
    evidence_source,
    evidence_statement,
    evidence_value,
    load_evidence,
    load_evidence_files,
)

BASE = load_evidence()


@pytest.mark.parametrize("value_id", sorted(BASE.values))
def test_every_value_is_traceable_to_a_doi_or_pmid_or_is_a_labelled_assumption(value_id):
    value = BASE.values[value_id]
    assert value.confidence in set(Confidence)
    if value.assumption:
        assert value.derivation, "an assumption says what it rests on"
    else:
        assert value.citations, f"{value_id} has no DOI/PMID"
    for citation in value.citations:
        assert set(citation) <= {"doi", "pmid"} and citation
    for sid in value.sources:
        assert sid in BASE.sources


@pytest.mark.parametrize("source_id", sorted(BASE.sources))
def test_every_source_has_an_identifier(source_id):
    source = BASE.sources[source_id]
    assert source.doi or source.pmid or source.url
    if source.doi:
        assert source.doi.startswith("10.")
    if source.pmid:
        assert source.pmid.isdigit()


def test_statements_cite_known_sources():
    for st in BASE.statements.values():
        assert st.citations
        assert all(s in BASE.sources for s in st.sources)


def test_ids_are_unique_across_kinds():
    ids = [*BASE.sources, *BASE.values, *BASE.statements]
    assert len(ids) == len(set(ids))


def test_measurement_records_for_imaging_exist_with_expected_numbers():
    """Zou 2023 (PMID 37559207) thresholds and Tunset 2013 inter-rater limits of agreement."""
    thresholds = evidence_value("resorption_grade_thresholds")
    assert thresholds.value == {
        "partial_percent": 25.0,
        "significant_percent": 50.0,
        "complete_percent": 100.0,
        "enlarged_percent": -25.0,
    }
    assert {"doi": "10.1097/BSD.0000000000001490", "pmid": "37559207"} in thresholds.citations
    assert thresholds.confidence is Confidence.APPROX  # labels and -25 % are not from Zou
    mdc = evidence_value("volume_mdc_mm3")
    lo, hi = evidence_value("volume_loa_inter_rater_mm3").value
    assert mdc.value == pytest.approx((hi - lo) / 2, abs=1)
    assert mdc.unit == "mm3"
    assert evidence_value("resorption_enlargement_threshold_percent").assumption


def test_unverified_values_are_refused_by_default():
    with pytest.raises(EvidenceError, match="unverified"):
        evidence_value("nass_surgery_within_months")


def test_unverified_values_warn_when_allowed():
    with pytest.warns(LowEvidenceWarning, match="nass_surgery_within_months"):
        value = evidence_value("nass_surgery_within_months", allow_unverified=True)
    assert value.value == 6


def test_unknown_ids_raise_evidence_error():
    with pytest.raises(EvidenceError, match="not in the evidence base"):
        evidence_value("no_such_value")
    with pytest.raises(EvidenceError):
        evidence_source("no_such_source")
    with pytest.raises(EvidenceError):
        evidence_statement("no_such_statement")
    with pytest.raises(EvidenceError):
        evidence_record("no_such_record")
    assert evidence_record("zou2023").pmid == "37559207"


def test_loader_is_cached_and_its_records_are_read_only():
    assert load_evidence() is load_evidence()
    thresholds = evidence_value("resorption_grade_thresholds")
    with pytest.raises(TypeError):
        thresholds.value["partial_percent"] = 0  # type: ignore[index]
    with pytest.raises(TypeError):
        thresholds.citations[0]["doi"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        load_evidence().values["x"] = thresholds  # type: ignore[index]


# --------------------------------------------------------------------------- malformed data

GOOD_SOURCE = """
sources:
  - id: s1
    authors: A B
    year: 2020
    title: T
    journal: J
    design: rct
    doi: 10.1000/xyz
  - id: web_only
    authors: C D
    year: 2021
    title: U
    journal: K
    design: cohort
    url: https://example.invalid/abstract
"""


def _load(tmp_path, body: str):
    (tmp_path / "a.yaml").write_text(textwrap.dedent(GOOD_SOURCE))
    (tmp_path / "b.yaml").write_text(textwrap.dedent(body))
    return load_evidence_files([tmp_path / "a.yaml", tmp_path / "b.yaml"])


def test_well_formed_files_load(tmp_path):
    base = _load(
        tmp_path,
        """
        values:
          - {id: v1, quantity: q, value: 0.5, lower: 0.4, upper: 0.6, interval_kind: 95% CI,
             unit: fraction, sources: [s1], confidence: exact}
        """,
    )
    assert base.values["v1"].citations == ({"doi": "10.1000/xyz"},)
    assert base.values["v1"].interval == (0.4, 0.6)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            """
     values:
       - {id: v1, quantity: q, value: 1, unit: u, sources: [nope], confidence: exact}
     """,
            "cites unknown source 'nope'",
        ),
        (
            """
     values:
       - {id: v1, quantity: q, value: 1, unit: u, sources: [web_only], confidence: exact}
     """,
            "no DOI or PMID",
        ),
        (
            """
     values:
       - {id: v1, quantity: q, value: 1, unit: u, sources: [s1], confidence: certain}
     """,
            "confidence",
        ),
        (
            """
     values:
       - {id: v1, quantity: q, value: 0.9, lower: 0.1, upper: 0.5, interval_kind: CI,
          unit: u, sources: [s1], confidence: exact}
     """,
            "does not hold the value",
        ),
        (
            """
     values:
       - {id: v1, quantity: q, value: 1, events: 5, total: 3, unit: u, sources: [s1],
          confidence: exact}
     """,
            "events 5",
        ),
        (
            """
     values:
       - {id: v1, quantity: q, value: 1, unit: u, sources: [], confidence: approx,
          assumption: true}
     """,
            "derivation",
        ),
        (
            """
     values:
       - {id: s1, quantity: q, value: 1, unit: u, sources: [s1], confidence: exact}
     """,
            "already used",
        ),
        (
            """
     sources:
       - {id: s2, authors: A, year: 2000, title: T, journal: J, design: rct}
     """,
            "needs a doi",
        ),
        (
            """
     sources:
       - {id: s2, authors: A, year: 2000, title: T, journal: J, design: rct, doi: "12345"}
     """,
            "not a DOI",
        ),
        (
            """
     statements:
       - {id: st1, text: t, sources: [missing], confidence: exact}
     """,
            "unknown source 'missing'",
        ),
        (
            """
     values:
       - {id: v1, quantity: q, value: 1, unit: u, sources: [s1], confidence: exact, extra: 1}
     """,
            "extra",
        ),
    ],
)
def test_malformed_records_are_refused_naming_the_record(tmp_path, body, message):
    with pytest.raises(EvidenceError, match=message) as info:
        _load(tmp_path, body)
    assert "b.yaml" in str(info.value) or "a.yaml" in str(info.value)


def test_labelled_assumption_needs_no_doi(tmp_path):
    base = _load(
        tmp_path,
        """
        values:
          - {id: v1, quantity: q, value: 1, unit: u, sources: [], confidence: approx,
             assumption: true, derivation: our choice}
        """,
    )
    assert base.values["v1"].assumption


def test_unreadable_file_is_reported(tmp_path):
    with pytest.raises(EvidenceError, match="cannot be read"):
        load_evidence_files([tmp_path / "missing.yaml"])


# --------------------------------------------------------------------------- derivations


def test_splendiani_t2_counts_are_the_only_reading_of_the_published_percentages():
    """Splendiani 2004 (doi 10.1007/s00234-004-1232-0): 34.72 % of 72 regressed and
    "85.18 %" of high-T2 herniations. Recipe: enumerate k/n with n <= 72 and k <= 25
    (the regressors) that round to 85.18 %; only 23/27 does, and 25/72 = 34.72 %."""
    total = evidence_value("regression_6mo_splendiani2004")
    assert round(100 * total.events / total.total, 2) == 34.72
    hits = {
        (k, n)
        for n in range(1, 73)
        for k in range(0, total.events + 1)
        if abs(100 * k / n - 85.18) < 0.01
    }
    assert hits == {(23, 27)}
    high = evidence_value("t2_high_regression_splendiani2004")
    rest = evidence_value("t2_not_high_regression_splendiani2004")
    assert (high.events, high.total) == (23, 27)
    assert (rest.events, rest.total) == (total.events - 23, total.total - 27)


def test_bullseye_counts_reproduce_the_published_percentages():
    """2025 bull's-eye study (ChiCTR2400094586): 81.48 % of 27, 50 % of 14, 0 of 16."""
    for vid, pct in (
        ("rim_complete_regression_bullseye2025", 81.48),
        ("rim_partial_regression_bullseye2025", 50.0),
        ("rim_none_regression_bullseye2025", 0.0),
    ):
        v = evidence_value(vid)
        assert round(100 * v.events / v.total, 2) == pct
        assert v.value == pytest.approx(v.events / v.total, abs=1e-4)
    assert (
        sum(
            evidence_value(v).total
            for v in (
                "rim_complete_regression_bullseye2025",
                "rim_partial_regression_bullseye2025",
                "rim_none_regression_bullseye2025",
            )
        )
        == 57
    )  # the non-surgical group


def test_ahn_counts_reproduce_the_published_percentages():
    """Ahn 2000: 10/18 (56 %) subligamentous, 11/14 (79 %) transligamentous, 25/36 overall."""
    ruptured = evidence_value("pll_ruptured_regression_ahn2000")
    intact = evidence_value("pll_intact_regression_ahn2000")
    seq = evidence_value("sequestered_regression_ahn2000")
    assert round(100 * ruptured.events / ruptured.total) == 79
    assert round(100 * intact.events / intact.total) == 56
    assert ruptured.events + intact.events + seq.events == 25
    assert ruptured.total + intact.total + seq.total == 36


def test_assumed_prior_intervals_follow_the_documented_recipe():
    """incidence.yaml header: logit-normal around Zou 2023, SD = max(SD implied by Wang
    2020's 95 % CI 49-77 %, |logit Chiu - logit Zou| / 1.96); bounds = expit(logit p +/-
    1.96 SD), rounded to 4 decimals."""
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    wang = evidence_value("regression_rate_overall_wang2020")
    sd_wang = (logit(wang.upper) - logit(wang.lower)) / (2 * 1.959964)
    assert sd_wang == pytest.approx(evidence_value("regression_logit_sd_assumed").value, abs=5e-4)
    for morph in ("sequestration", "extrusion", "protrusion", "bulge"):
        zou = evidence_value(f"regression_rate_{morph}_zou2023")
        chiu = evidence_value(f"regression_rate_{morph}_chiu2015")
        assert zou.interval_assumption
        sd = max(sd_wang, abs(logit(chiu.value) - logit(zou.value)) / 1.959964)
        assert zou.lower == pytest.approx(expit(logit(zou.value) - 1.959964 * sd), abs=2e-4)
        assert zou.upper == pytest.approx(expit(logit(zou.value) + 1.959964 * sd), abs=2e-4)
        assert zou.lower <= chiu.value <= zou.upper


def test_mdc_is_half_the_width_of_the_limits_of_agreement():
    lo, hi = evidence_value("volume_loa_intra_rater_mm3").value
    assert evidence_value("volume_mdc_intra_rater_mm3").value == pytest.approx((hi - lo) / 2)
    grew = evidence_value("enlarged_fraction_3d_series")
    assert grew.value == grew.events / grew.total  # 21 of 56 levels grew


def test_value_parameters_are_loaded_as_numbers_and_shown(tmp_path):
    base = _load(
        tmp_path,
        """
        values:
          - {id: v1, quantity: q, value: 2.0, unit: odds ratio, sources: [], confidence: approx,
             assumption: true, derivation: our choice, parameters: {threshold_months: 12}}
        """,
    )
    v = base.values["v1"]
    assert dict(v.parameters) == {"threshold_months": 12.0}
    assert v.to_dict()["parameters"] == {"threshold_months": 12.0}
    with pytest.raises(EvidenceError, match="parameters"):
        _load(
            tmp_path,
            """
        values:
          - {id: v2, quantity: q, value: 2.0, unit: u, sources: [], confidence: approx,
             assumption: true, derivation: d, parameters: {cut: high}}
        """,
        )
