"""Shared fixtures: every test runs with its own kilocli home and no hub access."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KILOCLI_HOME", str(tmp_path / "kilohome"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def fake_server():
    """Fake OpenAI/Anthropic server on 127.0.0.1 (tests/fakeserver.py): .url .script .requests."""
    from fakeserver import FakeServer

    with FakeServer() as server:
        yield server
