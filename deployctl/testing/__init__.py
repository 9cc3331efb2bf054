"""The conformance kit: checks a deployment target against the contract deployctl relies on.

Plugin authors run it with one command (pytest must be installed)::

    pytest --pyargs deployctl.testing --deployctl-target URI [--deployctl-model-uri URI]

It creates, gets, lists, updates and deletes throw-away deployments (named
``dctl-conf-<8 hex>-<purpose>``, deleted again at the end) and reports one test per check.

- ``options``: the command-line options and what they resolve to (no deployctl imports);
- ``plugin``: the pytest plugin, loaded through the ``pytest11`` entry point in every pytest run
  where deployctl is installed (it only registers the options; the checks run only when
  ``--pyargs deployctl.testing`` collects them);
- ``kit``: loading the target as deployctl does and calling its plugin the way deployctl calls
  it, throw-away names and their clean-up;
- ``test_conformance``: the checks, one test each.

Nothing here is imported by deployctl itself.
"""
