"""The one-line messages for ordinary environment failures name the path and what to do (the
commands that print them: tests/e2e/cli/test_environment_errors.py)."""

from __future__ import annotations

import errno

from kilocli.cli import environment_error_line


def test_environment_error_lines_name_path_and_remedy():
    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/kilo/data")
    assert environment_error_line(denied) == (
        "/srv/kilo/data: no permission: fix its permissions, "
        "or set KILOCLI_HOME to a folder you own"
    )
    full = OSError(errno.ENOSPC, "No space left on device", "/srv/kilo/data/kilocli.db")
    assert environment_error_line(full).startswith("/srv/kilo/data/kilocli.db: the disk is full")
    ro = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/config")
    assert "set KILOCLI_HOME to a writable folder" in environment_error_line(ro)


def test_database_error_lines_say_what_to_do():
    import sqlite3

    from kilocli.cli import database_error_line
    from kilocli.config import get_paths

    database = get_paths().database
    damaged = database_error_line(sqlite3.DatabaseError("database disk image is malformed"))
    assert damaged.startswith(f"{database}: the database is damaged")
    assert f"mv {database} {database}.bad" in damaged
    readonly = database_error_line(sqlite3.OperationalError("attempt to write a readonly database"))
    assert (
        readonly == f"{database}: the database is read-only: make it writable, or set KILOCLI_HOME"
    )
