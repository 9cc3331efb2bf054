"""What the commands do: each module ties manifest, state, targets, planner and executor together
for one operation.

- ``refresh``: ask the targets what is live (and re-check a saved plan's live records);
- ``planning``: refresh, then plan; the checks a plan must pass before it is applied;
- ``environments``: several environments planned in one run (``plan -f environments/``);
- ``applying``: execute a reviewed plan under a held state lock;
- ``drift``: refresh, then report what changed outside deployctl;
- ``importing``: adopt a deployment that already exists on its target;
- ``secrets``: read the secrets a run sends (again, for a saved plan) and keep them out of
  every message.

The CLI calls these and decides everything about output and prompting; they report through a
``Console`` and never print.
"""
