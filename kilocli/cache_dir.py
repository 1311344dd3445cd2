"""A cache folder that works even when the configured one cannot be written.

Routing needs only the cache (the encoder's ONNX export and the fitted centroids), so an
unwritable home must not stop `kilo route`. A cache folder that exists and can be read but not
written (a read-only home, a shared install) is used as it is: nothing new is cached. One that
cannot be created or used at all (no permission, a file in the way) is replaced for this process
by a temporary folder, removed at exit. Either way the user is told once, on stderr.
"""

from __future__ import annotations

import atexit
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kilocli.config import Paths


def _problem(directory: Path) -> str | None:
    """Why ``directory`` cannot be written, or None when a file can be created in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # a probe file, made and removed (not tempfile's: importing it costs a cold route ~2 ms)
        probe = directory / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.unlink(missing_ok=True)  # a killed process's probe (a link is removed, not followed)
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        probe.unlink()
    except (FileExistsError, NotADirectoryError):
        return "a file stands where a folder is needed"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def usable_cache(paths: Paths, note: Callable[[str], None]) -> Paths:
    """``paths`` itself when its cache folder can be written (the usual case: one mkdir and one
    temp file); otherwise the read-only folder or a temporary one, with a note saying which."""
    problem = _problem(paths.cache_dir)
    if problem is None:
        return paths
    cache = paths.cache_dir
    if cache.is_dir() and os.access(cache, os.R_OK | os.X_OK):
        note(f"cache folder {cache} cannot be written ({problem}); reading it, caching nothing new")
        return paths
    import tempfile

    temporary = Path(tempfile.mkdtemp(prefix="kilocli-cache-"))
    atexit.register(shutil.rmtree, temporary, ignore_errors=True)
    note(
        f"cache folder {cache} cannot be used ({problem}); using a temporary one for this run "
        "(the encoder is prepared afresh each time until the folder is fixed)"
    )
    return replace(paths, cache_dir=temporary)
