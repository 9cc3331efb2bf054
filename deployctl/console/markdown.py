"""A plan as GitHub-flavoured Markdown, for pull-request comments (``plan``/``show --markdown``).

The comment has, in this order: an invisible marker (``<!-- deployctl plan: ENV -->``, for bots
that update their previous comment), a heading naming the environment, a warning on destroy
plans, the summary line, one bullet per target whose fields could be compared with the last
apply only (the target does not report them), then either "No changes." or a table of the
changed addresses with their action and reason followed by one collapsible ``<details>`` block
per address with its field changes (``Field | Before | After``, values as JSON), and the
deployments that are not managed by deployctl.

The output depends on the plan only (no timestamps, no versions), so a fixed plan renders byte
for byte the same (``tests/console/golden/*.md``). Values are shown as code spans: ``|`` is
escaped for tables and code spans are fenced with more backticks than any run inside them;
reasons are plain text with Markdown's punctuation escaped.
"""

from __future__ import annotations

import html
import re

from deployctl.console.render import (
    NO_CHANGES,
    partial_text,
    plan_counts_text,
    unverified_texts,
    value_text,
)
from deployctl.errors import printable
from deployctl.model import JSONValue
from deployctl.planner.plan import FieldChange, Plan, ResourceChange

ACTION_LABELS = {
    "create": "🟢 create",
    "update": "🟡 update",
    "delete": "🔴 delete",
    "replace": "🟠 replace",
    "import": "🔵 import",
}
"""The action column's labels by action value (stable: PR bots and golden files rely on them);
any other action is shown by its name."""

ABSENT = "*(absent)*"
REMOVED = "*(removed)*"

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the characters that can
# start inline markup (emphasis, code, links, HTML, entities, strikethrough) or end a table cell.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_BACKTICKS = re.compile(r"`+")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def escape_text(text: str) -> str:
    """Plain text that renders literally, on one line, in a table cell or after other text
    (a ``#`` or indentation at the start of a line is left alone)."""
    return _SPECIAL.sub(r"\\\1", _NEWLINES.sub(" ", text))


def code_span(text: str, *, in_table: bool = False) -> str:
    """``text`` as an inline code span that renders literally, whatever backticks it holds.

    Inside a table cell every ``|`` is written ``\\|`` (GitHub removes that backslash before
    reading the code span, and it is the only way a pipe survives inside a cell).
    """
    text = printable(_NEWLINES.sub(" ", text))
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")):
        text = f" {text} "
    if not text:
        text = " "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def value_cell(value: JSONValue) -> str:
    """A field value in a table cell: JSON in a code span."""
    return code_span(value_text(value), in_table=True)


def action_label(change: ResourceChange) -> str:
    label = ACTION_LABELS.get(change.action.value, change.action.value)
    return f"{label} (state only)" if change.state_only else label


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _field_row(change: FieldChange) -> str:
    before = ABSENT if change.kind == "added" else value_cell(change.before)
    after = REMOVED if change.kind == "removed" else value_cell(change.after)
    return _row(code_span(change.path, in_table=True), before, after)


def _details(change: ResourceChange) -> list[str]:
    what = change.action.value + (", state only" if change.state_only else "")
    lines = [f"<details><summary>{html.escape(change.address)} ({what})</summary>", ""]
    if change.model_pin is not None:
        pin = change.model_pin
        lines += [
            f"Model: {code_span(pin.source)} → {code_span(pin.pinned_uri)} "
            f"({html.escape(pin.reference)}, pinned when the plan was made)",
            "",
        ]
    if change.diff:
        lines.append(_row("Field", "Before", "After"))
        lines.append(_row("---", "---", "---"))
        lines.extend(_field_row(d) for d in change.diff)
    else:
        lines.append("No field changes.")
    lines += ["", "</details>", ""]
    return lines


def plan_markdown(plan: Plan) -> str:
    """The whole comment, ending with one newline."""
    env = plan.environment
    kind = "destroy plan" if plan.destroy else "plan"
    lines = [
        f"<!-- deployctl {kind}: {html.escape(env)} -->",
        f"### deployctl {kind} for {code_span(env)}",
        "",
    ]
    if plan.destroy:
        lines += [
            "> ⚠️ **Destroy plan:** every deployment this environment manages is deleted.",
            "",
        ]
    note = partial_text(plan)
    if note:
        lines += [f"> ⚠️ **{escape_text(note)}**", ""]
    lines += [f"**Plan:** {plan_counts_text(plan)}", ""]
    unverified = unverified_texts(plan)
    if unverified:
        lines += [*(f"- {escape_text(text)}" for text in unverified), ""]
    changes = list(plan.actionable())
    if not changes:
        lines += [NO_CHANGES, ""]
    else:
        lines.append(_row("Address", "Action", "Reason"))
        lines.append(_row("---", "---", "---"))
        lines.extend(
            _row(code_span(c.address, in_table=True), action_label(c), escape_text(c.reason))
            for c in changes
        )
        lines.append("")
        for change in changes:
            lines += _details(change)
    if plan.unmanaged:
        names = ", ".join(code_span(u.address) for u in plan.unmanaged)
        lines += [f"**Not managed by deployctl** (left untouched): {names}", ""]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
