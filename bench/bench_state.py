"""Benchmark of the local state backend: N records in one locked session, then the commit.

Every record is durable when it returns (one journal line, fsynced), so the figure is bounded by
the disk's fsync rate; ``--threads`` shows how grouped fsyncs scale with parallel workers.

    python bench/bench_state.py --records 10000 [--threads 8] [--dir /path/on/the/real/disk]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord
from deployctl.model.state import StateRecord
from deployctl.state.local import LocalStateBackend


def make_record(i: int) -> StateRecord:
    name = f"model-{i:05d}"
    uri = f"models:/{name}/3"
    return StateRecord(
        target="local",
        name=name,
        target_uri="local:/srv/models",
        applied=DeploymentSpec(model_uri=uri, flavor="python_function", config={"workers": 2}),
        live=LiveRecord(name=name, raw={"name": name, "model_uri": uri}, model_uri=uri),
        applied_at="2025-01-31T12:00:00.000000Z",
    )


def run(directory: Path, records: int, threads: int) -> None:
    backend = LocalStateBackend(directory / "bench.json")
    prepared = [make_record(i) for i in range(records)]
    chunks = [prepared[t::threads] for t in range(threads)]

    started = time.perf_counter()
    with backend.lock(operation="bench") as session:

        def work(chunk: list[StateRecord]) -> None:
            for record in chunk:
                session.record(record)

        workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        recorded = time.perf_counter()
        journal_size = backend.journal_path.stat().st_size
        session.commit()
    finished = time.perf_counter()

    document = backend.read()
    assert len(document.records) == records and document.serial == 1
    size = backend.path.stat().st_size
    record_s, total_s = recorded - started, finished - started
    plural = "s" if threads > 1 else ""
    print(f"records:              {records} ({threads} thread{plural})")
    print(f"record phase:         {record_s:.3f}s ({records / record_s:,.0f} records/s)")
    print(f"commit:               {finished - recorded:.3f}s")
    print(f"total:                {total_s:.3f}s ({records / total_s:,.0f} records/s)")
    print(f"journal before fold:  {journal_size:,} bytes")
    print(f"state file:           {size:,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=10000, metavar="N")
    parser.add_argument("--threads", type=int, default=1, metavar="T")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temporary directory)"
    )
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            run(Path(tmp), args.records, max(1, args.threads))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), args.records, max(1, args.threads))


if __name__ == "__main__":
    main()
