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


# --- running the real `kilo` as a subprocess -------------------------------------------------

PROVIDER_VARS = (
    "OPENROUTER_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OLLAMA_HOST",
    "NO_COLOR",
)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One encoder export and centroid cache for every CLI test (the export takes seconds)."""
    import os
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("shared_home")
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARS}
    env.update(KILOCLI_HOME=str(home), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "kilocli", "setup"], env=env, capture_output=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return home / "cache"


@pytest.fixture
def kilo(tmp_path, shared_cache, monkeypatch):
    """Run `python -m kilocli ARGS` in a fresh home that shares the warmed cache.

    Returns a function(args, input=None, env=None, timeout=60) -> CompletedProcess (text).
    """
    import os
    import subprocess
    import sys

    home = tmp_path / "kilohome"
    home.mkdir(exist_ok=True)
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    monkeypatch.setenv("KILOCLI_HOME", str(home))

    def run(args, input=None, env=None, timeout=60):
        full = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARS}
        full.update(KILOCLI_HOME=str(home), HF_HUB_OFFLINE="1", KILOCLI_STDIN_TIMEOUT="0.5")
        full.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "kilocli", *args],
            input=input,
            env=full,
            capture_output=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    run.home = home
    return run
