"""S3StateBackend against a real (moto) S3 server: documents, history, CAS, journal, lease lock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deployctl.errors import LockError, StaleStateError, StateError
from deployctl.model.state import StateDocument, utc_now
from deployctl.state.history import HistoryEntry
from deployctl.state.local import serialize_document
from deployctl.state.s3 import S3StateBackend

from .helpers import make_record
from .s3_server import (  # noqa: F401  (fixtures)
    FaultyProxy,
    S3Server,
    faulty_proxy_fixture,
    free_port,
    object_keys,
    point_aws_at,
    require_s3_tools,
    s3_bucket_fixture,
    s3_server_fixture,
    s3_url_fixture,
)

SHORT_LEASE = 1.0


def backend(url: str, warnings: list[str] | None = None, **kwargs: float) -> S3StateBackend:
    on_warning = warnings.append if warnings is not None else None
    return S3StateBackend(url, "dev", on_warning=on_warning, **kwargs)


def commit_records(url: str, *names: str) -> StateDocument:
    with backend(url).lock(operation="apply") as session:
        for name in names:
            session.record(make_record(name))
    return backend(url).read()


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


# -- the server ----------------------------------------------------------------------------


def test_the_server_enforces_conditional_writes(s3_server: S3Server, s3_bucket: str) -> None:
    from botocore.exceptions import ClientError

    client = s3_server.client()
    first = client.put_object(Bucket=s3_bucket, Key="k", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"2", IfNoneMatch="*")
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"3", IfMatch=first)
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=s3_bucket, Key="k", Body=b"4", IfMatch=first)
    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.delete_object(Bucket=s3_bucket, Key="k", IfMatch=first)
    assert client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"3"


# -- reading and writing -------------------------------------------------------------------


def test_a_state_never_written_reads_as_empty(s3_url: str) -> None:
    state = backend(s3_url)

    assert state.read() == StateDocument.empty("dev")
    assert state.history() == []
    assert state.lock_info() is None


def test_records_round_trip_through_the_bucket(
    s3_server: S3Server, s3_bucket: str, s3_url: str
) -> None:
    records = [make_record("churn", live=True), make_record("fraud", 2)]
    with backend(s3_url).lock(operation="apply") as session:
        for record in records:
            session.record(record)
        written = session.commit()

    read = backend(s3_url).read()
    assert read == written
    assert dict(read.records) == {r.address: r for r in records}
    body = s3_server.client().get_object(Bucket=s3_bucket, Key="states/dev.json")["Body"].read()
    assert body == serialize_document(written)  # the same JSON as a local state file
    assert object_keys(s3_server, s3_bucket) == [
        "states/dev.json",
        "states/history/dev/0000000001.json",
    ]


def test_describe_names_the_bucket_and_the_key() -> None:
    assert S3StateBackend("s3://bkt/team/a/", "prod").describe() == "s3://bkt/team/a/prod.json"
    assert S3StateBackend("s3://bkt/team/a", "prod").describe() == "s3://bkt/team/a/prod.json"
    assert S3StateBackend("s3://bkt", "prod").describe() == "s3://bkt/prod.json"


@pytest.mark.parametrize("url", ["gs://bkt/p/", "s3:///p/", "s3://key:secret@bkt/p/", "bkt/p"])
def test_a_url_that_is_not_s3_bucket_prefix_is_refused(url: str) -> None:
    with pytest.raises(StateError, match="invalid S3 state URL"):
        S3StateBackend(url, "dev")


def test_every_commit_bumps_the_serial_and_keeps_the_lineage(s3_url: str) -> None:
    first = commit_records(s3_url, "churn")
    second = commit_records(s3_url, "fraud")

    assert (first.serial, second.serial) == (1, 2)
    assert first.lineage is not None and uuid.UUID(first.lineage).version == 4
    assert second.lineage == first.lineage
    assert set(second.records) == {"local/churn", "local/fraud"}


def test_a_commit_without_changes_writes_nothing(s3_url: str) -> None:
    commit_records(s3_url, "churn")
    with backend(s3_url).lock(operation="apply") as session:
        assert session.commit().serial == 1
        session.forget("local/not-there")

    assert backend(s3_url).read().serial == 1
    assert [e.serial for e in backend(s3_url).history()] == [1]


def test_leaving_the_session_with_an_exception_commits_what_was_recorded(s3_url: str) -> None:
    with pytest.raises(RuntimeError), backend(s3_url).lock(operation="apply") as session:
        session.record(make_record("churn"))
        raise RuntimeError("the apply failed half way")

    assert set(backend(s3_url).read().records) == {"local/churn"}
    assert backend(s3_url).lock_info() is None


def test_replace_writes_a_whole_document_above_both_serials(s3_url: str) -> None:
    current = commit_records(s3_url, "churn", "fraud")
    with backend(s3_url).lock(operation="state push") as session:
        written = session.replace(StateDocument(lineage=None, serial=9, environment="dev"))

    assert (written.serial, written.lineage, dict(written.records)) == (10, current.lineage, {})
    assert backend(s3_url).read() == written


# -- history -------------------------------------------------------------------------------


def test_history_keeps_every_committed_version_with_its_entry(s3_url: str) -> None:
    commit_records(s3_url, "churn")
    commit_records(s3_url, "churn", "fraud")
    with backend(s3_url).lock(operation="state rm") as session:
        session.replace(session.document.without("local/churn"))

    history = backend(s3_url).history()
    assert [(e.serial, e.command, e.summary) for e in history] == [
        (1, "apply", "+1 ~0 -0"),
        (2, "apply", "+1 ~0 -0"),
        (3, "state rm", "+0 ~0 -1"),
    ]
    assert {(e.host, e.who) for e in history} == {(socket.gethostname(), history[0].who)}
    assert set(backend(s3_url).read_version(1).records) == {"local/churn"}
    assert set(backend(s3_url).read_version(2).records) == {"local/churn", "local/fraud"}
    assert backend(s3_url).read_version(3) == backend(s3_url).read()


@pytest.mark.parametrize("serial", [0, 2])
def test_a_serial_that_is_not_kept_is_a_state_error(s3_url: str, serial: int) -> None:
    commit_records(s3_url, "churn")

    with pytest.raises(StateError, match=f"serial {serial} is not kept in s3://"):
        backend(s3_url).read_version(serial)


# -- compare-and-swap ----------------------------------------------------------------------


def _entry(serial: int, command: str) -> HistoryEntry:
    return HistoryEntry(serial, utc_now(), "tester", "here", command, "+1 ~0 -0")


def test_conditional_write_rejects_a_stale_writer(s3_url: str) -> None:
    commit_records(s3_url, "churn")
    # Two writers that read the same version (the lock is bypassed to reach the CAS itself).
    first, second = backend(s3_url), backend(s3_url)
    base_a, _ = first.snapshot()
    base_b, _ = second.snapshot()
    doc_a = StateDocument(
        base_a.document.lineage, 2, "dev", base_a.document.with_record(make_record("a")).records
    )
    doc_b = StateDocument(
        base_b.document.lineage, 2, "dev", base_b.document.with_record(make_record("b")).records
    )

    first.commit_version(base_a, doc_a, _entry(2, "first"))
    with pytest.raises(StaleStateError, match=r"changed since this run read it at serial 1") as exc:
        second.commit_version(base_b, doc_b, _entry(2, "second"))

    assert "s3://" in str(exc.value) and "deployctl plan" in str(exc.value)
    assert backend(s3_url).read() == doc_a
    assert backend(s3_url).read_version(2) == doc_a
    assert [e.command for e in backend(s3_url).history()] == ["apply", "first"]


def test_a_writer_that_ignores_the_lock_makes_the_commit_stale(
    s3_server: S3Server, s3_bucket: str, s3_url: str
) -> None:
    current = commit_records(s3_url, "churn")
    session = backend(s3_url).lock(operation="apply")
    session.record(make_record("fraud"))
    intruder = StateDocument(current.lineage, 2, "dev", {})
    s3_server.client().put_object(
        Bucket=s3_bucket, Key="states/dev.json", Body=serialize_document(intruder)
    )

    with pytest.raises(StaleStateError, match="it is now at serial 2"):
        session.commit()
    with pytest.raises(StaleStateError):
        session.close()

    assert backend(s3_url).read() == intruder
    assert "states/history/dev/0000000002.json" not in object_keys(s3_server, s3_bucket)
    assert backend(s3_url).lock_info() is None


def test_a_history_object_left_by_a_failed_commit_is_replaced(
    s3_server: S3Server, s3_bucket: str, s3_url: str
) -> None:
    current = commit_records(s3_url, "churn")
    leftover = StateDocument(current.lineage, 2, "dev", {})
    s3_server.client().put_object(
        Bucket=s3_bucket,
        Key="states/history/dev/0000000002.json",
        Body=serialize_document(leftover),
    )
    assert [e.serial for e in backend(s3_url).history()] == [1]  # never committed: not listed

    written = commit_records(s3_url, "fraud")

    assert backend(s3_url).read_version(2) == written
    assert [(e.serial, e.command) for e in backend(s3_url).history()] == [
        (1, "apply"),
        (2, "apply"),
    ]


# -- the journal ---------------------------------------------------------------------------


def test_journal_survives_an_abandoned_session(
    s3_server: S3Server, s3_bucket: str, s3_url: str
) -> None:
    commit_records(s3_url, "churn")
    abandoned = backend(s3_url).lock(operation="apply")
    abandoned.record(make_record("fraud"))
    abandoned.forget("local/churn")
    abandoned.lease.stop()  # and never committed: a crash
    journal = [k for k in object_keys(s3_server, s3_bucket) if ".journal/" in k]
    assert len(journal) == 2 and all(
        k.startswith("states/dev.journal/0000000001/") and abandoned.lock_info.id in k
        for k in journal
    )

    read = backend(s3_url).read()
    assert (read.serial, set(read.records)) == (2, {"local/fraud"})

    backend(s3_url).force_unlock(abandoned.lock_info.id)
    with backend(s3_url).lock(operation="plan") as session:
        assert session.document == read  # folded by the next lock, with the serial read showed
    assert backend(s3_url).read() == read
    assert backend(s3_url).history()[-1].command == "apply (recovered from its journal)"
    assert not [k for k in object_keys(s3_server, s3_bucket) if ".journal/" in k]


# -- the lock ------------------------------------------------------------------------------


def test_a_second_lock_waits_then_names_the_holder(s3_url: str) -> None:
    holder = backend(s3_url).lock(operation="apply")
    assert holder.lock_info.path == backend(s3_url).describe()
    started = time.monotonic()
    with pytest.raises(LockError) as exc:
        backend(s3_url).lock(operation="plan", timeout=0.5)
    waited = time.monotonic() - started
    holder.close()

    assert 0.5 <= waited < 3
    message = str(exc.value)
    assert "\n" not in message
    assert holder.lock_info.describe() in message
    assert "its lease expires at" in message
    assert f"deployctl force-unlock {holder.lock_info.id}" in message


def test_a_waiting_lock_gets_it_once_the_holder_releases(s3_url: str) -> None:
    holder = backend(s3_url).lock(operation="apply")
    threading.Timer(0.3, holder.close).start()

    with backend(s3_url).lock(operation="apply", timeout=5) as session:
        assert session.lock_info.id != holder.lock_info.id


def test_the_lease_is_renewed_while_the_holder_lives(s3_url: str) -> None:
    holder = backend(s3_url, lease_seconds=SHORT_LEASE).lock(operation="apply")

    with pytest.raises(LockError):
        backend(s3_url).lock(operation="plan", timeout=1.5 * SHORT_LEASE)
    holder.record(make_record("churn"))
    holder.close()
    assert set(backend(s3_url).read().records) == {"local/churn"}


def test_an_expired_lease_is_taken_over_with_a_warning(s3_url: str) -> None:
    holder = backend(s3_url, lease_seconds=SHORT_LEASE).lock(operation="apply")
    holder.record(make_record("churn"))
    holder.lease.stop()  # it hangs: no more renewals
    warnings: list[str] = []

    started = time.monotonic()
    with backend(s3_url, warnings).lock(operation="plan", timeout=10) as session:
        assert set(session.document.records) == {"local/churn"}  # its journal is folded in
    assert time.monotonic() - started < 4 * SHORT_LEASE

    taken_over, folded = warnings
    assert taken_over.startswith(
        f"took over the state lock of apply (pid {os.getpid()} on host {socket.gethostname()}"
    )
    assert "lease" in taken_over and "\n" not in taken_over
    assert folded.startswith("folded 1 change(s) journaled by an interrupted run of apply")


def test_a_session_whose_lock_was_taken_over_refuses_to_write(s3_url: str) -> None:
    loser = backend(s3_url, lease_seconds=SHORT_LEASE).lock(operation="apply")
    loser.record(make_record("churn"))
    backend(s3_url).force_unlock()
    winner = backend(s3_url).lock(operation="apply")

    with pytest.raises(LockError, match="lost the lock"):
        loser.commit()  # a commit always proves the lease first
    time.sleep(SHORT_LEASE / 2)  # one renewal tick: the thread notices as well
    with pytest.raises(LockError, match=winner.lock_info.id):
        loser.record(make_record("fraud"))
    with pytest.raises(LockError):
        loser.close()

    winner.record(make_record("other"))
    winner.close()
    assert set(backend(s3_url).read().records) == {"local/churn", "local/other"}
    assert backend(s3_url).lock_info() is None


def _write_lock(server: S3Server, bucket: str, *, host: str, pid: int) -> None:
    body = {
        "id": "old-lock",
        "operation": "apply",
        "who": "someone",
        "host": host,
        "pid": pid,
        "created": "2025-01-31T12:00:00.000000Z",
        "path": "whatever",
        "lease_seconds": 3600,
        "lease_expires": "2999-01-01T00:00:00.000000Z",
    }
    server.client().put_object(Bucket=bucket, Key="states/dev.lock", Body=json.dumps(body))


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(
    s3_server: S3Server, s3_bucket: str, s3_url: str
) -> None:
    pid = dead_pid()
    _write_lock(s3_server, s3_bucket, host=socket.gethostname(), pid=pid)
    warnings: list[str] = []

    with backend(s3_url, warnings).lock(operation="apply", timeout=0):
        pass

    assert warnings == [
        f"took over the state lock of apply (pid {pid} on host {socket.gethostname()}, user "
        f"someone) on s3://{s3_bucket}/states/dev.json: process {pid} no longer runs on this host"
    ]


def test_a_live_lock_of_another_host_is_not_taken_over(
    s3_server: S3Server, s3_bucket: str, s3_url: str
) -> None:
    _write_lock(s3_server, s3_bucket, host="elsewhere", pid=dead_pid())

    with pytest.raises(LockError, match=r"on host elsewhere.*lock id old-lock"):
        backend(s3_url).lock(operation="apply", timeout=0)


def test_force_unlock_removes_only_the_lock_named(s3_url: str) -> None:
    holder = backend(s3_url).lock(operation="apply")

    with pytest.raises(LockError, match="not locked with id wrong"):
        backend(s3_url).force_unlock("wrong")
    assert backend(s3_url).force_unlock(holder.lock_info.id) == holder.lock_info
    assert backend(s3_url).lock_info() is None
    holder.lease.stop()


# -- failures ------------------------------------------------------------------------------


def test_an_unreachable_endpoint_is_a_one_line_state_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require_s3_tools(server=False)
    point_aws_at(f"http://127.0.0.1:{free_port()}", monkeypatch, tmp_path)

    started = time.monotonic()
    with pytest.raises(StateError) as exc:
        S3StateBackend("s3://bkt/p/", "dev").read()

    assert time.monotonic() - started < 5
    message = str(exc.value)
    assert "\n" not in message
    assert "s3://bkt/p/dev.json" in message and "bucket bkt" in message
    assert "3 attempts" in message


class _FailingS3(BaseHTTPRequestHandler):
    status = 503
    code = "ServiceUnavailable"
    requests: list[str]

    def _answer(self) -> None:
        self.requests.append(self.command)
        body = f"<Error><Code>{self.code}</Code><Message>nope</Message></Error>".encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[_FailingS3]]:
    require_s3_tools(server=False)
    handler = type("Handler", (_FailingS3,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    point_aws_at(f"http://127.0.0.1:{server.server_address[1]}", monkeypatch, tmp_path)
    yield handler
    server.shutdown()
    server.server_close()


def test_server_errors_are_retried_three_times_then_reported(
    failing_s3: type[_FailingS3],
) -> None:
    with pytest.raises(StateError, match=r"503 ServiceUnavailable.*3 attempts") as exc:
        S3StateBackend("s3://bkt/p/", "dev").read()

    assert len(failing_s3.requests) == 3
    assert "\n" not in str(exc.value) and "s3://bkt/p/dev.json" in str(exc.value)


def test_access_denied_is_reported_at_once_with_a_hint(failing_s3: type[_FailingS3]) -> None:
    failing_s3.status, failing_s3.code = 403, "AccessDenied"

    with pytest.raises(StateError, match=r"access denied.*check the AWS credentials"):
        S3StateBackend("s3://bkt/p/", "dev").read()
    assert len(failing_s3.requests) == 1


def test_a_missing_bucket_is_reported_at_once_with_a_hint(s3_bucket: str) -> None:
    with pytest.raises(StateError, match=r"bucket no-such-bucket-x does not exist.*create the"):
        S3StateBackend("s3://no-such-bucket-x/p/", "dev").lock(operation="apply")


def test_without_boto3_the_backend_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)

    with pytest.raises(StateError, match=r"needs boto3.*pip install 'deployctl\[s3\]'"):
        S3StateBackend("s3://bkt/p/", "dev").read()


def test_a_commit_whose_answer_was_lost_is_recognised_when_retried(
    faulty_proxy: FaultyProxy, s3_bucket: str, s3_url: str
) -> None:
    faulty_proxy.fail("PUT", f"/{s3_bucket}/states/dev.json", ["lose"])

    with backend(s3_url).lock(operation="apply") as session:
        session.record(make_record("churn"))

    assert faulty_proxy.pending_faults == 0  # the first write landed, its answer was lost
    assert backend(s3_url).read().serial == 1  # and the retry knew it as its own


def test_changes_after_an_uncertain_commit_extend_the_serial_really_written(
    s3_server: S3Server, faulty_proxy: FaultyProxy, s3_bucket: str, s3_url: str
) -> None:
    session = backend(s3_url).lock(operation="apply")
    session.record(make_record("churn"))
    faulty_proxy.fail("PUT", f"/{s3_bucket}/states/dev.json", ["lose", "refuse", "refuse"])

    with pytest.raises(StateError, match="whether serial 1 was written is not known"):
        session.commit()
    session.record(make_record("fraud"))
    journal = [k for k in object_keys(s3_server, s3_bucket) if ".journal/" in k]
    # churn's object extends serial 0 (stale now), fraud's the serial that was really written
    assert [k.split("/")[2] for k in journal] == ["0000000000", "0000000001"]
    session.close()

    read = backend(s3_url).read()
    assert (read.serial, set(read.records)) == (2, {"local/churn", "local/fraud"})
    assert [e.serial for e in backend(s3_url).history()] == [1, 2]
    assert not [k for k in object_keys(s3_server, s3_bucket) if ".journal/" in k]


def test_an_uncertain_commit_that_was_written_is_not_written_again(
    faulty_proxy: FaultyProxy, s3_bucket: str, s3_url: str
) -> None:
    session = backend(s3_url).lock(operation="apply")
    session.record(make_record("churn"))
    faulty_proxy.fail("PUT", f"/{s3_bucket}/states/dev.json", ["lose", "refuse", "refuse"])
    with pytest.raises(StateError, match="is not known"):
        session.commit()

    faulty_proxy.fail("PUT", f"/{s3_bucket}/states/dev.json", ["refuse"])  # any write fails

    session.close()  # settles: serial 1 is there with everything, nothing more to write

    assert faulty_proxy.pending_faults == 1
    assert set(backend(s3_url).read().records) == {"local/churn"}
    assert [e.serial for e in backend(s3_url).history()] == [1]
