"""Text from a model or a user, made safe to show on a terminal.

A model's answer, a stored prompt or a provider's error message may carry control characters:
ESC starts sequences that clear the screen (CSI), set the clipboard (OSC 52) or hide a link target
(OSC 8); a bare carriage return overwrites what a line said. On a terminal every control character
but newline and tab is shown as a visible stand-in instead: C0 controls and DEL as their Unicode
control pictures (ESC becomes "␛"), C1 controls as "<U+009B>". A CR before LF is dropped (CRLF line
ends are harmless). Stored text stays verbatim; only what reaches a terminal goes through here.
"""

from __future__ import annotations

import re

# C0 controls except TAB and LF, DEL, and the C1 controls
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400..U+241F: the control pictures
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def terminal_safe(text: str) -> str:
    """``text`` with every control character but newline and tab made visible."""
    if not _CONTROL.search(text):
        return text  # the common case: nothing to do
    return _CONTROL.sub(_visible, text.replace("\r\n", "\n"))
