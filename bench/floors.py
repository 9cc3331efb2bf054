"""The floors the benchmark compares deployctl with: the least work a command could do.

Run as a script in a fresh interpreter, exactly as deployctl runs (so both pay the interpreter's
start), by the harness (``bench.run``); it imports nothing from deployctl or from the harness:

- ``read MANIFEST STATE TARGETS_DIR``, the bare read: PyYAML's C loader on the manifest,
  ``json.loads`` of the state file, and each target's record files listed and read once
  (``TARGETS_DIR/*/deployments/*.json``, parsed with ``json.loads``): what a no-op plan must read.
- ``write DIR COUNT BATCHES``, the file-write floor: ``COUNT`` record files created, written and
  renamed into place in ``BATCHES`` directories, with one ``fsync`` per batch (of its directory,
  after its renames), records shaped as the ``local`` target writes them: what an apply of
  ``COUNT`` creates on that target must write.

Each prints what it did as one JSON line, for the harness to check that it did it all.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def bare_read(manifest: Path, state: Path, targets_dir: Path) -> dict[str, int]:
    import yaml

    with open(manifest, "rb") as f:
        document = yaml.load(f.read(), Loader=yaml.CSafeLoader)
    with open(state, "rb") as f:
        recorded = json.loads(f.read())
    records = 0
    for target in sorted(os.scandir(targets_dir), key=lambda e: e.name):
        directory = os.path.join(target.path, "deployments")
        for entry in os.scandir(directory):
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                with open(entry.path, "rb") as f:
                    json.loads(f.read())
                records += 1
    desired = sum(len(t.get("deployments") or {}) for t in document["targets"].values())
    state_records = len(recorded.get("deployments", ()))
    return {"desired": desired, "state_records": state_records, "live": records}


def write_floor(directory: Path, count: int, batches: int) -> dict[str, int]:
    written = 0
    for batch in range(batches):
        batch_dir = directory / f"t{batch:02d}" / "deployments"
        batch_dir.mkdir(parents=True)
        for i in range(batch, count, batches):
            name = f"model-{i:06d}"
            record = {
                "name": name,
                "model_uri": f"models:/{name}/3",
                "flavor": "python_function",
                "config": {
                    "workers": 1,
                    "memory_mb": 512,
                    "timeout_s": 30,
                    "region": "eu-west-1",
                    "gpu": False,
                },
                "status": "ready",
                "created_at": "2025-01-31T12:00:00.000000Z",
                "updated_at": "2025-01-31T12:00:00.000000Z",
                "revision": 1,
            }
            temp = batch_dir / f".{name}.json.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, json.dumps(record, indent=2, sort_keys=True).encode())
            finally:
                os.close(fd)
            os.rename(temp, batch_dir / f"{name}.json")
            written += 1
        dir_fd = os.open(batch_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return {"written": written, "fsyncs": batches}


def main(argv: list[str]) -> int:
    if argv[:1] == ["read"] and len(argv) == 4:
        done = bare_read(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    elif argv[:1] == ["write"] and len(argv) == 4:
        done = write_floor(Path(argv[1]), int(argv[2]), int(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(done))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
