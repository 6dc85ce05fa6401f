"""Dagster's SQLite event log, its database connections kept open: the instance of the runs
``zhongtai materialize`` executes in its process (``instance``).

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine and opens a new SQLite
connection for every write: three per asset check event (the run's database, the index's
insert, its check row), two per materialisation. A new engine compiles every statement again
(SQLAlchemy caches compiled SQL per engine) and queries SQLite's settings (and, per check
event, twice more to ask whether the check table exists); closing the last
connection of a file checkpoints its write-ahead log into the database. A new day stores
~1,600 events (planned checks and materialisations before each run's first step, then the
results of ~250 checks and ~200 models) with ~5,200 connections: the largest cost of the
day outside the assets' own work (bench/README.md, "Incremental").

Here one engine per database file is kept (the most recently used ``MAX_ENGINES``), holding
one connection open between uses. Every event is still written and committed as before, in
the same files and tables (a home written by one class is read by the other); SQLite
checkpoints the write-ahead log as it fills, or when the connection closes (an engine pushed
out, ``dispose``, the end of the process). A forked child builds its own engines. A home
whose dagster.yaml chooses its storage (Postgres: docs/scale.md) keeps it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import dagster._check as check
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

MAX_ENGINES = 16  # database files whose engine is kept: the index and the latest runs


class KeptEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one engine per database file and one open connection per
    engine, kept between uses."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._pid = os.getpid()
        self._tables: set[str] = set()  # tables of the index known to exist
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._pid != os.getpid():  # a forked child: the parent's connections are not its own
            self._engines = OrderedDict()
            self._pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is None:
            # one connection, kept open in the pool (``_db_lock`` lets one use it at a time)
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=0,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            self._engines[shard] = engine
            if len(self._engines) > MAX_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as SqliteEventLogStorage._connect, the engine kept
        with self._db_lock:
            check.str_param(shard, "shard")
            if shard not in self._initialized_dbs:
                # on an engine of its own, as Dagster's: the schema check holds two connections
                init = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                     connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})  # fmt: skip
                self._initdb(init)
                init.dispose()
                self._initialized_dbs.add(shard)
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """As Dagster's (a new engine and connection per call: twice per check event, in
        ``supports_asset_checks``), a table found once remembered: no migration drops one."""
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def upgrade(self) -> None:
        self._tables = set()
        super().upgrade()

    def dispose_engines(self) -> None:
        """Close the kept connections (SQLite checkpoints each file's write-ahead log)."""
        with self._db_lock:
            engines, self._engines = self._engines, OrderedDict()
        if self._pid == os.getpid():
            for engine in engines.values():
                engine.dispose()

    def wipe(self) -> None:
        self.dispose_engines()  # no connection open on a file about to be deleted
        super().wipe()

    def dispose(self) -> None:
        self.dispose_engines()
        super().dispose()


# keys of dagster.yaml that choose where events are stored
_STORAGE_KEYS = frozenset({"storage", "event_log_storage", "instance_class"})


def instance(home: Path) -> dg.DagsterInstance:
    """The Dagster instance of ``home`` (its dagster.yaml, as ``DagsterInstance.get``), its
    events in the default SQLite files (``home/history/runs``) written by
    ``KeptEngineSqliteEventLogStorage``, unless the config chooses a storage."""
    config_file = home / "dagster.yaml"
    config = (yaml.safe_load(config_file.read_text()) if config_file.exists() else None) or {}
    overrides = {}
    if not _STORAGE_KEYS & set(config):
        overrides["event_log_storage"] = {
            "module": __name__,
            "class": KeptEngineSqliteEventLogStorage.__name__,
            "config": {"base_dir": str(home / "history" / "runs")},
        }
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))
