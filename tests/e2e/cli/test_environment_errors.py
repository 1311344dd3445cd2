"""Ordinary environment failures are one line naming the path and what to do, never a crash
report. (Tests run as root in CI, where permissions do not bind, so a file standing where a folder
is needed and a damaged database stand in for the unwritable cases.)"""

from __future__ import annotations


def _run(kilo, home, args):
    return kilo(args, env={"KILOCLI_HOME": str(home)})


def test_a_file_where_the_home_folder_should_be_is_one_line(kilo, tmp_path):
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("not a folder")
    for args in (["config", "set", "tier", "balanced"], ["sessions", "list"], ["stats"]):
        proc = _run(kilo, blocker / "kilo", args)
        err = proc.stderr.decode()
        assert proc.returncode == 1, (args, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "internal error" not in err and "Traceback" not in err
        assert str(blocker) in err and "KILOCLI_HOME" in err


def test_a_damaged_database_says_to_move_it_aside(kilo):
    database = kilo.home / "data" / "kilocli.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"\x00garbage, not sqlite" * 300)
    proc = kilo(["sessions", "list"])
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert f"mv {database} {database}.bad" in err and len(err.strip().splitlines()) == 1
