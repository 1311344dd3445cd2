"""/wrong and /retry --up in a real `kilo chat` on a pty: both are recorded in the store as
corrections, and the next similar turn routes with them (the toolbar shows it before sending)."""

from __future__ import annotations

import pytest

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

from pty_chat import chat_store

pytestmark = pytest.mark.slow

PROMPT = "migrate the users table"


def test_wrong_labels_the_last_turn_and_retry_up_is_recorded(chat, fake_server, home):
    term = chat()
    term.command(PROMPT)
    term.expect_log(" out · turn $")
    routed = chat_store(home).session("last").turns[-1]
    assert (routed.task, routed.difficulty) != ("edit", "easy")
    term.command("/wrong edit trivial")
    term.expect_log("error: /wrong: unknown difficulty 'trivial'")
    assert "difficulties: easy, medium, hard" in term.since_mark()
    term.command("/wrong edit easy")
    term.expect_log("recorded #1: the last prompt is edit/easy")
    # the same request again: the toolbar's preview already routes it as corrected
    term.wait_prompt()
    term.type(PROMPT)
    term.expect_toolbar("edit/easy")
    term.type("\r")
    term.expect_log(" out · turn $")
    first_model = fake_server.requests[-1].model
    term.command("/retry --up")
    term.expect_log(" out · turn $")
    assert fake_server.requests[-1].model != first_model
    assert term.exit() == 0
    with chat_store(home) as store:
        corrections = store.corrections()
        turns = store.session("last").turns
    assert [(c.source, c.task, c.difficulty) for c in corrections] == [
        ("retry-up", "edit", "medium"),  # edit/easy was too weak: one level harder
        ("wrong", "edit", "easy"),
    ]
    up, wrong = corrections
    assert wrong.turn_id == turns[0].id and wrong.routed_task == routed.task
    # /retry --up corrects the turn it retried (the second); the retry is the third
    assert up.turn_id == turns[1].id and up.routed_model == turns[1].model
    assert up.model == turns[2].model != turns[1].model
