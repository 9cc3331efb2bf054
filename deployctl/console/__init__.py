"""Renderers: how plan and apply events reach a person or a machine.

``rich_console`` (the terminal), ``json_events`` (JSON lines for CI), ``markdown`` (pull-request
comments), with ``render``/``drift_render`` holding the text they share and ``encoding`` the
fallback for consoles that cannot encode Unicode. The ``Console`` protocol they implement lives
beside the executor that reports to it (``deployctl.executor.console``).
"""
