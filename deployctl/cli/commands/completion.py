"""``deployctl completion SHELL``: print a completion script for bash, zsh or fish.

The script is generated from the parser deployctl runs with (``deployctl.cli.completion``), so
it completes exactly the commands, options and choices of this version.
"""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import options
from deployctl.cli.exit_codes import ExitCode

INSTALL = """\
Print a script that completes deployctl's commands, options and their values in SHELL.
Install it once, then start a new shell (and print it again after upgrading deployctl):

  bash  add `source <(deployctl completion bash)` to ~/.bashrc, or
        deployctl completion bash > ~/.local/share/bash-completion/completions/deployctl
  zsh   deployctl completion zsh > "${fpath[1]}/_deployctl", or
        add `source <(deployctl completion zsh)` to ~/.zshrc, after compinit
  fish  deployctl completion fish > ~/.config/fish/completions/deployctl.fish
"""

SHELLS = ("bash", "zsh", "fish")


def run(args: argparse.Namespace) -> int:
    from deployctl.cli.completion import SCRIPTS, read_parser
    from deployctl.cli.main import build_parser

    sys.stdout.write(SCRIPTS[args.shell](read_parser(build_parser())))
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description=INSTALL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(handler=run)
