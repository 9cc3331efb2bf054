"""The Markdown PR comment: escaping of values and reasons, and what a reader sees rendered.

Rendering uses markdown-it-py (installed with rich) with GitHub's table and strikethrough
extensions; its table-cell splitting treats ``\\|`` exactly as GitHub's cmark-gfm does.
"""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from deployctl.console.markdown import (
    ACTION_LABELS,
    code_span,
    escape_text,
    plan_markdown,
    value_cell,
)
from deployctl.planner.plan import Action, ActionReason, FieldChange, Plan, ResourceChange

HOSTILE = [
    "plain",
    "a|b",
    "a||b",
    "back`tick",
    "``double``",
    "`leading",
    "trailing`",
    "x\\|y",
    "ends with backslash\\",
    "<details><summary>boom</summary>",
    "&amp; &lt;",
    "*stars* _under_ ~~strike~~ [link](http://x) ![img](y)",
    "# not a heading",
    "emoji ✓ → and ü",
    " spaced ",
    "line1\nline2",
]

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def cells(markdown: str) -> list[list[str]]:
    """The text a reader sees in the cells of each body row of every table (tags removed,
    entities decoded); header rows are left out."""
    rows = re.findall(r"<tr>\n(.*?)</tr>", GFM.render(markdown), flags=re.S)
    out = []
    for row in rows:
        found = re.findall(r"<td>(.*?)</td>", row, flags=re.S)
        if found:
            out.append([html.unescape(re.sub(r"</?(code|em|strong)>", "", c)) for c in found])
    return out


def one_row_table(*cells_md: str) -> str:
    return "| a | b |\n| --- | --- |\n| " + " | ".join(cells_md) + " |\n"


@pytest.mark.parametrize("text", HOSTILE)
def test_code_span_in_a_table_cell_renders_literally(text: str) -> None:
    rendered = cells(one_row_table(code_span(text, in_table=True), "x"))
    assert rendered == [[text.replace("\n", " "), "x"]]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_in_a_table_cell_renders_literally(text: str) -> None:
    rendered = cells(one_row_table(escape_text(text), "x"))
    assert rendered == [[text.replace("\n", " ").strip(), "x"]]


@pytest.mark.parametrize("text", [t for t in HOSTILE if not t.startswith(("#", " "))])
def test_escaped_text_in_a_paragraph_renders_literally(text: str) -> None:
    # (escape_text is used in table cells and after other text, never to start a line)
    rendered = GFM.render(escape_text(text))
    body = html.unescape(re.sub(r"^<p>|</p>\n$", "", rendered))
    assert body == text.replace("\n", " ")


def test_code_span_fences_with_more_backticks_than_the_value_holds() -> None:
    assert code_span("a") == "`a`"
    assert code_span("a`b") == "``a`b``"
    assert code_span("a``b`c") == "```a``b`c```"
    assert code_span("`x") == "`` `x ``"
    assert code_span("a|b") == "`a|b`"
    assert code_span("a|b", in_table=True) == "`a\\|b`"
    assert code_span("") == "` `"


def test_escape_text_escapes_markdown_punctuation_and_joins_lines() -> None:
    assert escape_text("a|b") == "a\\|b"
    assert escape_text("`x`") == "\\`x\\`"
    assert escape_text("<b> & *i* _u_ [l] ~s~ \\") == (
        "\\<b\\> \\& \\*i\\* \\_u\\_ \\[l\\] \\~s\\~ \\\\"
    )
    assert escape_text("one\ntwo\r\nthree") == "one two three"
    assert escape_text("the manifest differs (config)") == "the manifest differs (config)"


def test_values_are_json_in_code_spans() -> None:
    assert value_cell("models:/churn/3") == '`"models:/churn/3"`'
    assert value_cell(2) == "`2`"
    assert value_cell(None) == "`null`"
    assert value_cell({"b": 1, "a": "x|y"}) == '`{"a": "x\\|y", "b": 1}`'


def hostile_plan() -> Plan:
    diff = tuple(FieldChange(f"config.k{i}", text, text + "!") for i, text in enumerate(HOSTILE))
    change = ResourceChange(
        target="t",
        name="n",
        target_uri="local:/x",
        action=Action.UPDATE,
        reason="because | `x` <b>",
        action_reason=ActionReason.UPDATE_BECAUSE_MANIFEST_CHANGED,
        diff=diff,
    )
    return Plan(environment="dev", changes=(change,))


def test_a_hostile_plan_renders_to_tables_whose_cells_are_the_json_values() -> None:
    import json

    rows = cells(plan_markdown(hostile_plan()))
    assert rows[0] == ["t/n", ACTION_LABELS["update"], "because | `x` <b>"]
    field_rows = rows[1:]
    assert len(field_rows) == len(HOSTILE)
    for row, text in zip(field_rows, HOSTILE, strict=True):
        assert len(row) == 3
        assert json.loads(row[1]) == text
        assert json.loads(row[2]) == text + "!"


def test_the_details_summary_names_the_address_and_action() -> None:
    text = plan_markdown(hostile_plan())
    assert "<details><summary>t/n (update)</summary>" in text
    assert "\n</details>\n" in text


def test_no_changes_says_so_and_has_no_table() -> None:
    text = plan_markdown(Plan(environment="dev", changes=()))
    assert "No changes." in text
    assert "| Address |" not in text
    assert "<details>" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
