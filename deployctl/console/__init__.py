"""Consoles: how plan and apply events reach a person or a machine."""

from __future__ import annotations

from deployctl.console.protocol import CaptureConsole, Console, NullConsole

__all__ = ["CaptureConsole", "Console", "NullConsole"]
