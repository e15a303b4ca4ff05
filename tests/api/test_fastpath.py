"""``may-contact``'s direct path answers exactly as the route: same bodies, statuses,
headers and audit events, for answers, refusals and malformed calls."""

from __future__ import annotations

from typing import Any

import pytest

from integritet.api.fastpath import MayContactFastPath
from integritet.consent import ConsentSource, ConsentState, Evidence

from .conftest import Env


def _calls(env: Env) -> list[tuple[str, dict[str, str]]]:
    alice, bob = env.subjects["alice"], env.subjects["bob"]
    admin, reader = env.bearer(env.tokens["admin"]), env.bearer(env.tokens["reader"])
    admin_a = env.bearer(env.login("admin_a")["session_token"])
    dpo = env.bearer(env.login("dpo")["session_token"])
    env.client.cookies.clear()  # sessions as bearer credentials only
    ask = "/api/v1/may-contact?subject={}&purpose={}&channel={}"
    return [
        (ask.format(alice, "newsletter", "email"), admin),  # consent given
        (ask.format(bob, "newsletter", "email"), reader),  # no consent
        (ask.format(alice, "newsletter", "email"), dpo),  # a session: the route's (403 here)
        (ask.format(alice, "newsletter", "email"), admin_a),  # the same for a customer admin
        (ask.format("no-such-subject", "newsletter", "email"), admin),  # 404
        (ask.format(alice, "no-such-purpose", "email"), admin),  # 422
        (ask.format(alice, "newsletter", "pigeon"), admin),  # 422
        (ask.format(alice, "newsletter", "email"), {"Authorization": "Bearer itk_forged"}),
        (ask.format(alice, "newsletter", "email"), {}),  # 401
        (f"/api/v1/may-contact?subject={alice}&purpose=newsletter", admin),  # 422, missing
        (ask.format(alice, "newsletter", "email") + f"&subject={bob}", admin),  # repeated
        (ask.format("x" * 65, "newsletter", "email"), admin),  # too long: 422
    ]


def _run(env: Env) -> list[tuple[int, Any, dict[str, str | None], int]]:
    results = []
    for path, headers in _calls(env):
        before = len(list(env.services.audit.entries()))
        response = env.client.get(path, headers=headers)
        audited = len(list(env.services.audit.entries())) - before
        kept = {
            h: response.headers.get(h) for h in ("content-type", "cache-control", "x-frame-options")
        }
        results.append((response.status_code, response.json(), kept, audited))
    return results


def test_the_direct_path_answers_exactly_as_the_route(
    sqlite_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sqlite_env
    evidence = Evidence(ConsentSource.import_, "1")
    env.services.consent.record(
        env.subjects["alice"], "newsletter", "email", ConsentState.given, evidence
    )
    answered: list[bool] = []
    original = MayContactFastPath.answer

    def counting(self: MayContactFastPath, scope: Any) -> bytes | None:
        body = original(self, scope)
        answered.append(body is not None)
        return body

    monkeypatch.setattr(MayContactFastPath, "answer", counting)
    direct = _run(env)
    assert answered[:2] == [True, True]  # the common case takes the direct path
    assert not any(answered[2:])  # refusals and errors are the route's
    monkeypatch.setattr(MayContactFastPath, "answer", lambda _self, _scope: None)
    routed = _run(env)
    assert direct == routed
    statuses = [status for status, *_ in direct]
    assert statuses == [200, 200, 403, 403, 404, 422, 422, 401, 401, 422, 200, 422]
    assert direct[7][1]["error"] == "NotSignedIn" and direct[9][1]["detail"][0]["type"] == "missing"
    assert direct[0][1]["allowed"] is True and direct[1][1]["allowed"] is False
    assert direct[2][3] == 2  # the refusal audited as by the route (api.read, api.denied)
    assert routed[2][3] == 2
    assert direct[0][2]["cache-control"] == "no-store"
