"""The JSON API (docs/clinic.md, "The JSON API"): tokens, patients, follow-up, assessments."""

from __future__ import annotations

import warnings

import jwt
import pytest
from _webtools import auth, bearer

from resorb.web._signing import TokenCodec


def test_healthz_answers_without_login(client, app):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_token_is_a_short_lived_hs256_jwt_with_the_contract_claims(client, app):
    r = client.post("/api/token", data={"username": "doc", "password": "correct-horse-battery"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"sub", "role", "exp", "iat", "jti"} <= set(claims)
    assert claims["sub"] == "doc" and claims["role"] == "clinician"
    assert claims["exp"] - claims["iat"] == int(app.state.resorb.settings.token_ttl_s)
    other = client.post(
        "/api/token", data={"username": "doc", "password": "correct-horse-battery"}
    ).json()
    assert (
        jwt.decode(other["access_token"], options={"verify_signature": False})["jti"]
        != claims["jti"]
    )


def test_token_with_wrong_password_is_401(client, app):
    r = client.post("/api/token", data={"username": "doc", "password": "wrong-password"})
    assert r.status_code == 401
    assert "access_token" not in r.text


def test_token_without_form_fields_names_the_field(client, app):
    r = client.post("/api/token", data={"username": "doc"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "password"


def test_create_patient_returns_the_record_with_its_id(client, app):
    h = bearer(client, "doc")  # the real password flow
    r = client.post(
        "/api/patients", headers=h, json={"pseudonym": "P-100", "birth_year": 1975, "sex": "male"}
    )
    assert r.status_code == 201
    rec = r.json()
    assert isinstance(rec["id"], int)
    assert (rec["pseudonym"], rec["birth_year"], rec["sex"]) == ("P-100", 1975, "male")
    again = client.get(f"/api/patients/{rec['id']}", headers=h)
    assert again.status_code == 200 and again.json() == rec
    listing = client.get("/api/patients", headers=h, params={"search": "p-1"}).json()
    assert listing["total"] == 1 and listing["patients"][0]["id"] == rec["id"]


def test_follow_up_series_gives_resorption_percent_and_grade(client, app, patient_with_series):
    h = auth(app, "doc")
    pid = patient_with_series
    mri = client.get(f"/api/patients/{pid}/mri", headers=h).json()
    assert [m["volume_mm3"] for m in mri] == [1500.0, 600.0]
    tl = client.get(f"/api/patients/{pid}/timeline", headers=h).json()
    follow = tl["mri"][1]
    # (1500 - 600) / 1500 = 60 % -> "significant" (>= 50 %, Zou 2023 thresholds)
    assert follow["resorption_percent"] == pytest.approx(60.0)
    assert follow["grade"] == "significant"
    assert follow["days_since_baseline"] == 120
    visits = client.get(f"/api/patients/{pid}/visits", headers=h).json()
    assert len(visits) == 2 and visits[0]["odi_percent"] == pytest.approx(18 / 45 * 100)
    # leg pain 7 -> 2 reaches the NRS MCID (Ostelo 2008); the timeline flags it
    assert tl["visits"][1]["mcid"]["leg_pain_nrs"]["reached"] is True
    findings = client.get(f"/api/patients/{pid}/findings", headers=h).json()
    assert findings[0]["morphology"] == "extrusion"
    t = client.post(
        f"/api/patients/{pid}/therapies",
        headers=h,
        json={"name": "nsaid", "start": "2026-01-10", "end": "2026-02-01"},
    )
    assert t.status_code == 201
    assert client.get(f"/api/patients/{pid}/therapies", headers=h).json()[0]["name"] == "nsaid"


def test_assessment_has_the_contract_keys_and_can_be_stored(client, app, patient_with_series):
    h = auth(app, "doc")
    pid = patient_with_series
    r = client.get(f"/api/patients/{pid}/assessment", headers=h)
    assert r.status_code == 200
    a = r.json()
    assert {"resorption", "triage", "measurements", "forecast", "management", "therapies"} <= set(a)
    assert 0.0 <= a["resorption"]["probability"] <= 1.0
    lo, hi = a["resorption"]["interval"]
    assert 0.0 <= lo <= a["resorption"]["probability"] <= hi <= 1.0
    assert isinstance(a["triage"]["urgent_referral"], bool)
    for factor in a["resorption"]["factors"]:
        assert factor["source"].get("doi") or factor["source"].get("pmid")
    stored = client.post(f"/api/patients/{pid}/assessments", headers=h)
    assert stored.status_code == 201
    rec = stored.json()
    assert isinstance(rec["id"], int) and rec["patient_id"] == pid
    got = client.get(f"/api/patients/{pid}/assessments/{rec['id']}", headers=h).json()
    assert got["result"]["resorption"]["probability"] == pytest.approx(
        a["resorption"]["probability"]
    )
    listed = client.get(f"/api/patients/{pid}/assessments", headers=h).json()
    assert [x["id"] for x in listed] == [rec["id"]]
    assert client.get(f"/api/patients/{pid}/assessments/999", headers=h).status_code == 404


def test_web_assessment_is_the_assess_command_result(client, app, registry, patient_with_series):
    """The API and ``resorb assess`` call the same function on the same case.

    Recipe: build the case from the registry, run ``resorb.reports.assess_case``
    directly and compare the probability, interval and measurements.
    """
    from resorb.cli._common import to_jsonable
    from resorb.reports import assess_case

    h = auth(app, "doc")
    web = client.get(f"/api/patients/{patient_with_series}/assessment", headers=h).json()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = to_jsonable(
            assess_case(registry.case_from_registry(patient_with_series)).to_dict()
        )
    assert web["resorption"]["probability"] == pytest.approx(direct["resorption"]["probability"])
    assert web["resorption"]["interval"] == pytest.approx(direct["resorption"]["interval"])
    assert web["measurements"] == direct["measurements"]


def test_assessment_without_findings_names_what_is_missing(client, app):
    h = auth(app, "doc")
    pid = client.post(
        "/api/patients", headers=h, json={"pseudonym": "NOFIND", "birth_year": 1970, "sex": "other"}
    ).json()["id"]
    r = client.get(f"/api/patients/{pid}/assessment", headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "herniation"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/patients", {"pseudonym": "A1", "birth_year": "abc", "sex": "female"}, "birth_year"),
        ("/api/patients", {"pseudonym": "A1", "birth_year": 1980, "sex": "alien"}, "sex"),
        ("/api/patients", {"birth_year": 1980, "sex": "female"}, "pseudonym"),
        (
            "/api/patients",
            {"pseudonym": "A1", "birth_year": 1980, "sex": "female", "name": "Jane Doe"},
            "name",
        ),
        (
            "/api/patients",
            {"pseudonym": "has space", "birth_year": 1980, "sex": "male"},
            "pseudonym",
        ),
        ("/api/patients/{pid}/visits", {"date": "2026-02-01", "leg_pain_nrs": 14}, "leg_pain_nrs"),
        ("/api/patients/{pid}/visits", {"leg_pain_nrs": 4}, "date"),
        (
            "/api/patients/{pid}/visits",
            {"date": "2026-02-01", "red_flags": ["headache"]},
            "red_flags[0]",
        ),
        ("/api/patients/{pid}/mri", {"date": "2026-02-01", "volume_mm3": -5}, "volume_mm3"),
        ("/api/patients/{pid}/mri", {"date": "2026-02-30", "volume_mm3": 5}, "date"),
        (
            "/api/patients/{pid}/findings",
            {"visit_id": 1, "level": "L5-S1", "morphology": "huge"},
            "morphology",
        ),
        (
            "/api/patients/{pid}/findings",
            {"visit_id": 1, "level": "L9-L10", "morphology": "extrusion"},
            "level",
        ),
        ("/api/patients/{pid}/therapies", {"name": "NSAID tablets"}, "name"),
    ],
)
def test_validation_errors_name_the_field(client, app, patient_with_series, path, body, field):
    h = auth(app, "doc")
    r = client.post(path.format(pid=patient_with_series), headers=h, json=body)
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["detail"][0]["field"] == field
    assert out["error"].startswith(field)


def test_cross_field_rules_of_the_registry_name_the_field(client, app, patient_with_series):
    h = auth(app, "doc")
    pid = patient_with_series
    r = client.post(
        f"/api/patients/{pid}/findings",
        headers=h,
        json={
            "visit_id": 1,
            "level": "L5-S1",
            "morphology": "sequestration",
            "containment": "contained",
        },
    )
    assert r.status_code == 422 and "containment" in r.json()["error"]
    r = client.post(
        "/api/patients",
        headers=h,
        json={"pseudonym": "WEB-001", "birth_year": 1980, "sex": "female"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "pseudonym"
    assert "already exists" in r.json()["error"]


def test_unknown_patient_is_404(client, app):
    h = auth(app, "doc")
    assert client.get("/api/patients/4242", headers=h).status_code == 404
    r = client.post("/api/patients/4242/visits", headers=h, json={"date": "2026-01-01"})
    assert r.status_code == 404


def test_token_codec_round_trip_is_checked_by_pyjwt():
    """Peer check: PyJWT verifies our token with the derived key and HS256 only."""
    from resorb.web._signing import _derive

    codec = TokenCodec("s" * 40, ttl_s=60)
    token = codec.issue("doc", "clinician", now_s=1000.0)
    claims = jwt.decode(
        token,
        _derive("s" * 40, "jwt"),
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["exp"] == 1060 and claims["sub"] == "doc"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "s" * 40, algorithms=["HS256"], options={"verify_exp": False})


def test_assessment_cache_follows_changes_to_the_record(client, app, patient_with_series):
    h = auth(app, "doc")
    pid = patient_with_series
    first = client.get(f"/api/patients/{pid}/assessment", headers=h).json()
    again = client.get(f"/api/patients/{pid}/assessment", headers=h).json()
    assert again == first
    client.post(
        f"/api/patients/{pid}/mri",
        headers=h,
        json={"date": "2026-09-10", "volume_mm3": 150, "level": "L5-S1"},
    )
    changed = client.get(f"/api/patients/{pid}/assessment", headers=h).json()
    assert len(changed["measurements"]) == len(first["measurements"]) + 1


def test_assessment_cache_evicts_the_least_recently_used():
    from resorb.web._assess import AssessmentCache

    cache = AssessmentCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    off = AssessmentCache(0)
    off.put("a", 1)
    assert off.get("a") is None


def test_validator_messages_have_one_colon_and_name_what_is_allowed(client, app):
    """A value refused by a resorb validator reads "field: message (allowed: ...)",
    not "field: : message"."""
    h = bearer(client, "doc")
    pid = client.post(
        "/api/patients", headers=h, json={"pseudonym": "COLON-1", "birth_year": 1970, "sex": "male"}
    ).json()["id"]
    r = client.post(
        f"/api/patients/{pid}/visits", headers=h, json={"date": "2026-02-01", "leg_pain_nrs": 11}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["detail"][0]["field"] == "leg_pain_nrs"
    assert body["detail"][0]["message"] == "11.0 is out of range"
    assert body["error"] == "leg_pain_nrs: 11.0 is out of range (allowed: 0-10)"
    assert ": :" not in r.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/patients",
            {"pseudonym": "FUT-1", "birth_year": "{year}", "sex": "male"},
            "birth_year",
        ),
        (
            "/api/patients",
            {"pseudonym": "FUT-1", "birth_year": 1970, "sex": "male", "onset_date": "{date}"},
            "onset_date",
        ),
        ("/api/patients/{pid}/visits", {"date": "{date}", "leg_pain_nrs": 3}, "date"),
        ("/api/patients/{pid}/mri", {"date": "{date}", "volume_mm3": 900}, "date"),
        ("/api/patients/{pid}/therapies", {"name": "nsaid", "start": "{date}"}, "start"),
    ],
)
def test_future_dates_are_refused_naming_the_field(client, app, path, body, field):
    import datetime as dt

    h = bearer(client, "doc")
    pid = client.post(
        "/api/patients", headers=h, json={"pseudonym": "NOW-1", "birth_year": 1970, "sex": "male"}
    ).json()["id"]
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    data = {
        k: (
            v.format(date=tomorrow.isoformat(), year=tomorrow.year + 1)
            if isinstance(v, str) and v.startswith("{")
            else v
        )
        for k, v in body.items()
    }
    if field == "birth_year":
        data["birth_year"] = int(data["birth_year"])
    r = client.post(path.format(pid=pid), headers=h, json=data)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == field
    assert r.json()["error"].startswith(f"{field}: ")
    assert "is in the future" in r.json()["error"]
    # Nothing was stored.
    assert client.get(f"/api/patients/{pid}/visits", headers=h).json() == []
    assert client.get(f"/api/patients/{pid}/mri", headers=h).json() == []
    assert client.get("/api/patients", headers=h).json()["total"] == 1


def test_assessment_with_a_caveat_is_served_from_the_cache(
    registry, patient_with_series, monkeypatch
):
    """The cache key is (case, date) even when computing the assessment raised a
    statistical caveat (the caveat loop once overwrote the key, so such cases never hit)."""
    import warnings

    import resorb.reports
    from resorb.errors import LowEvidenceWarning
    from resorb.web._assess import AssessmentCache, assess_patient

    real = resorb.reports.assess_case
    calls = []

    def with_caveat(case, *args, **kwargs):
        calls.append(case)
        warnings.warn("pooled from two small cohorts", LowEvidenceWarning, stacklevel=2)
        return real(case, *args, **kwargs)

    monkeypatch.setattr(resorb.reports, "assess_case", with_caveat)
    cache = AssessmentCache(8)
    first, data1 = assess_patient(registry, patient_with_series, cache=cache)
    second, data2 = assess_patient(registry, patient_with_series, cache=cache)
    assert len(calls) == 1
    assert second is first and data2 == data1
    assert {"kind": "LowEvidenceWarning", "message": "pooled from two small cohorts"} in data2[
        "caveats"
    ]
