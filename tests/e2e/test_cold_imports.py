"""What the light commands import: `kilo --help` and `kilo config show` load neither numpy nor
onnxruntime (the encoder's stack), checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("numpy", "onnxruntime", "tokenizers", "torch")

PROBE = """
import json, sys
sys.argv = ["kilo", *json.loads(sys.argv[1])]
from kilocli.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = [m for m in json.loads(sys.argv[-1]) if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("args", [["--help"], ["config", "show"], ["route", "--help"]])
def test_light_commands_do_not_import_the_encoder_stack(args: list[str]) -> None:
    # the probe reads HEAVY from the last argument, after main() has run with the others
    probe = PROBE.replace("json.loads(sys.argv[-1])", json.dumps(list(HEAVY)))
    proc = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, proc.stderr


def loaded_by_a_route(modules: tuple[str, ...]) -> tuple[dict, str]:
    """Which of ``modules`` a `kilo route --json` loaded (with its exit code), and its stderr."""
    probe = PROBE.replace("json.loads(sys.argv[-1])", json.dumps(list(modules)))
    proc = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(["route", "--json", "rename foo"])],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_the_probe_sees_a_heavy_import_when_there_is_one(kilo) -> None:
    """The check itself can fail: `kilo route` does load the encoder's stack (the `kilo` fixture
    gives this test's home the warmed encoder cache)."""
    result, stderr = loaded_by_a_route(HEAVY)
    assert "numpy" in result["heavy"] and "onnxruntime" in result["heavy"], stderr


# What a cold `kilo route` needs of kilocli is compiled on every start where bytecode is not
# written: these modules serve other commands, so a route must not load them.
NOT_FOR_ROUTE = (
    "kilocli.providers.base",  # requests and events: only a call needs them
    "kilocli.routing.encoder.export",  # torch's export: once per cache, in setup or a first start
    "kilocli.personal_io",  # corrections: only once a store exists
    "kilocli.routing.personal",
    "kilocli.store",
    "tempfile",  # ~2 ms with its import of random: only writers of files need it
    "importlib.resources",  # brings tempfile; the examples are found by their path
)


def test_a_cold_route_loads_only_what_routing_needs(kilo) -> None:
    result, stderr = loaded_by_a_route(NOT_FOR_ROUTE)
    assert result == {"code": 0, "heavy": []}, stderr
