"""One line for each failure that reaches the top of `kilo`: usage, environment, database."""

from __future__ import annotations

import errno


def usage_error_line(exc: Exception) -> str:
    """click's usage errors (vendored by typer or not) as one line naming the command's help."""
    message = exc.format_message()  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{message}{where}"


_OWN_FOLDER = "fix its permissions, or set KILOCLI_HOME to a folder you own"
_ERRNO_ADVICE = {
    errno.EACCES: f"no permission: {_OWN_FOLDER}",
    errno.EPERM: f"not permitted: {_OWN_FOLDER}",
    errno.EROFS: "read-only file system: set KILOCLI_HOME to a writable folder",
    errno.ENOSPC: "the disk is full: free some space and try again",
    errno.ENOTDIR: "a file stands where a folder is needed: move it, or set KILOCLI_HOME elsewhere",
    errno.EEXIST: "a file stands where a folder is needed: move it, or set KILOCLI_HOME elsewhere",
}


def environment_error_line(exc: OSError) -> str:
    """One line for an ordinary environment failure: what, where, and what to do about it."""
    where = exc.filename or "a file kilocli needs"
    advice = _ERRNO_ADVICE.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return f"{where}: {advice}"


def database_error_line(exc: Exception) -> str:
    """One line for a failure of the transcript database (an ``sqlite3.Error``)."""
    from kilocli.config import get_paths

    database = get_paths().database
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return f"{database}: the database is read-only: make it writable, or set KILOCLI_HOME"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (
            f"{database}: the database is damaged ({exc}); move it aside "
            f"(mv {database} {database}.bad) and kilo starts a new one"
        )
    return f"{database}: database error: {exc}"
