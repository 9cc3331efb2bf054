"""One report of several environments' plans (``plan -f environments/`` or several ``-f``).

- terminal: per environment a header line naming it and its manifest, then its plan as
  ``plan -f FILE`` shows it (or its error); a last line sums up every environment;
- ``--json``: a JSON list of the plan documents (each exactly what ``plan --json`` prints for
  that environment; an environment that failed has none: its error is on stderr);
- ``--markdown``: ONE pull-request comment. Its single marker lists the environments
  (``<!-- deployctl plan: dev, prod -->``), so a bot that updates its previous comment finds
  this one for the same run; no section repeats a one-environment marker, so a bot looking for
  ``<!-- deployctl plan: dev -->`` never takes this comment for that one. A table sums up each
  environment, then each has its section: the comment ``plan --markdown`` makes for it, one
  heading level down, or its error.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Protocol

from rich.text import Text

from deployctl.console.markdown import code_span, escape_text, plan_markdown
from deployctl.console.render import plan_counts_text
from deployctl.errors import DeployctlError, ManifestError, printable
from deployctl.planner.plan import Plan

FAILED = "❌ failed"
_NO_CHANGES = "no changes"


class EnvironmentOutcome(Protocol):
    """What is shown of one environment (``operations.environments.EnvironmentPlan``)."""

    @property
    def manifest(self) -> str: ...

    @property
    def environment(self) -> str: ...

    @property
    def plan(self) -> Plan | None: ...

    @property
    def error(self) -> DeployctlError | None: ...


def error_lines(error: DeployctlError | None) -> list[str]:
    """An environment's error as the CLI prints an error: one line per manifest issue
    (``FILE:LINE:COL: message``), else ``Error: message``."""
    if error is None:
        return ["Error: the plan failed"]
    if isinstance(error, ManifestError):
        return [str(issue) for issue in error.issues]
    return [f"Error: {line}" if i == 0 else line for i, line in enumerate(str(error).split("\n"))]


def _outcome_text(outcome: EnvironmentOutcome) -> str:
    plan = outcome.plan
    if plan is None:
        return "failed"
    return plan_counts_text(plan) if plan.has_changes else _NO_CHANGES


# -- terminal -----------------------------------------------------------------------------------


def section_header(outcome: EnvironmentOutcome) -> Text:
    """``── Environment dev (environments/dev.yaml) ──``."""
    text = Text("── Environment ", style="bold")
    text.append(printable(outcome.environment), style="bold cyan")
    text.append(f" ({printable(outcome.manifest)}) ──", style="bold")
    return text


def failure_lines(outcome: EnvironmentOutcome) -> list[Text]:
    """The section of an environment whose plan failed."""
    return [Text(printable(line), style="red") for line in error_lines(outcome.error)]


def summary_lines(outcomes: Sequence[EnvironmentOutcome]) -> list[Text]:
    """``Environments: dev: 1 to create, …; prod: no changes; staging: failed.``"""
    text = Text("Environments: ", style="bold")
    for index, outcome in enumerate(outcomes):
        if index:
            text.append("; ")
        text.append(printable(outcome.environment), style="bold")
        text.append(": ")
        said = _outcome_text(outcome).rstrip(".")
        text.append(said, style="red" if outcome.plan is None else "")
    text.append(".")
    return [text]


# -- JSON ---------------------------------------------------------------------------------------


def plans_json(outcomes: Sequence[EnvironmentOutcome]) -> str:
    """The plan documents of the environments that were planned, as one JSON list (formatted
    as ``plan --json`` formats one)."""
    documents = [outcome.plan.to_json() for outcome in outcomes if outcome.plan is not None]
    return json.dumps(documents, indent=2, sort_keys=True, allow_nan=False) + "\n"


# -- Markdown -----------------------------------------------------------------------------------


def plans_markdown(outcomes: Sequence[EnvironmentOutcome], *, destroy: bool = False) -> str:
    """The whole comment, ending with one newline."""
    kind = "destroy plan" if destroy else "plan"
    names = ", ".join(html.escape(outcome.environment) for outcome in outcomes)
    count = len(outcomes)
    lines = [
        f"<!-- deployctl {kind}: {names} -->",
        f"### deployctl {kind} for {count} environment{'s' if count != 1 else ''}",
        "",
        "| Environment | Plan |",
        "| --- | --- |",
    ]
    for outcome in outcomes:
        said = FAILED if outcome.plan is None else escape_text(_outcome_text(outcome))
        lines.append(f"| {code_span(outcome.environment, in_table=True)} | {said} |")
    lines.append("")
    for outcome in outcomes:
        lines += _section(outcome, kind)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def _section(outcome: EnvironmentOutcome, kind: str) -> list[str]:
    if outcome.plan is not None:
        # The one-environment comment without its marker, one heading level down.
        own = plan_markdown(outcome.plan).rstrip("\n").split("\n")
        if own and own[0].startswith("<!--"):
            own = own[1:]
        if own and own[0].startswith("### "):
            own[0] = "#" + own[0]
        return [*own, ""]
    body = "\n".join(printable(line) for line in error_lines(outcome.error))
    fence = "`" * max(3, _longest_backticks(body) + 1)
    return [
        f"#### deployctl {kind} for {code_span(outcome.environment)}",
        "",
        f"> ❌ **The plan failed** ({code_span(outcome.manifest)}):",
        "",
        f"{fence}text",
        body,
        fence,
        "",
    ]


def _longest_backticks(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest
