"""Shell completion: scripts for bash, zsh and fish, generated from the real argparse parser.

``spec`` reads the parser into a ``CommandSpec`` tree (commands, subcommands, each one's
options, which take a value, their choices, which values are files); ``bash``, ``zsh`` and
``fish`` each render that tree as a script for their shell (``SCRIPTS``). Nothing is listed by
hand: a command or option added to the parser is completed the next time a script is printed.
"""

from __future__ import annotations

from collections.abc import Callable

from deployctl.cli.completion.bash import render as bash_script
from deployctl.cli.completion.fish import render as fish_script
from deployctl.cli.completion.spec import CommandSpec, read_parser
from deployctl.cli.completion.zsh import render as zsh_script

SCRIPTS: dict[str, Callable[[CommandSpec], str]] = {
    "bash": bash_script,
    "zsh": zsh_script,
    "fish": fish_script,
}

__all__ = ["SCRIPTS", "CommandSpec", "read_parser"]
