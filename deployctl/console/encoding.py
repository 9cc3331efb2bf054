"""Output on streams that cannot encode Unicode (``PYTHONIOENCODING=ascii``, cp1252 consoles).

deployctl's human output uses a few symbols (``→ ✓ ✗ ± …``). On a stream whose encoding cannot
hold them, ``for_stream`` wraps it so those symbols become ASCII (``-> + x +/- ...``) and any
other character the encoding lacks (a model name in Cyrillic, say) is written as a backslash
escape instead of crashing the command.
"""

from __future__ import annotations

import codecs
from typing import Any, TextIO

SYMBOLS = "→✓✗±…—"
_ASCII = str.maketrans({"→": "->", "✓": "+", "✗": "x", "±": "+/-", "…": "...", "—": "-"})


def can_encode(stream: Any, text: str = SYMBOLS) -> bool:
    """Whether ``stream``'s encoding holds ``text`` (a stream without one is assumed to)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        codecs.lookup(encoding)
        text.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def ascii_symbols(text: str) -> str:
    """``text`` with deployctl's symbols spelled in ASCII."""
    return text.translate(_ASCII)


class FallbackWriter:
    """A text stream that writes what its encoding cannot hold as ASCII symbols or escapes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.encoding: str = stream.encoding

    def write(self, text: str) -> int:
        safe = ascii_symbols(text).encode(self.encoding, "backslashreplace").decode(self.encoding)
        self._stream.write(safe)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def for_stream(stream: TextIO) -> TextIO:
    """``stream`` itself when it can encode deployctl's symbols, else a ``FallbackWriter``."""
    if can_encode(stream):
        return stream
    return FallbackWriter(stream)  # type: ignore[return-value]


def make_safe(stream: Any) -> None:
    """Let a real console stream escape what it cannot encode instead of raising (the last
    line of defence for text written outside the console, e.g. Markdown on stdout)."""
    reconfigure = getattr(stream, "reconfigure", None)
    if callable(reconfigure) and not can_encode(stream):
        reconfigure(errors="backslashreplace")
