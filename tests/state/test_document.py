"""StateDocument and StateRecord: the format every backend stores."""

from __future__ import annotations

import json

import pytest

from deployctl.errors import StateError
from deployctl.model.state import STATE_FORMAT_VERSION, StateDocument, StateRecord

from .helpers import make_record


def _document() -> StateDocument:
    first = make_record("churn", 3, live=True)
    second = make_record("fraud").superseded_by(
        make_record("fraud", 2).applied, None, "2025-02-01T00:00:00.000000Z", "local:/srv/models"
    )
    return StateDocument(
        lineage="6f1c2a52-3c5e-4f1e-9a57-0d3e1c0b8f11",
        serial=7,
        environment="dev",
        records={first.address: first, second.address: second},
    )


def test_document_round_trips_through_json_text() -> None:
    document = _document()
    text = json.dumps(document.to_json(), indent=2, sort_keys=True)

    assert StateDocument.from_json(json.loads(text)) == document


def test_records_are_written_sorted_by_address() -> None:
    data = _document().to_json()
    deployments = data["deployments"]
    assert isinstance(deployments, list)
    addresses = [d["address"] for d in deployments if isinstance(d, dict)]

    assert addresses == ["local/churn", "local/fraud"]


def test_superseded_record_keeps_the_previous_one_as_history() -> None:
    record = _document().records["local/fraud"]

    assert record.applied.model_uri == "models:/fraud/2"
    assert record.previous is not None
    assert record.previous["model_uri"] == "models:/fraud/1"


def test_empty_document_does_not_exist_yet() -> None:
    empty = StateDocument.empty("dev")

    assert not empty.exists
    assert empty.serial == 0
    assert empty.records == {}


def test_newer_format_version_is_refused_with_upgrade_hint() -> None:
    data = _document().to_json()
    data["format_version"] = STATE_FORMAT_VERSION + 1

    with pytest.raises(StateError, match="newer than this deployctl supports") as err:
        StateDocument.from_json(data, source="state/dev.json")

    assert "state/dev.json" in str(err.value)
    assert "upgrade deployctl" in str(err.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": True}, "no integer 'format_version'"),
        ({"format_version": "1"}, "no integer 'format_version'"),
        ({"serial": True}, "integer 'serial'"),
        ({"lineage": None}, "string 'lineage'"),
        ({"deployments": {}}, "no 'deployments' list"),
        ({"deployments": [1]}, "not an object"),
    ],
)
def test_wrong_shape_is_a_state_error(change: dict[str, object], message: str) -> None:
    data = {**_document().to_json(), **change}

    with pytest.raises(StateError, match=message):
        StateDocument.from_json(data)


def test_malformed_record_is_a_state_error_naming_it() -> None:
    with pytest.raises(StateError, match="'local/x' is malformed"):
        StateRecord.from_json({"address": "local/x", "target": "local"})
