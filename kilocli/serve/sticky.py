"""Which conversation a request continues, so that it keeps its session and its model.

Clients send the whole conversation every time. After each answer, the hash of the conversation
so far (with that answer) is remembered with its session and model; a later request whose
messages start with a remembered prefix continues that conversation, and the router's sticky rule
decides whether its model stays. Hashes cover each message's role and text only, since clients
re-serialise tool calls in their own way. Memory is bounded (least recently used go first).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kilocli.routing.cost import count_tokens
from kilocli.serve.request import text_of

MAX_CONVERSATIONS = 20_000


@dataclass(frozen=True)
class Conversation:
    session_id: str
    model: str
    prefix_tokens: int  # the remembered prefix's tokens: cached input if the model stays


def prefix_hashes(messages: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """The hash of every prefix: ``result[i]`` covers ``messages[: i + 1]``."""
    hasher = hashlib.blake2b(digest_size=16)
    out = []
    for message in messages:
        role = str(message.get("role", ""))
        hasher.update(role.encode() + b"\x00" + text_of(message).encode("utf-8", "replace"))
        hasher.update(b"\x1e")  # message separator
        out.append(hasher.copy().digest())
    return out


class StickyTable:
    """Thread-safe, bounded map: conversation prefix hash -> Conversation."""

    def __init__(self, capacity: int = MAX_CONVERSATIONS) -> None:
        self._capacity = capacity
        self._items: OrderedDict[bytes, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def find(self, messages: Sequence[Mapping[str, Any]]) -> Conversation | None:
        """The conversation of the longest remembered prefix (never the whole list: the last
        message is the new turn)."""
        hashes = prefix_hashes(messages[:-1])
        with self._lock:
            for digest in reversed(hashes):
                hit = self._items.get(digest)
                if hit is not None:
                    self._items.move_to_end(digest)
                    return hit
        return None

    def remember(
        self,
        messages: Sequence[Mapping[str, Any]],
        answer: str,
        session_id: str,
        model: str,
    ) -> None:
        full = [*messages, {"role": "assistant", "content": answer}]
        digest = prefix_hashes(full)[-1]
        tokens = sum(count_tokens(text_of(m)) for m in full)
        with self._lock:
            self._items[digest] = Conversation(session_id, model, tokens)
            self._items.move_to_end(digest)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
