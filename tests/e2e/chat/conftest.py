"""The chat's end-to-end fixtures: `home` (a fresh home sharing the warmed cache) and `chat` (a real
`kilo chat` on a pty), defined beside their harness in tests/pty_chat.py."""

from pty_chat import chat, home  # noqa: F401 - fixtures
