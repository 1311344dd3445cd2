"""tests/fakeserver.py runs as its own process too (for benches and manual runs): scripted faults
and the recorded requests over its control endpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from provider_calls import FAST, failure_of, request, text_of

from kilocli.providers.base import ProviderConfig
from kilocli.providers.errors import ServerError
from kilocli.providers.registry import make_provider


def test_fakeserver_runs_as_a_subprocess():
    script = Path(__file__).parents[1] / "fakeserver.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--answer", "from a subprocess"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
        root = f"http://127.0.0.1:{port}"
        httpx.post(f"{root}/_control/script", json={"faults": ["503"]}).raise_for_status()
        p = make_provider(ProviderConfig("sub", "openai", f"{root}/v1", None), timeouts=FAST)
        assert isinstance(failure_of(p), ServerError)
        assert text_of(p.stream(request())) == "from a subprocess"
        recorded = httpx.get(f"{root}/_control/requests").json()
        assert [r["fault"] for r in recorded] == ["status", None]
        assert recorded[0]["body"]["model"] == "m-1"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
