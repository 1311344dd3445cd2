"""Start and stop kilo serve: bind, serve with uvicorn, shut down without losing a record.

SIGTERM or Ctrl-C: stop accepting, let in-flight answers finish for up to ``grace`` seconds, then
stop the rest (each is recorded as interrupted with what it had streamed), wait for the workers
to write their records, and exit 0. A second Ctrl-C quits at once.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import wait
from typing import TYPE_CHECKING

from kilocli import output
from kilocli.errors import UsageError

if TYPE_CHECKING:
    from kilocli.app import App
    from kilocli.engine import Router
    from kilocli.serve.turns import ServeContext

RECORD_WAIT_S = 15.0  # after the grace period: how long the workers get to write their records


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror})"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, but a signal is not raised again after shutdown: kilo still has
        records to write when uvicorn is done."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {
                s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def finish_live_turns(ctx: ServeContext, timeout: float = RECORD_WAIT_S) -> int:
    """Stop the calls still running and wait for their records; returns how many were stopped."""
    with ctx.live_lock:
        live = list(ctx.live)
    for turn in live:
        turn.cancel.set()
    wait([turn.future for turn in live], timeout=timeout)
    return len(live)


def run_serve(
    kilo: App,
    router: Router,
    *,
    host: str,
    port: int,
    tier: str,
    token: str | None,
    grace: float,
) -> int:
    import uvicorn

    from kilocli.serve.app import build_app
    from kilocli.serve.auth import BearerAuth
    from kilocli.serve.turns import ServeContext

    router.warm()  # the encoder loads before the first request, not during it
    if not kilo.providers():
        output.warn(
            "no provider configured: requests will fail with 503 until a key is set "
            "(kilo auth set PROVIDER, or OPENROUTER_API_KEY / ANTHROPIC_API_KEY / OPENAI_API_KEY)"
        )
    store = kilo.store()
    engine = kilo.engine(store)
    ctx = ServeContext(router=router, engine=engine, store=store, default_tier=tier)
    app = build_app(ctx)
    asgi = BearerAuth(app, token) if token else app
    sock = bind(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    output.stderr().print(
        f"kilo serve: listening on http://{shown_host}:{sock.getsockname()[1]}/v1 "
        f"(tier {tier}; model kilo-auto; {'bearer token required' if token else 'loopback only'}"
        "; Ctrl-C stops)",
        markup=False,
        highlight=False,
    )
    config = uvicorn.Config(
        asgi,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=grace,
        server_header=False,
    )
    server = _server_class()(config)
    started = time.monotonic()
    try:
        server.run(sockets=[sock])
    finally:
        stopped = finish_live_turns(ctx)
        ctx.turn_pool.shutdown(wait=False, cancel_futures=True)
        ctx.routing.close()
        engine.provider_cache.close()
        store.close()
        sock.close()
    note = f"; {stopped} stopped at shutdown (recorded as interrupted)" if stopped else ""
    output.stderr().print(
        f"kilo serve: stopped after {time.monotonic() - started:.0f} s; "
        f"{ctx.served} requests served{note}",
        markup=False,
        highlight=False,
    )
    return 0
