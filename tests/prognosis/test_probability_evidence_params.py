"""Cut-offs and weights of the probability model come from evidence records.

Each threshold (symptom duration, massive herniation, Komori type 2 weight) is a
``parameters`` entry of the record the factor already uses; these tests check the
boundaries and that the code reads the records.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import math
import warnings

import pytest

from resorb.domain import Case
from resorb.evidence import load_evidence
from resorb.prognosis import _factors, _forecast, _management, _probability, resorption_probability


def make_case(
    morphology: str = "extrusion", *, onset: str | None = None, mri: str | None = None, **herniation
) -> Case:
    data: dict = {"herniation": {"level": "L5-S1", "morphology": morphology, **herniation}}
    if onset is not None:
        data["symptoms"] = {"onset_date": onset}
    if mri is not None:
        data["mri"] = [{"date": mri, "volume_mm3": 1200}]
    return Case.from_dict(data, today=dt.date(2026, 11, 1))


def _est(case, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resorption_probability(case, allow_unverified=True, **kw)


def _names(est):
    return {f.name for f in est.factors}


def test_symptom_duration_threshold_is_strictly_more_than_the_records_months():
    """Record: threshold_months 12; '> 12 months' applies, exactly 12 does not."""
    assert load_evidence().values[_factors._DURATION_ID].parameters == {"threshold_months": 12.0}
    # 12 months = 365.25 days (DAYS_PER_MONTH = 365.25 / 12).
    under = make_case(onset="2024-01-01", mri="2024-12-31")  # 365 days: just under 12
    over = make_case(onset="2024-01-01", mri="2025-01-02")  # 367 days
    assert "symptom_duration_months" not in _names(_est(under))
    assert "symptom_duration_months" in _names(_est(over))


def test_massive_threshold_is_inclusive_at_the_records_percent():
    """Cribb 2007: 'massive' = >= 50 % of the AP canal (record threshold_canal_percent)."""
    assert load_evidence().values[_factors._MASSIVE_ID].parameters == {
        "threshold_canal_percent": 50.0
    }
    assert "canal_compromise_percent" in _names(_est(make_case(canal_compromise_percent=50)))
    assert "canal_compromise_percent" not in _names(_est(make_case(canal_compromise_percent=49.9)))


def test_komori_type2_takes_the_labelled_assumption_weight():
    record = load_evidence().values[_factors._KOMORI_ID]
    assert record.assumption and "type2_log_or_weight" in record.derivation
    w = record.parameters["type2_log_or_weight"]
    t2 = next(f for f in _est(make_case(komori=2)).factors if f.name == "komori")
    t3 = next(f for f in _est(make_case(komori=3)).factors if f.name == "komori")
    assert t2.log_odds_contribution == pytest.approx(w * t3.log_odds_contribution)
    assert t3.effect == pytest.approx(float(record.value))
    assert t2.effect == pytest.approx(math.sqrt(float(record.value)))


def test_the_model_reads_its_thresholds_from_the_records(monkeypatch):
    """Changing a record's parameter changes which findings enter (no copy in code)."""
    patched = {
        ("symptom_duration_over_1y_or_placeholder", "threshold_months"): 1.0,
        ("massive_herniation_or_placeholder", "threshold_canal_percent"): 90.0,
        ("komori_type3_or_placeholder", "type2_log_or_weight"): 1.0,
    }
    real = _factors._parameter
    monkeypatch.setattr(
        _factors, "_parameter", lambda vid, name: patched.get((vid, name), real(vid, name))
    )
    est = _est(
        make_case(onset="2024-01-01", mri="2024-03-01", canal_compromise_percent=60, komori=2)
    )
    names = _names(est)
    assert "symptom_duration_months" in names  # 2 months > 1
    assert "canal_compromise_percent" not in names  # 60 < 90
    komori = next(f for f in est.factors if f.name == "komori")
    assert komori.effect == pytest.approx(2.5)  # full weight


def test_one_definition_of_days_per_month():
    from resorb.imaging import DAYS_PER_MONTH

    assert _forecast.DAYS_PER_MONTH is DAYS_PER_MONTH
    assert _management.DAYS_PER_MONTH is DAYS_PER_MONTH
    assert _factors.DAYS_PER_MONTH is DAYS_PER_MONTH
    for module in (_forecast, _management, _probability, _factors):
        source = inspect.getsource(module)
        assert "365.25" not in source and "30.4375" not in source


