"""`kilo ask -c` / `--session ID`: a new turn joins a stored session, across processes."""

from __future__ import annotations

import json
import sqlite3

KEY = "sk-test-DO-NOT-LEAK-4242"


def _env(server) -> dict[str, str]:
    return {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": KEY}


def _db(home) -> sqlite3.Connection:
    db = sqlite3.connect(home / "data" / "kilocli.db")
    db.row_factory = sqlite3.Row
    return db


def _messages(request) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request.body["messages"] if m["role"] != "system"]


def _ask(kilo, server, *args: str, input: bytes | None = None) -> dict:
    proc = kilo(["ask", "--json", *args], input=input, env=_env(server))
    assert proc.returncode == 0, proc.stderr.decode()
    assert KEY not in proc.stderr.decode() + proc.stdout.decode()
    return json.loads(proc.stdout)


def test_continue_carries_the_last_session_into_the_next_process(kilo, fake_server):
    fake_server.script(answer="Use a generator expression with yield.")
    first = _ask(kilo, fake_server, "how do I stream rows lazily from a python function")
    fake_server.script(answer="def rows(): yield from cursor")
    second = _ask(kilo, fake_server, "-c", "show me the code")
    assert second["session_id"] == first["session_id"]
    sent = _messages(fake_server.requests[-1])
    assert sent == [
        ("user", "how do I stream rows lazily from a python function"),
        ("assistant", "Use a generator expression with yield."),
        ("user", "show me the code"),
    ]
    # the whole session was routed: its first turn counts in the estimate of the second
    assert second["decision"]["input_tokens"] > first["decision"]["input_tokens"] + 8
    db = _db(kilo.home)
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    rows = db.execute("SELECT session_id, seq, prompt, answer FROM turns ORDER BY id").fetchall()
    assert [(r["session_id"], r["seq"]) for r in rows] == [
        (first["session_id"], 1),
        (first["session_id"], 2),
    ]
    assert rows[1]["prompt"] == "show me the code"
    assert rows[1]["answer"] == "def rows(): yield from cursor"


def test_continue_in_a_pipeline_with_stdin(kilo, fake_server):
    fake_server.script(answer="It renames parse to parse_rows.")
    first = _ask(kilo, fake_server, "--no-stdin", "what does the diff I am about to send do")
    diff = b"diff --git a/x.py b/x.py\n-def parse():\n+def parse_rows():\n"
    fake_server.script(answer="Rename parse to parse_rows")
    proc = kilo(["ask", "-c", "and now the commit message"], input=diff, env=_env(fake_server))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "Rename parse to parse_rows\n"  # piped: the answer alone
    assert f"continuing session {first['session_id']}" in proc.stderr.decode()
    sent = _messages(fake_server.requests[-1])
    assert sent[:2] == [
        ("user", "what does the diff I am about to send do"),
        ("assistant", "It renames parse to parse_rows."),
    ]
    role, content = sent[2]
    assert role == "user" and content.startswith("and now the commit message\n\n<stdin>\n")
    assert "+def parse_rows():" in content


def test_session_id_continues_that_session_not_the_latest(kilo, fake_server):
    fake_server.script(answer="answer A")
    a = _ask(kilo, fake_server, "explain what a mutex is")
    fake_server.script(answer="answer B")
    b = _ask(kilo, fake_server, "write a haiku about rust")
    fake_server.script(answer="answer A2")
    # ids made within the same moment share a head: the shortest prefix that tells them apart
    ida, idb = a["session_id"], b["session_id"]
    shared = next(i for i, (x, y) in enumerate(zip(ida, idb, strict=True)) if x != y)
    prefix = ida[: max(shared + 1, 4)]
    again = _ask(kilo, fake_server, "--session", prefix, "and a semaphore?")
    assert again["session_id"] == a["session_id"] != b["session_id"]
    assert _messages(fake_server.requests[-1]) == [
        ("user", "explain what a mutex is"),
        ("assistant", "answer A"),
        ("user", "and a semaphore?"),
    ]
    seqs = _db(kilo.home).execute(
        "SELECT seq FROM turns WHERE session_id = ? ORDER BY seq", (a["session_id"],)
    )
    assert [r[0] for r in seqs] == [1, 2]


def test_a_follow_up_is_routed_with_its_session_and_stays_on_its_model(kilo, fake_server):
    fake_server.script(answer="Step 1: dump. Step 2: convert types. Step 3: verify.")
    plan = "plan the migration of our billing database from postgres to sqlite, with rollback"
    first = _ask(kilo, fake_server, plan)
    alone = kilo(["route", "--json", "ok, go on"], env=_env(fake_server))
    alone_decision = json.loads(alone.stdout)
    follow = _ask(kilo, fake_server, "-c", "ok, go on")["decision"]
    # the session's first turn pulls the terse follow-up toward its task
    assert follow["task"] == first["decision"]["task"]
    assert follow["task_probs"][follow["task"]] > alone_decision["task_probs"][follow["task"]]
    assert follow["model"] == first["model"]


def test_unknown_or_missing_session_is_one_line_naming_the_flag(kilo, fake_server):
    proc = kilo(["ask", "-c", "hello"], env=_env(fake_server))
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        "error: --continue: no sessions yet (kilo chat or kilo ask starts one)\n"
    )
    proc = kilo(["ask", "--session", "zzzzzz", "hello"], env=_env(fake_server))
    assert proc.returncode == 2
    assert proc.stderr.decode() == "error: --session: no session 'zzzzzz' (kilo sessions list)\n"
    proc = kilo(["ask", "-c", "--session", "abc", "hello"], env=_env(fake_server))
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1
    assert "--continue and --session" in proc.stderr.decode()
    assert fake_server.requests == []  # nothing was sent
