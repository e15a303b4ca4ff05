"""create_once: exactly one writer wins, every loser reads complete content, mode 0600."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from integritet.consent.links import signing_key
from integritet.keyfile import create_once


def test_create_once_publishes_once_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    contents = [f"content-{i}".encode() * 1000 for i in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        won = list(pool.map(lambda c: create_once(path, c), contents))
    assert won.count(True) == 1
    assert path.read_bytes() == contents[won.index(True)]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no temp files left


def test_racing_first_use_of_a_key_file_gives_everyone_the_same_key(tmp_path: Path) -> None:
    for attempt in range(20):
        home = tmp_path / str(attempt)
        with ThreadPoolExecutor(max_workers=8) as pool:
            keys = list(pool.map(signing_key, [home] * 8))
        assert len(set(keys)) == 1
        assert len(keys[0]) == 32
