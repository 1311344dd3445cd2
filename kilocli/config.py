"""Paths and settings.

All state lives in three XDG directories named ``kilocli`` (never ``kilo``: Kilo Code's own CLI owns
``~/.config/kilo``). ``KILOCLI_HOME`` puts all three under one folder, which every test does.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilocli.errors import ConfigError

APP_NAME = "kilocli"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def keys_file(self) -> Path:
        return self.config_dir / "keys.toml"

    @property
    def user_pools_dir(self) -> Path:
        """User additions and overrides: catalogue files and tier files (same schema as pools/)."""
        return self.config_dir / "pools"

    @property
    def database(self) -> Path:
        return self.data_dir / "kilocli.db"

    @property
    def history_file(self) -> Path:
        return self.data_dir / "chat_history"


def get_paths(env: dict[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    home = env.get("KILOCLI_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config", root / "data", root / "cache")
    import platformdirs

    return Paths(
        Path(platformdirs.user_config_dir(APP_NAME)),
        Path(platformdirs.user_data_dir(APP_NAME)),
        Path(platformdirs.user_cache_dir(APP_NAME)),
    )


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; a syntax error becomes one line naming the file and line."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file.

    The temp file has ``mode`` from the start (0600 for keys: no window with wider rights).
    """
    import tempfile  # only writers need it (and its import of random): not a cold route

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_toml(path: Path, data: dict[str, Any], *, mode: int = 0o644, header: str = "") -> None:
    """Serialise with tomli-w and write atomically; ``header`` (comment lines) goes first."""
    import tomli_w

    atomic_write(path, (header + tomli_w.dumps(data)).encode("utf-8"), mode=mode)
