"""deployctl's benchmark harness: ``python -m bench`` (see ``bench.run``).

Speed and memory goals live here, measured as ratios in one run on one machine, never in timed
tests. ``bench_state.py`` beside it is a separate micro-benchmark of the state journal.
"""
