"""The portal through TestClient: sign-in by link, my data, contact, consents, download,
erasure with confirmation, restrict/object, policy; CSRF and access refusals."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest

from integritet.access import Actor
from integritet.consent import ConsentState
from integritet.errors import RequestError
from web.conftest import Web


def test_sign_in_by_emailed_link_and_my_data_in_both_languages(web: Web) -> None:
    web.portal_sign_in("alice")
    sv = web.client.get("/portal")
    assert sv.status_code == 200
    assert '<html lang="sv">' in sv.text
    assert "Mina uppgifter" in sv.text and "Alice Svensson" in sv.text
    assert "Bob Svensson" not in sv.text  # only the signed-in person's data
    assert "3 år efter din senaste inloggning" in sv.text  # retention in words
    assert "Visma SPCS" in sv.text  # who received it
    assert "avtal med dig" in sv.text  # why: the legal basis
    en = web.client.get("/portal?lang=en")
    assert '<html lang="en">' in en.text and "My data" in en.text
    assert "3 years after your last sign-in" in en.text
    # the choice is remembered in a cookie
    assert "My data" in web.client.get("/portal").text


def test_unknown_address_gets_the_same_answer_and_no_mail(sqlite_web: Web) -> None:
    web = sqlite_web
    token = web.form_token("/portal/sign-in")
    response = web.client.post(
        "/portal/sign-in", data={"email": "nobody@example.se", "csrf_token": token}
    )
    assert response.status_code == 200
    assert "Titta i din e-post" in response.text
    assert web.mailer.sent == []


def test_link_works_once_and_anonymous_visitors_are_sent_to_sign_in(sqlite_web: Web) -> None:
    web = sqlite_web
    response = web.client.get("/portal", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/sign-in")
    web.portal_sign_in("alice")
    link = re.search(r"/portal/link/(\S+)", web.mailer.last_to("alice@example.se"))
    assert link is not None
    path = f"/portal/link/{link.group(1)}"
    token = web.form_token(path)
    again = web.client.post(path, data={"csrf_token": token})
    assert again.status_code == 403
    assert "Du har inte behörighet" in again.text


def test_sign_in_form_without_csrf_token_is_refused(sqlite_web: Web) -> None:
    web = sqlite_web
    response = web.client.post("/portal/sign-in", data={"email": "alice@example.se"})
    assert response.status_code == 403
    assert web.mailer.sent == []


def test_forms_of_a_signed_in_person_need_the_csrf_token(web: Web) -> None:
    web.portal_sign_in("alice")
    refused = web.client.post("/portal/consents", data={"on": "newsletter:email"})
    assert refused.status_code == 403
    sid = web.subjects["alice"]
    assert all(c.state == ConsentState.never_asked for c in web.services.consent.current(sid))


def test_consent_switches_record_evidence(web: Web) -> None:
    web.portal_sign_in("alice")
    page = web.client.get("/portal/consents?lang=en")
    assert 'role="switch"' in page.text and "Newsletter" in page.text
    response = web.client.post(
        "/portal/consents",
        data={"csrf_token": web.csrf(), "on": ["newsletter:email", "status:sms"]},
        headers={"user-agent": "TestBrowser/1.0"},
    )
    assert response.status_code == 200 and "Your choices are saved." in response.text
    sid = web.subjects["alice"]
    current = {(c.purpose, c.channel): c.state for c in web.services.consent.current(sid)}
    assert current[("newsletter", "email")] == ConsentState.given
    assert current[("status", "sms")] == ConsentState.given
    assert current[("offers", "email")] == ConsentState.never_asked
    events = web.services.consent.history(sid)
    assert {e.source for e in events} == {"portal"}
    assert all(e.sealed_evidence and e.text_sha256 for e in events)
    # switching one off withdraws it; the others stay
    web.client.post("/portal/consents", data={"csrf_token": web.csrf(), "on": ["status:sms"]})
    current = {(c.purpose, c.channel): c.state for c in web.services.consent.current(sid)}
    assert current[("newsletter", "email")] == ConsentState.withdrawn
    assert current[("status", "sms")] == ConsentState.given


def test_contact_details_are_rectified_through_the_request_engine(web: Web) -> None:
    web.portal_sign_in("alice")
    form = web.client.get("/portal/contact")
    assert 'name="contact.phone"' in form.text
    response = web.client.post(
        "/portal/contact",
        data={
            "csrf_token": web.csrf(),
            "contact.name": "Alice Svensson",
            "contact.email": "alice@example.se",
            "contact.phone": "+46701234567",
        },
    )
    assert "Dina kontaktuppgifter är uppdaterade" in response.text
    sid = web.subjects["alice"]
    records = web.services.vault.records(Actor.system("t"), "account", sid, "contact")
    assert records[-1].fields["phone"] == "+46701234567"
    kinds = [v.kind.value for v in web.services.requests.list_requests() if v.subject_id == sid]
    assert kinds == ["rectification"]


def test_download_json_and_zip(web: Web) -> None:
    web.portal_sign_in("alice")
    data = web.client.post("/portal/download", data={"csrf_token": web.csrf(), "format": "json"})
    assert data.status_code == 200
    assert data.headers["content-disposition"].startswith("attachment")
    report = json.loads(data.content)
    contact = next(c for c in report["categories"] if c["id"] == "contact")
    assert contact["records"][0]["fields"]["name"] == "Alice Svensson"
    archive = web.client.post("/portal/download", data={"csrf_token": web.csrf(), "format": "zip"})
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert any(n.endswith(".csv") for n in names)


def test_erasure_needs_the_tick_and_the_emailed_code(web: Web) -> None:
    web.portal_sign_in("alice")
    page = web.client.get("/portal/erase")
    assert "bokföringslagen" in page.text  # what is kept, and why (L4)
    untick = web.client.post("/portal/erase", data={"csrf_token": web.csrf()})
    assert "Kryssa i rutan" in untick.text
    sid = web.subjects["alice"]
    assert not [v for v in web.services.requests.list_requests() if v.subject_id == sid]
    started = web.client.post("/portal/erase", data={"csrf_token": web.csrf(), "understood": "yes"})
    assert "Ange koden" in started.text
    (view,) = [v for v in web.services.requests.list_requests() if v.subject_id == sid]
    assert view.status.value == "verified"
    wrong = web.client.post(
        f"/portal/requests/{view.id}/confirm", data={"csrf_token": web.csrf(), "code": "000000"}
    )
    assert wrong.status_code == 422 and "Koden stämmer inte" in wrong.text
    code = re.search(r"\b(\d{6})\b", web.mailer.last_to("alice@example.se"))
    assert code is not None
    done = web.client.post(
        f"/portal/requests/{view.id}/confirm", data={"csrf_token": web.csrf(), "code": code[1]}
    )
    assert "du har bekräftat raderingen" in done.text
    assert web.services.requests.get(view.id).status.value == "confirmed"


def test_restriction_and_objection_are_filed_verified(sqlite_web: Web) -> None:
    web = sqlite_web
    web.portal_sign_in("bob")
    for kind in ("restriction", "objection"):
        response = web.client.post(
            "/portal/requests", data={"csrf_token": web.csrf(), "kind": kind}
        )
        assert response.status_code == 200
    sid = web.subjects["bob"]
    views = [v for v in web.services.requests.list_requests() if v.subject_id == sid]
    assert sorted(v.kind.value for v in views) == ["objection", "restriction"]
    assert {v.status.value for v in views} == {"verified"}
    listing = web.client.get("/portal/requests?lang=en")
    assert "Restriction" in listing.text and "Identity verified" in listing.text


def test_someone_elses_request_is_not_found(sqlite_web: Web) -> None:
    web = sqlite_web
    other = web.services.requests.new("erasure", subject=web.subjects["bob"])
    web.portal_sign_in("alice")
    response = web.client.get(f"/portal/requests/{other}/confirm")
    assert response.status_code == 404


def test_policy_page_shows_my_version(sqlite_web: Web) -> None:
    web = sqlite_web
    web.portal_sign_in("alice")
    response = web.client.get("/portal/policy?lang=en")
    assert response.status_code == 200
    assert "Your data was given under version" in response.text
    assert web.services.manifest.policy.version in response.text


def test_staff_session_cannot_use_the_portal(sqlite_web: Web) -> None:
    web = sqlite_web
    web.console_sign_in("support")
    response = web.client.get("/portal")
    assert response.status_code == 403


def test_the_consent_evidence_is_the_visible_sentence_in_the_language_shown(web: Web) -> None:
    web.portal_sign_in("alice")
    page = web.client.get("/portal/consents?lang=en").text
    shown = re.search(r'<p class="consent-text" id="c-newsletter-email-text">([^<]+)</p>', page)
    assert shown is not None
    sentence = html.unescape(shown[1])
    assert sentence == "I agree that Loggamera AB contacts me about Newsletter by email."
    # the request's language would say Swedish: the form names the language it showed
    web.client.post(
        "/portal/consents?lang=sv",
        data={"csrf_token": web.csrf(), "on": ["newsletter:email"], "shown_lang": "en"},
    )
    (event,) = web.services.consent.history(web.subjects["alice"])
    assert event.text_sha256 == hashlib.sha256(sentence.encode("utf-8")).hexdigest()
    swedish = web.client.get("/portal/consents?lang=sv").text
    assert "Jag samtycker till att Loggamera AB kontaktar mig om Nyhetsbrev via e-post." in swedish


def test_repeated_downloads_share_one_access_request_and_one_email(web: Web) -> None:
    def receipts() -> int:  # mail other than sign-in links
        return sum("/portal/link/" not in text for _to, _s, text in web.mailer.sent)

    web.portal_sign_in("alice")
    for format in ("json", "zip", "json"):
        response = web.client.post(
            "/portal/download", data={"csrf_token": web.csrf(), "format": format}
        )
        assert response.status_code == 200
    sid = web.subjects["alice"]
    (view,) = [v for v in web.services.requests.list_requests() if v.subject_id == sid]
    assert view.kind.value == "access" and view.status.value == "completed"
    assert receipts() == 1  # one short receipt, not one per download
    downloads = [e for e in web.services.audit.entries() if e.action == "portal.download"]
    assert [e.detail["format"] for e in downloads] == ["json", "zip", "json"]
    assert {e.detail["request"] for e in downloads} == {view.id}
    web.clock.advance(timedelta(hours=2))  # later (and signed in again): a new request
    web.portal_sign_in("alice")
    web.client.post("/portal/download", data={"csrf_token": web.csrf(), "format": "json"})
    assert len([v for v in web.services.requests.list_requests() if v.subject_id == sid]) == 2
    assert receipts() == 2


def test_requests_filed_in_the_portal_are_verified_by_the_sign_in_link(sqlite_web: Web) -> None:
    web = sqlite_web
    alice, bob = web.subjects["alice"], web.subjects["bob"]
    engine = web.services.requests
    rid = engine.new("objection", subject=alice)
    with pytest.raises(RequestError, match="not about the signed-in person"):
        engine.verify_by_link(rid, bob)
    assert engine.verify_by_link(rid, alice) is True
    assert engine.get(rid).status.value == "verified"
    assert engine.verify_by_link(rid, alice) is False  # already verified: nothing moves
    (moved,) = [h for h in engine.history(rid) if h.to_status == "verified"]
    assert moved.actor == f"subject:{alice}"
    (audited,) = [
        e
        for e in web.services.audit.entries()
        if e.action == "request.transition"
        and e.detail.get("request") == rid
        and e.detail.get("to") == "verified"
    ]
    assert audited.detail["method"] == "signed_in_link"
