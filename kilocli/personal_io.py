"""Personal examples from the store, with their vectors cached (I/O for routing/personal.py).

The vectors live in ``<cache>/personal/<embedding key>.npz``: one row per example text, keyed by
the text's sha256, so a new correction costs the encoding of that one text and a changed encoder or
view rule starts a new file. The file is rewritten (atomically) only when the set changed, and then
holds exactly the examples in use.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kilocli.config import Paths
from kilocli.routing.personal import CAP, PersonalExample, select, text_key

Embed = Callable[[Sequence[str]], np.ndarray]


def read_personal(paths: Paths, now: datetime | None = None) -> list[PersonalExample]:
    """The newest CAP corrections as weighted examples; none when there is no database yet (the
    cold start does not create one)."""
    if not paths.database.exists():
        return []
    from kilocli.store import Store

    with Store(paths.database) as store:
        rows = store.corrections(limit=2 * CAP)  # a prompt labeled twice counts once
    return select(
        ((c.id, c.prompt, c.task, c.difficulty, c.created_at) for c in rows),
        now or datetime.now(UTC),
    )


def cache_file(paths: Paths, embedding_key: str) -> Path:
    return paths.cache_dir / "personal" / f"{embedding_key}.npz"


def personal_vectors(
    examples: Sequence[PersonalExample], embed: Embed, cache: Path | None, dim: int
) -> np.ndarray:
    """One vector per example: from the cache where the text is known, else embedded (and the
    cache rewritten with exactly these examples' vectors)."""
    keys = [text_key(e.text) for e in examples]
    known: dict[str, np.ndarray] = {}
    if cache is not None:
        known = _read(cache)
    missing = [i for i, k in enumerate(keys) if k not in known]
    if missing:
        fresh = embed([examples[i].text for i in missing])
        known.update({keys[i]: fresh[j] for j, i in enumerate(missing)})
    if not keys:
        return np.zeros((0, dim), dtype=np.float32)
    vectors = np.stack([known[k] for k in keys]).astype(np.float32)
    if cache is not None and (missing or len(known) != len(set(keys))):
        with contextlib.suppress(OSError):  # an unwritable cache costs an encoding next time
            _write(cache, list(dict.fromkeys(keys)), {k: known[k] for k in keys})
    return vectors


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, ValueError, KeyError):
        return {}  # missing or damaged: re-embedded
    if len(keys) != len(vectors):
        return {}
    return {k.decode("ascii"): v for k, v in zip(keys, vectors, strict=True)}


def _write(path: Path, keys: list[str], vectors: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                keys=np.array([k.encode("ascii") for k in keys], dtype="S64"),
                vectors=np.stack([vectors[k] for k in keys]).astype(np.float32),
            )
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
