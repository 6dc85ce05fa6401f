"""One writer at a time: an advisory file lock beside what it guards.

``exclusive(lock_file, purpose, wait=...)`` holds an ``flock`` on ``lock_file`` for the
``with`` block; a second process asking for it waits up to ``wait`` seconds and then raises
``Busy`` naming the holder (pid, purpose, since when), never touching what the lock guards.
The operating system releases the lock when its holder exits, even on SIGKILL, so a crashed
run never leaves a stale lock behind. Within one process the lock is re-entrant.

Used for the warehouse (``DataPaths.warehouse_lock``: one materialisation at a time) and for
each channel's lake manifest (one ingest of a channel at a time).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_held: dict[str, int] = {}  # lock file -> depth, for this process
_guard = threading.Lock()


class Busy(RuntimeError):
    """Another process holds the lock."""

    def __init__(self, lock_file: Path, holder: dict, waited: float):
        self.lock_file, self.holder, self.waited = lock_file, holder, waited
        who = (
            f"pid {holder.get('pid')} ({holder.get('purpose')}, since {holder.get('since')} UTC)"
            if holder
            else "another process"
        )
        super().__init__(
            f"{lock_file} is held by {who}; waited {waited:.0f} s. Only one writer at a time: "
            "wait for it to finish (or give a longer wait) and run again. Nothing was changed."
        )

    def __reduce__(self):  # crosses process pools (ingest_all) intact
        return Busy, (self.lock_file, self.holder, self.waited)


def holder(lock_file: Path) -> dict:
    """What the current holder wrote into the lock file (empty when unknown)."""
    try:
        return json.loads(Path(lock_file).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


@contextmanager
def exclusive(lock_file: Path, purpose: str, wait: float = 0.0, poll: float = 0.2) -> Iterator:
    """Hold ``lock_file`` exclusively for the block; see the module docstring."""
    lock_file = Path(lock_file)
    key = str(lock_file.resolve())
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentrant = True
        else:
            reentrant = False
    if reentrant:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    t0 = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - t0
                if waited >= wait:
                    raise Busy(lock_file, holder(lock_file), waited) from None
                time.sleep(min(poll, max(wait - waited, 0.01)))
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        note = {"pid": os.getpid(), "purpose": purpose, "since": since, "argv": sys.argv[:3]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(note).encode("utf-8"), 0)
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock
