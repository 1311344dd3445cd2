"""`kilo ask -c` / `--session ID`: a stored session loaded as the context of a new turn.

The same context chat rebuilds on `--resume`: every answered exchange in order (a turn that failed
before any answer is left out), and the model that last answered, so routing can be sticky.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kilocli.chat.context import Conversation
from kilocli.errors import UsageError

if TYPE_CHECKING:
    from kilocli.store import Store


@dataclass
class Continuation:
    session_id: str
    tier: str  # the tier the session was started with
    conversation: Conversation
    current_model: str | None  # the model that answered last (None: nothing answered yet)
    turns: int  # stored turns, answered or not


def load_continuation(store: Store, ref: str, flag: str) -> Continuation:
    """The session ``ref`` ('last' = the most recently used, of any kind) or a one-line
    UsageError naming ``flag``."""
    try:
        record = store.session(ref)
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc.message}") from None
    conversation = Conversation()
    current_model: str | None = None
    for turn in record.turns:
        if turn.answer:
            conversation.add_exchange(turn.prompt, turn.answer)
            current_model = turn.model or current_model
    return Continuation(record.id, record.tier, conversation, current_model, len(record.turns))