def test_probability_module_imports_the_input_error_once():
    tree = ast.parse(inspect.getsource(_probability))
    aliased = [
        a
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
        for a in n.names
        if a.name == "InvalidInputError"
    ]
    assert len(aliased) == 1 and aliased[0].asname is None


def test_rim_factor_names_the_registered_cohort_as_source_and_the_doi_studies_as_supporting():
    """Counts 22/27, 7/14, 0/16 come from the bull's-eye cohort (ChiCTR2400094586, no
    DOI/PMID); Autio 2006 and Komori 1998 only support the direction."""
    from resorb.evidence import evidence_source

    est = resorption_probability(make_case(rim_enhancement="complete"))
    (f,) = est.factors
    d = f.to_dict()
    bull = evidence_source("bullseye2025")
    assert f.source == {
        "url": bull.url,
        "registration": "ChiCTR2400094586",
        "registration_url": bull.registration_url,
    }
    assert "doi" not in f.source and "pmid" not in f.source
    # The JSON keeps the command-line contract of docs/cli.md (a DOI and/or PMID in every factor's
    # source) and names the study that gave the counts beside it.
    assert d["source"]["counts_from"] == dict(f.source)
    assert d["source"].get("doi") or d["source"].get("pmid")
    assert "counts" in d["source"]["basis"]
    autio = evidence_source("autio2006_determinants")
    assert {"doi": autio.doi, "pmid": autio.pmid} in d["supporting"]
    assert all("doi" in c or "pmid" in c for c in d["supporting"])


def test_a_factor_whose_counts_have_a_doi_keeps_it_as_source():
    est = resorption_probability(make_case(t2_signal="high"))
    (f,) = est.factors
    assert "doi" in f.source
    assert f.supporting == ()


@pytest.mark.parametrize(
    ("level", "events", "total"), [("complete", 22, 27), ("partial", 7, 14), ("none", 0, 16)]
)
def test_rim_levels_enter_with_the_recorded_evidence_weight(level, events, total):
    """Decision (rim_enhancement_evidence_weight, an assumption): every rim level's log odds
    ratio against the cohort (29/57, +0.5 in each cell) is halved, so 'no rim' (0/16)
    moves an extrusion from 67 % to about 26 %, not to 6 %."""
    from resorb.evidence import evidence_value

    weight = evidence_value("rim_enhancement_evidence_weight")
    assert weight.assumption and "Ramos Amador" in weight.derivation
    log_or = math.log((events + 0.5) / (total - events + 0.5)) - math.log(29.5 / 28.5)
    est = resorption_probability(make_case(rim_enhancement=level))
    (f,) = est.factors
    assert f.log_odds_contribution == pytest.approx(weight.value * log_or)
    assert f.weight == 1.0  # the correlated-findings weight is separate
    if level == "none":
        prior = evidence_value("regression_rate_extrusion_zou2023").value
        odds = prior / (1 - prior) * math.exp(weight.value * log_or)
        assert est.probability == pytest.approx(odds / (1 + odds))
        assert 0.2 < est.probability < 0.3


def test_reconstructed_t2_counts_are_the_only_fraction_giving_the_published_85_18_percent():
    """Splendiani 2004 publishes 85.18 % (25 of 72 regressed); the high-T2 counts 23/27 are
    reconstructed from it, which holds only if no other k/n (k <= 25, n <= 72) fits."""
    from resorb.evidence import evidence_value

    rec = evidence_value("t2_high_regression_splendiani2004")
    fits = [
        (k, n)
        for n in range(1, 73)
        for k in range(0, min(n, 25) + 1)
        if 85.175 <= 100 * k / n < 85.195
    ]
    assert fits == [(rec.events, rec.total)] == [(23, 27)]
    other = evidence_value("t2_not_high_regression_splendiani2004")
    assert (other.events, other.total) == (25 - 23, 72 - 27)
    assert evidence_value("t2_signal_evidence_weight").value < 1  # weakened, said so
