"""`kilo setup`: prepare the fast encoder and the centroids once."""

from __future__ import annotations

from pathlib import Path

import typer

from kilocli import output


def register(cli: typer.Typer) -> None:
    cli.command("setup")(setup)


def setup() -> None:
    """Prepare the fast encoder once (ONNX export checked against the reference) and centroids."""
    from kilocli.app import App
    from kilocli.routing.encoder import setup_encoder

    kilo = App.load(on_note=output.note)
    paths, settings = kilo.paths, kilo.settings
    model_path = (
        Path(settings.encoder_model_path).expanduser() if settings.encoder_model_path else None
    )
    with output.stderr().status("Preparing the fast encoder...") as status:
        report = setup_encoder(paths, model_path, progress=lambda msg: status.update(msg))
    if report.verified:
        output.stderr().print(f"encoder ready: {report}", markup=False)
    else:
        output.warn(f"the ONNX export failed its check; using the reference encoder: {report}")
    kilo.router().warm()
    output.stderr().print("centroids ready", markup=False)
