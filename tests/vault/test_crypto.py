"""Property tests of the envelope encryption and the blind index."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integritet.vault import crypto

KEY = bytes(range(32))
ids = st.text(alphabet="abcdef0123456789", min_size=1, max_size=32)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
fields = st.dictionaries(st.text(min_size=1, max_size=20), values, max_size=6)


@settings(max_examples=60)
@given(fields=fields, tenant=st.none() | ids, subject=ids, category=ids, record=ids)
def test_seal_open_round_trips(
    fields: dict[str, object], tenant: str | None, subject: str, category: str, record: str
) -> None:
    aad = crypto.record_aad(tenant, subject, category, record)
    assert crypto.open_fields(KEY, crypto.seal_fields(KEY, fields, aad), aad) == fields


@settings(max_examples=60)
@given(
    fields=fields,
    where=st.tuples(st.none() | ids, ids, ids, ids),
    elsewhere=st.tuples(st.none() | ids, ids, ids, ids),
)
def test_any_other_aad_fails(
    fields: dict[str, object],
    where: tuple[str | None, str, str, str],
    elsewhere: tuple[str | None, str, str, str],
) -> None:
    if where == elsewhere:
        return
    blob = crypto.seal_fields(KEY, fields, crypto.record_aad(*where))
    with pytest.raises(crypto.OpenFailed):
        crypto.open_fields(KEY, blob, crypto.record_aad(*elsewhere))


@settings(max_examples=40)
@given(payload=st.binary(min_size=1, max_size=64), flip=st.integers(min_value=0))
def test_any_bit_flip_fails(payload: bytes, flip: int) -> None:
    blob = bytearray(crypto.seal(KEY, payload, b"aad"))
    i = flip % (len(blob) * 8)
    blob[i // 8] ^= 1 << (i % 8)
    with pytest.raises(crypto.OpenFailed):
        crypto.open_sealed(KEY, bytes(blob), b"aad")


def test_wrapped_key_is_bound_to_its_row() -> None:
    kek, dek = crypto.new_key(), crypto.new_key()
    wrapped = crypto.wrap_key(kek, dek, "s1:dek")
    assert crypto.unwrap_key(kek, wrapped, "s1:dek") == dek
    with pytest.raises(crypto.OpenFailed):
        crypto.unwrap_key(kek, wrapped, "s2:dek")


@pytest.mark.parametrize(
    ("kind", "a", "b"),
    [
        ("email", " Anna@Example.SE ", "anna@example.se"),
        ("phone", "070-123 45 67", "+46701234567"),
        ("phone", "0046701234567", "+46 70 123 45 67"),
        ("personnummer", "19851231-1234", "851231-1234"),
    ],
)
def test_blind_index_matches_normalised_forms(kind: str, a: str, b: str) -> None:
    assert crypto.blind_index(KEY, kind, a) == crypto.blind_index(KEY, kind, b)


def test_blind_index_is_keyed_and_separated_by_kind() -> None:
    digest = crypto.blind_index(KEY, "email", "a@example.se")
    assert digest != crypto.blind_index(crypto.new_key(), "email", "a@example.se")
    assert digest != crypto.blind_index(KEY, "external_id", "a@example.se")
    assert b"a@example.se" not in digest and len(digest) == 32


@settings(max_examples=30)
@given(tenant=st.none() | ids, subject=ids, category=ids, record=ids)
def test_batch_aad_prefix_gives_the_same_aad(
    tenant: str | None, subject: str, category: str, record: str
) -> None:
    prefix = crypto.record_aad_prefix(tenant, subject, category)
    assert prefix + record.encode() == crypto.record_aad(tenant, subject, category, record)


def test_a_reused_cipher_seals_like_a_fresh_one_with_fresh_nonces() -> None:
    aead = crypto.cipher(KEY)
    aad = crypto.record_aad(None, "s", "contact", "r")
    nonces = crypto.random_blocks(crypto.NONCE_BYTES, 3)
    blobs = [crypto.seal_with(aead, b"same", aad, nonce) for nonce in nonces]
    blobs.append(crypto.seal_with(aead, b"same", aad))
    assert len(set(blobs)) == 4  # a fresh nonce each time, so no two blobs are equal
    assert [crypto.open_sealed(KEY, b, aad) for b in blobs] == [b"same"] * 4
    assert [b[1 : 1 + crypto.NONCE_BYTES] for b in blobs[:3]] == nonces
    with pytest.raises(crypto.OpenFailed):
        crypto.open_with(aead, blobs[0], crypto.record_aad(None, "s", "contact", "other"))
    with pytest.raises(ValueError, match="nonce"):
        crypto.seal_with(aead, b"x", aad, b"short")
    assert len({*crypto.random_blocks(16, 100)}) == 100
