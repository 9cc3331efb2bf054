"""Smoke tests of deployed models: model input and output as tables, and the checks on them.

- ``frames``: an input file (CSV, or JSON in the shapes MLflow's scoring server takes) read as
  a pandas DataFrame (``read_input``), and a plugin's ``predict`` result as one (``as_frame``);
- ``expect``: ``SmokeTest`` (input and expectations), ``check`` (why predictions fail it) and
  ``run_smoke_test`` (``predict`` called, timed and checked: a ``SmokeOutcome``, never an
  exception for the model's failure).

Nothing here imports pandas until a function runs; nothing here imports MLflow: ``predict`` is
whatever the caller passes (a target adapter's, in apply and ``deployctl predict``).
"""

from __future__ import annotations

from deployctl.smoke.expect import SmokeOutcome, SmokeTest, check, run_smoke_test
from deployctl.smoke.frames import as_frame, read_input

__all__ = ["SmokeOutcome", "SmokeTest", "as_frame", "check", "read_input", "run_smoke_test"]
