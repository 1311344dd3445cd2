"""`kilo serve`: the router as an OpenAI- and Anthropic-compatible endpoint."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from kilocli.cli.common import TierOpt, check_tier, context


def register(cli: typer.Typer) -> None:
    cli.command("serve")(serve)


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (non-loopback needs --token-env).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free port).")
    ] = 8787,
    tier: TierOpt = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env",
            help="Environment variable holding the bearer token every request must carry.",
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option("--grace", min=0, max=3600, help="Seconds in-flight answers get at shutdown."),
    ] = 30.0,
) -> None:
    """Serve the router as an OpenAI- and Anthropic-compatible endpoint for other tools.

    POST /v1/chat/completions and /v1/messages route each request like `kilo ask`.

    Models: kilo-auto, kilo-balanced, kilo-frontier, ... or a catalogue id (see /v1/models).

    Every request is recorded (kilo sessions list shows kind "serve").

    SIGTERM or Ctrl-C lets running answers finish (--grace) and records them.

    Examples:

      kilo serve                                  (http://127.0.0.1:8787/v1)

      OPENAI_BASE_URL=http://127.0.0.1:8787/v1 aider --model openai/kilo-auto

      KILO_SERVE_TOKEN=... kilo serve --host 0.0.0.0 --token-env KILO_SERVE_TOKEN
    """
    from kilocli.serve.auth import resolve_token
    from kilocli.serve.server import run_serve

    token = resolve_token(host, token_env, os.environ)
    kilo, router = context()
    tier_name = check_tier(tier, kilo.settings.tier)
    raise typer.Exit(
        run_serve(kilo, router, host=host, port=port, tier=tier_name, token=token, grace=grace)
    )
