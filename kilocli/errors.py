"""One exception tree for kilocli, mapped to exit codes.

    KiloError                     exit 1 unless a subclass says otherwise
    ├── UsageError                exit 2: bad flag, empty prompt, unknown tier
    ├── ConfigError               exit 2: config, keys or pool file invalid (names file, line/key)
    │   └── PoolError
    ├── EncoderUnavailable        exit 2: MiniLM weights or a library missing (says what to install)
    └── ProviderError             exit 1: see kilocli.providers.errors for the provider failure tree
    Interrupted                   exit 130: Ctrl-C

Messages are one line, written for the user, and never contain a key.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class KiloError(Exception):
    """Base of every error kilocli reports to the user."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(KiloError):
    exit_code = EXIT_USAGE


class ConfigError(KiloError):
    exit_code = EXIT_USAGE


class PoolError(ConfigError):
    """A pool or catalogue file is malformed or inconsistent."""


class EncoderUnavailable(KiloError):
    exit_code = EXIT_USAGE


class ProviderError(KiloError):
    """Base of provider failures (kilocli.providers.errors refines it)."""

    exit_code = EXIT_FAILURE


class Interrupted(KiloError):
    exit_code = EXIT_INTERRUPTED
