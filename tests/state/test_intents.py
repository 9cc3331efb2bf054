"""Intents in every backend: journaled in O(1), closed by their outcome, never lost by a fold.

An intent is the entry the executor writes before a mutating call (``model.intent``); these tests
drive the ``StateSession`` protocol directly, against the local file, a real PostgreSQL server and
a real (moto) S3 server, and leave a session behind as a crashed run would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deployctl.model import DeploymentSpec
from deployctl.model.intent import Intent
from deployctl.model.state import StateDocument
from deployctl.state.journal import JournalEntry
from deployctl.state.local import LocalStateBackend
from deployctl.state.protocol import StateBackend, StateSession
from deployctl.state.schema import check_document

from .helpers import make_record, run_python
from .pg_server import pg_server_fixture, pg_url_fixture  # noqa: F401  (fixtures)
from .s3_server import s3_bucket_fixture, s3_server_fixture, s3_url_fixture  # noqa: F401


def intent(name: str, action: str = "create", version: int = 1) -> Intent:
    spec = DeploymentSpec(f"models:/{name}/{version}", "python_function", {"workers": 2})
    return Intent(
        target="local",
        name=name,
        target_uri="local:/srv/models",
        action=action,
        desired=None if action == "delete" else spec,
        before=None if action == "create" else make_record(name).applied,
        started_at="2025-01-31T12:00:00.000000Z",
    )


@dataclass
class Backends:
    """Makes backends of one kind, and abandons a session the way a crash of its kind does."""

    make: Callable[[], StateBackend]
    abandon: Callable[[StateSession], None]


def _local(tmp_path: Path) -> Backends:
    path = tmp_path / "state" / "dev.json"

    def abandon(session: StateSession) -> None:
        raise NotImplementedError  # a local crash needs another process: see run_crashed_local

    return Backends(lambda: LocalStateBackend(path, environment="dev"), abandon)


def _postgres(url: str) -> Backends:
    from deployctl.state.postgres import PostgresStateBackend

    from .test_postgres_backend import drop_deployctl_connections

    return Backends(
        lambda: PostgresStateBackend(url, "dev"), lambda _: drop_deployctl_connections(url)
    )


def _s3(url: str) -> Backends:
    from deployctl.state.s3 import S3StateBackend
    from deployctl.state.s3_session import S3StateSession

    def abandon(session: StateSession) -> None:
        assert isinstance(session, S3StateSession)
        session.lease.stop()  # never committed, never released: a crash
        S3StateBackend(url, "dev").force_unlock(session.lock_info.id)

    return Backends(lambda: S3StateBackend(url, "dev"), abandon)


@pytest.fixture(params=["local", "postgres", "s3"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backends]:
    if request.param == "local":
        yield _local(tmp_path)
    elif request.param == "postgres":
        yield _postgres(request.getfixturevalue("pg_url"))
    else:
        yield _s3(request.getfixturevalue("s3_url"))


def test_an_intent_is_open_until_its_outcome_is_recorded(backends: Backends) -> None:
    backend = backends.make()
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
    with backend.lock(operation="apply") as session:
        session.intend(intent("fraud"))
        session.intend(intent("churn", "delete"))
        session.intend(intent("other"))
        assert sorted(session.document.intents) == ["local/churn", "local/fraud", "local/other"]
        # A read without the lock sees them too (the journal folded in).
        assert sorted(backends.make().read().intents) == sorted(session.document.intents)
        session.record(make_record("fraud"))  # the create's outcome closes its intent
        session.forget("local/churn")  # so does the delete's
        session.resolve("local/other")  # the call changed nothing
        session.resolve("local/nothing")  # no intent: a no-op
        assert session.document.intents == {}
    stored = backend.read()
    assert stored.intents == {}
    assert sorted(stored.records) == ["local/fraud"]


def test_an_intent_still_open_at_commit_is_kept_in_the_document(backends: Backends) -> None:
    backend = backends.make()
    with backend.lock(operation="apply") as session:
        session.intend(intent("fraud"))
    stored = backend.read()
    assert list(stored.intents) == ["local/fraud"]
    assert stored.intents["local/fraud"] == intent("fraud")
    with backend.lock(operation="apply") as session:
        assert list(session.document.intents) == ["local/fraud"]
        session.resolve("local/fraud")
    assert backend.read().intents == {}


def test_open_intents_of_a_crashed_run_survive_the_fold_into_the_document(
    backends: Backends, tmp_path: Path
) -> None:
    backend = backends.make()
    if isinstance(backend, LocalStateBackend):
        run_crashed_local(backend.path)
    else:
        with backend.lock(operation="apply") as session:
            session.record(make_record("churn"))
        crashed = backend.lock(operation="apply")
        crashed.intend(intent("fraud"))
        crashed.record(make_record("fraud"))
        crashed.intend(intent("churn", "update", 2))
        backends.abandon(crashed)

    read = backends.make().read()
    assert sorted(read.records) == ["local/churn", "local/fraud"]
    assert list(read.intents) == ["local/churn"]  # the update never recorded its outcome
    with backends.make().lock(operation="apply") as session:
        # The next run folds the crashed run's journal into the document: the intent stays.
        assert session.document.intents == read.intents
    folded = backends.make().read()
    assert folded.intents == read.intents and folded.serial == read.serial


def run_crashed_local(path: Path) -> None:
    """A process that commits churn, then records fraud and an intent for churn and dies."""
    crashed = run_python(
        f"""
        import os
        from deployctl.model import DeploymentSpec
        from deployctl.model.intent import Intent
        from deployctl.state.local import LocalStateBackend

        backend = LocalStateBackend({str(path)!r}, environment="dev")
        with backend.lock(operation="apply") as session:
            session.record(make_record("churn"))
        session = backend.lock(operation="apply")
        spec = DeploymentSpec("models:/fraud/1", "python_function", {{"workers": 2}})
        session.intend(Intent("local", "fraud", "local:/srv/models", "create", spec, None,
                              "2025-01-31T12:00:00.000000Z"))
        session.record(make_record("fraud"))
        spec = DeploymentSpec("models:/churn/2", "python_function", {{"workers": 2}})
        session.intend(Intent("local", "churn", "local:/srv/models", "update", spec,
                              make_record("churn").applied, "2025-01-31T12:00:00.000000Z"))
        os._exit(9)
        """
    )
    assert crashed.returncode == 9, crashed.stderr


def test_intents_are_journal_lines_and_a_document_key_only_while_open(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    backend = LocalStateBackend(path, environment="dev")
    with backend.lock(operation="apply") as session:
        session.intend(intent("fraud"))
        session.resolve("local/fraud")
        session.intend(intent("churn"))
        lines = [
            json.loads(line) for line in path.with_name("dev.json.journal").read_text().splitlines()
        ]
        assert [line.get("op") for line in lines[1:]] == ["intend", "resolve", "intend"]
        assert lines[1]["intent"] == intent("fraud").to_json()
        assert lines[2] == {"op": "resolve", "address": "local/fraud"}
    data = json.loads(path.read_text())
    assert [i["address"] for i in data["pending_intents"]] == ["local/churn"]
    check_document(data, str(path))  # the schema knows the key
    with backend.lock(operation="apply") as session:
        session.resolve("local/churn")
    assert "pending_intents" not in json.loads(path.read_text())


def test_journal_entries_of_intents_round_trip() -> None:
    for entry in (JournalEntry.intend(intent("fraud")), JournalEntry.resolve("local/fraud")):
        assert JournalEntry.from_json(json.loads(entry.to_line())) == entry


def test_a_document_with_intents_round_trips_through_json() -> None:
    document = StateDocument(
        lineage="6f1c2a52-3c5e-4f1e-9a57-0d3e1c0b8f11",
        serial=3,
        environment="dev",
        records={"local/churn": make_record("churn")},
        intents={"local/churn": intent("churn", "delete"), "local/fraud": intent("fraud")},
    )
    data = document.to_json()
    check_document(json.loads(json.dumps(data)), "state")
    assert StateDocument.from_json(data) == document


def test_a_pending_intent_whose_address_disagrees_is_refused() -> None:
    from deployctl.errors import StateError

    data = {**intent("fraud").to_json(), "address": "local/other"}
    with pytest.raises(StateError, match="its address must be local/fraud"):
        Intent.from_json(data)


def test_recording_an_intent_costs_one_journal_line(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    backend = LocalStateBackend(path, environment="dev")
    with backend.lock(operation="apply") as session:
        for i in range(20):
            session.record(make_record(f"d{i}"))
    with backend.lock(operation="apply") as session:
        before = os.path.getsize(path)
        session.intend(intent("d3", "update", 2))
        assert os.path.getsize(path) == before  # the document is not rewritten
        journal = path.with_name("dev.json.journal").read_text().splitlines()
        assert len(journal) == 2  # the header and the intent
