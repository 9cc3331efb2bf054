"""Tests of the planner (a package: its module names may repeat those of tests/cli)."""
