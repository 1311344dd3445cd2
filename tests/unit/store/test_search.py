"""History search in the store and `/sessions QUERY`: FTS5 over prompts and answers (the command
line and a database made before the change: tests/e2e/cli/test_sessions_search.py)."""

from __future__ import annotations

import io

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console
from storage import finish_answered

from kilocli.config import get_paths
from kilocli.errors import UsageError
from kilocli.search_query import fts_query, split_highlights
from kilocli.store import Store

# The schema as the first store wrote it (kilocli/store/schema.py before full-text search,
# migration 1), copied verbatim so that this test keeps meaning "a database made before the change".


def test_the_index_follows_every_write():
    with Store(get_paths().database) as store:
        sid = store.new_session("chat", "balanced")
        turn = store.start_turn(sid, "why does the build fail")
        assert [h.turn_id for h in store.search(fts_query("build"))] == [turn]
        store.save_partial(turn, "the linker cannot find")
        assert store.search(fts_query("linker"))
        finish_answered(store, turn, "the linker cannot find libzstd")
        assert store.search(fts_query("linker")) and store.search(fts_query("libzstd"))
        store.save_partial(turn, "ignored once finished")
        assert not store.search(fts_query("ignored"))
        store.delete_session(sid)
        assert store.search(fts_query("libzstd")) == []
        count = store._read("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'libzstd'")
        assert count[0][0] == 0


def test_ranking_prefers_the_turn_where_the_word_weighs_more():
    with Store(get_paths().database) as store:
        sid = store.new_session("ask", "balanced")
        weak = store.start_turn(sid, "write a long story about many things and also caching")
        finish_answered(store, weak, "Once upon a time, in a land of many rivers and hills, " * 5)
        strong = store.start_turn(sid, "caching")
        finish_answered(store, strong, "caching caching: put a cache in front")
        assert [h.turn_id for h in store.search(fts_query("caching"))] == [strong, weak]
        assert len(store.search(fts_query("caching"), limit=1)) == 1


@pytest.mark.parametrize("words", ["AND", 'say "hi', "NEAR(", "a:b", "-x", "col*umn", "OR NOT"])
def test_user_words_never_make_a_syntax_error(words):
    with Store(get_paths().database) as store:
        sid = store.new_session("ask", "balanced")
        finish_answered(store, store.start_turn(sid, "anything"), "say hi to NEAR and a:b")
        store.search(fts_query(words))  # no exception


def test_query_quoting():
    assert fts_query('migrat* "x"') == '"migrat"* """x"""'
    assert fts_query("AND - foo") == '"AND" "foo"'
    with pytest.raises(UsageError, match="nothing to search for"):
        fts_query("- * ??")
    assert split_highlights("a \ue000b\ue001 c \ue000dd\ue001") == ("a b c dd", [(2, 3), (6, 8)])


def test_chat_sessions_query_searches(tmp_path):
    from kilocli.chat.app import ChatUI
    from kilocli.chat.session import ChatSession, Loader
    from kilocli.settings import Settings
    from kilocli.ui.chat_view import ChatView

    paths = get_paths()
    store = Store(paths.database)
    sid = store.new_session("ask", "balanced")
    finish_answered(
        store, store.start_turn(sid, "explain the borrow checker"), "lifetimes and ownership"
    )
    other = store.new_session("ask", "balanced")
    finish_answered(store, store.start_turn(other, "unrelated"), "nothing to see")

    def console() -> Console:
        return Console(file=io.StringIO(), width=120, color_system=None, emoji=False)

    session = ChatSession(
        paths,
        Settings(),
        loader=Loader(lambda: pytest.fail("routing is not needed")),  # type: ignore[arg-type]
        make_engine=lambda router: pytest.fail("no turn is sent"),
        store=store,
        view=ChatView(console(), console()),
        tier="auto-efficient",
        cwd=tmp_path,
    )
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        ui = ChatUI(session, input=pipe, output=DummyOutput())
        pipe.send_text("/sessions ownership\r/sessions\r/sessions NEAR( zzz\r\x04")
        assert ui.run() == 0
        ui.worker.close()
    err = session.view.err.file.getvalue()  # type: ignore[attr-defined]
    search_part, _, rest = err.partition("recent sessions")
    assert "turns matching 'ownership'" in search_part
    assert sid in search_part and other not in search_part and "ownership" in search_part
    assert sid in rest and other in rest  # plain /sessions still lists the recent ones
    assert "no stored turn matches 'NEAR( zzz'" in rest and "Traceback" not in err
