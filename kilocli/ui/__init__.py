"""Rendering shared by the commands and the chat (Rich tables, lines, the streamed answer)."""
