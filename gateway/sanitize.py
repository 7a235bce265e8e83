"""Citizens' text as the gateway passes it on: without control characters.

None of them means anything in a chat, a NUL cannot even be stored in PostgreSQL (an agent's queue, a
callback request), and some terminals act on escape sequences in a log. Tabs and line breaks stay, and
so do zero-width and direction marks, which belong to real text (the page shows everything as text).
"""

from __future__ import annotations

_KEPT = "\t\n\r"
_CONTROLS = {
    code: None for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if chr(code) not in _KEPT
}


def plain_text(text: str) -> str:
    return text.translate(_CONTROLS)
