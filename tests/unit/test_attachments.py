"""One attachment reader for `kilo ask -f` and chat's `/add`: the same checks, the same 256 KiB
cap and the same block format (real files in a temporary folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kilocli.ask import attach_files
from kilocli.attachments import MAX_FILE_BYTES, AttachmentProblem, file_block, read_attachment
from kilocli.chat.context import Conversation
from kilocli.errors import UsageError


def test_a_text_file_is_read_whole(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    assert read_attachment(tmp_path / "a.py") == "x = 1\n"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: None, "missing"),
        (lambda p: p.mkdir(), "directory"),
        (lambda p: os.mkfifo(p), "special"),
        (lambda p: p.write_bytes(b"a" * (MAX_FILE_BYTES + 1)), "too_big"),
        (lambda p: p.write_bytes(b"text\x00more"), "binary"),
        (lambda p: p.write_bytes(b"caf\xe9"), "not_utf8"),
    ],
)
def test_what_cannot_be_attached_is_named(tmp_path: Path, make, kind):
    path = tmp_path / "thing"
    make(path)
    with pytest.raises(AttachmentProblem) as exc:
        read_attachment(path)
    assert exc.value.kind == kind


def test_the_cap_is_the_same_for_ask_and_add(tmp_path: Path):
    exactly = tmp_path / "exactly.txt"
    exactly.write_bytes(b"a" * MAX_FILE_BYTES)
    over = tmp_path / "over.txt"
    over.write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    conv = Conversation()
    assert conv.add_file("exactly.txt", tmp_path)[0] == "exactly.txt"
    with pytest.raises(UsageError) as added:
        conv.add_file("over.txt", tmp_path)
    assert str(added.value) == "over.txt: is over 256 KiB, not added"
    with pytest.raises(UsageError) as asked:
        attach_files("hi", [over])
    assert str(asked.value) == f"--file: {over} is over 256 KiB"


def test_add_refuses_a_fifo_before_reading_it(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe")  # reading it would block forever
    with pytest.raises(UsageError) as exc:
        Conversation().add_file("pipe", tmp_path)
    assert str(exc.value) == "pipe: is a FIFO, not a regular file; not added"


def test_ask_and_add_send_a_file_in_the_same_block(tmp_path: Path):
    (tmp_path / "util.py").write_text("def f():\n    pass\n\n")
    block = file_block("util.py", "def f():\n    pass\n\n")
    assert block == '<file path="util.py">\ndef f():\n    pass\n</file>'
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        asked = attach_files("explain", [Path("util.py")])
    finally:
        os.chdir(old)
    assert asked == f"explain\n\n{block}"  # ask -f: in the user's message
    conv = Conversation()
    conv.add_file("util.py", tmp_path)
    system = conv.system_text("be brief")
    assert system is not None and system.endswith(block)  # /add: in the system prompt
