"""The composition root: the one place that turns paths, settings and keys into the parts of kilo.

Commands, the chat and the server ask an App for what they need (the catalogue, the configured
providers, the routing service, the engine, the store); nothing else builds them. Everything is
built on first use and kept, so `kilo route` never touches the providers' HTTP code or the store,
and `kilo --help` imports none of this.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kilocli.config import Paths
    from kilocli.engine import Engine, Router
    from kilocli.routing.pools import Catalogue, TierPool
    from kilocli.settings import Settings
    from kilocli.store import Store

Note = Callable[[str], None]


def _silent(_: str) -> None:
    pass


class App:
    """Paths, settings and the environment (for keys) in; the parts of kilo out, built once."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        on_note: Note | None = None,
    ) -> None:
        self.paths = paths
        self._settings = settings  # None: config.toml is read on first need
        self.env = dict(env) if env is not None else None  # None: os.environ when first needed
        self.on_note = on_note or _silent
        self._lock = threading.RLock()  # chat builds the router on a loader thread
        self._catalogue: Catalogue | None = None
        self._tiers: dict[str, TierPool] = {}
        self._providers: list[Any] | None = None
        self._reachable: dict[str, str] | bool | None = False  # False: not computed yet

    @classmethod
    def load(cls, *, on_note: Note | None = None) -> App:
        """The user's own: paths from the environment (KILOCLI_HOME); settings from config.toml,
        read when first needed (the history commands need only the store, and a broken config
        must not keep `kilo sessions list` from working)."""
        from kilocli.config import get_paths

        return cls(get_paths(), on_note=on_note)

    @property
    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                from kilocli.settings import load_settings

                self._settings = load_settings(self.paths)
            return self._settings

    # -- the model catalogue and the tiers' pools ----------------------------------------------
    def catalogue(self) -> Catalogue:
        with self._lock:
            if self._catalogue is None:
                from kilocli.routing.pools import load_catalogue

                self._catalogue = load_catalogue(self.paths)
            return self._catalogue

    def tier(self, name: str) -> TierPool:
        """A tier's pool, with the user's quality setting applied to its skill bar."""
        with self._lock:
            if name not in self._tiers:
                from kilocli.routing.pools import load_tier, with_bar_shift
                from kilocli.routing.taxonomy import CHEAPEST_ADEQUATE, QUALITY_SHIFTS

                pool = load_tier(name, self.catalogue(), self.paths)
                if pool.rule == CHEAPEST_ADEQUATE:
                    pool = with_bar_shift(pool, QUALITY_SHIFTS[self.settings.quality])
                self._tiers[name] = pool
            return self._tiers[name]

    # -- providers and keys --------------------------------------------------------------------
    def providers(self) -> list[Any]:
        """The configured providers, in serving order (read once: keys file and environment)."""
        with self._lock:
            if self._providers is None:
                from kilocli.keys import get_key
                from kilocli.providers.registry import configured_providers

                env = self.env if self.env is not None else dict(os.environ)
                self._providers = configured_providers(
                    self.settings.providers_as_dicts(),
                    lambda var: get_key(var, self.paths, env=env),
                    env,
                    order=self.settings.provider_order,
                )
            return self._providers

    def reachable(self) -> dict[str, str] | None:
        """Model id -> provider serving it; None when no provider is configured at all."""
        with self._lock:
            if self._reachable is False:
                from kilocli.providers.registry import reachable_models

                providers = self.providers()
                self._reachable = (
                    reachable_models(self.catalogue(), providers) if providers else None
                )
            return self._reachable  # type: ignore[return-value]

    # -- the services ------------------------------------------------------------------------
    def router(
        self,
        *,
        pool_file: Path | None = None,
        personal: bool = True,
        on_note: Note | None = None,
    ) -> Router:
        """The routing service; its classifier loads on first need (or its warm())."""
        from kilocli.engine.classifiers import ClassifierLoader
        from kilocli.engine.routing import PoolOverride, Router, RoutingPolicy

        catalogue = self.catalogue()
        override = None
        if pool_file is not None:
            from kilocli.routing.pools import load_pool_file

            override = PoolOverride(load_pool_file(pool_file, catalogue), pool_file.name)
        classifiers = ClassifierLoader(
            self.paths,
            encoder_model_path=self.settings.encoder_model_path,
            personal=personal,
            on_note=on_note or self.on_note,
        )
        policy = RoutingPolicy(
            default_tier=self.settings.tier,
            exclude=tuple(self.settings.exclude),
            max_cost_usd=self.settings.max_cost_usd,
        )
        return Router(
            catalogue, self.tier, classifiers, self.reachable, policy, pool_override=override
        )

    def store(self) -> Store:
        from kilocli.store import Store

        return Store(self.paths.database)

    def engine(self, store: Store, *, transport: Any = None) -> Engine:
        """Runs decided turns against the providers and records them in ``store``."""
        from kilocli.engine.turn import Engine

        return Engine(
            self.settings,
            store=store,
            catalogue=self.catalogue(),
            providers=self.providers,
            transport=transport,
        )
