"""``python -m deployctl``: same as the ``deployctl`` console script."""

from __future__ import annotations

from deployctl.cli.main import run

run()
