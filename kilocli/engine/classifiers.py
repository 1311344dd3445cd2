"""The classifier routing uses, loaded once on first need: the encoder and the built-in examples'
centroids, plus (unless --no-personal) the user's corrections as personal examples."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kilocli.config import Paths
    from kilocli.routing.classifier import Classifier

Note = Callable[[str], None]


class ClassifierLoader:
    """Loads the encoder and classifiers lazily and thread-safely (chat loads them off the UI
    thread while the preview worker may ask for them)."""

    def __init__(
        self,
        paths: Paths,
        *,
        encoder_model_path: str | None,
        personal: bool,
        on_note: Note,
    ) -> None:
        self.paths = paths
        self.encoder_model_path = encoder_model_path
        self.personal = personal  # False: --no-personal, route without the user's corrections
        self.on_note = on_note
        self._cache_paths: Paths = paths  # the cache in use (a temporary one if unwritable)
        self._lock = threading.RLock()  # classifier -> base nests
        self._base: Classifier | None = None
        self._classifier: Classifier | None = None

    def loaded(self) -> bool:
        return self._classifier is not None

    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    self._classifier = self._personalise(self.base)
        return self._classifier

    @property
    def base(self) -> Classifier:
        """The classifier of the built-in examples alone."""
        if self._base is None:
            with self._lock:
                if self._base is None:
                    from kilocli.cache_dir import usable_cache
                    from kilocli.routing.classifier import Classifier
                    from kilocli.routing.encoder import load_encoder

                    # routing needs only the cache: an unwritable one must not stop it
                    self._cache_paths = usable_cache(self.paths, self.on_note)
                    model_path = self.encoder_model_path
                    encoder = load_encoder(
                        self._cache_paths,
                        Path(model_path).expanduser() if model_path else None,
                        on_note=self.on_note,
                    )
                    self._base = Classifier.load(encoder, self._cache_paths.cache_dir)
        return self._base

    def _personalise(self, base: Classifier) -> Classifier:
        if not self.personal or not self.paths.database.exists():
            return base  # no store yet, so no corrections (and their code stays unimported)
        from kilocli.personal_io import cache_file, personal_vectors, read_personal
        from kilocli.routing.classifier import embed_texts, embedding_key

        try:
            examples = read_personal(self.paths)
        except Exception as exc:  # a damaged or read-only store must not stop a dry run
            if not _store_failure(exc):
                raise
            self.on_note(f"routing without your corrections: {exc}")
            return base
        if not examples:
            return base
        vectors = personal_vectors(
            examples,
            lambda texts: embed_texts(base.encoder, texts),
            cache_file(self._cache_paths, embedding_key(base.encoder)),
            int(base.encoder.dim),
        )
        return base.personalised(examples, vectors)

    def refresh_personal(self) -> None:
        """Re-read the corrections (after /wrong or /retry --up): the next turn routes with them."""
        if self._base is None:
            return  # not loaded yet: the first load reads them
        fresh = self._personalise(self._base)
        with self._lock:
            self._classifier = fresh


def _store_failure(exc: Exception) -> bool:
    """The database could not be read (sqlite3 is imported only where the store is used)."""
    from kilocli.errors import KiloError

    return isinstance(exc, (KiloError, OSError)) or type(exc).__module__ == "sqlite3"
