"""Signatures, secrets from the environment, sealed bodies."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from integritet.connectors.signing import (
    seal,
    secret_from_env,
    sign,
    unseal,
    verify_signature,
)
from integritet.errors import ConfigError, ConnectorError

BODY = b'{"action":"erase","identities":{"email":"anna@example.se"}}'


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(b"k", BODY, hashlib.sha256).hexdigest()
    assert sign("k", BODY) == f"sha256={expected}"
    assert verify_signature("k", BODY, f"sha256={expected}")


@pytest.mark.parametrize("header", [None, "", "sha1=abc", "sha256=" + "0" * 64, "sha256=deadbeef"])
def test_bad_signatures_are_refused(header: str | None) -> None:
    assert not verify_signature("k", BODY, header)


def test_a_changed_body_or_secret_fails_verification() -> None:
    header = sign("k", BODY)
    assert not verify_signature("k", BODY + b" ", header)
    assert not verify_signature("other", BODY, header)


def test_secret_from_env_names_the_missing_variable() -> None:
    assert secret_from_env("VISMA_SECRET", {"VISMA_SECRET": "x"}) == "x"
    with pytest.raises(ConfigError, match="environment variable VISMA_SECRET is not set"):
        secret_from_env("VISMA_SECRET", {})
    with pytest.raises(ConfigError, match="must name an environment variable") as info:
        secret_from_env("not a name: hunter2", {})
    assert "hunter2" not in info.value.message
    with pytest.raises(ConfigError):
        secret_from_env(None, {})


def test_sealed_bodies_open_only_with_the_same_secret_and_id() -> None:
    sealed = seal("k", "d1", BODY)
    assert b"anna" not in sealed
    assert unseal("k", "d1", sealed) == BODY
    with pytest.raises(ConnectorError, match="cannot be opened"):
        unseal("changed", "d1", sealed)
    with pytest.raises(ConnectorError):
        unseal("k", "d2", sealed)
