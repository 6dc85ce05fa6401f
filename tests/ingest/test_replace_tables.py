"""``ingest.config.replace_tables``, the one way the Python assets write warehouse tables."""

import numpy as np
import polars as pl

from ingest.config import connect, replace_tables


def _frame(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    return pl.DataFrame(
        {
            "id": [f"s{int(i)}|L{int(i) % 7}" for i in rng.integers(0, 10**6, n)],
            "ds": pl.Series(rng.integers(18_000, 18_400, n)).cast(pl.Date),
            "y": rng.normal(size=n),
            "flag": rng.integers(0, 2, n).astype(bool),
        }
    )


class _Recorder:
    """A connection that records the SQL it runs (a DuckDB connection takes no attributes)."""

    def __init__(self, con):
        self.con, self.sql = con, []

    def execute(self, sql, *args):
        self.sql.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


def test_a_table_is_the_frame_row_for_row_written_on_one_thread(tmp_path):
    frame = _frame(300_000)
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("set threads = 2")
        rec = _Recorder(con)
        assert replace_tables(rec, "s", {"t": frame, "u": frame.head(5)}) == {"t": 300_000, "u": 5}
        # the tables are the frames, in their order
        assert con.sql("select * from s.t").pl().equals(frame)
        assert con.sql("select * from s.u").pl().equals(frame.head(5))
        # written on one thread, the connection's own setting put back
        creates = [i for i, q in enumerate(rec.sql) if q.startswith("create or replace")]
        one = rec.sql.index("set threads = 1")
        assert one < creates[0] and rec.sql[-1] == "set threads = 2"
        assert con.execute("select current_setting('threads')").fetchone()[0] == 2
        # replaced, inside a transaction too
        con.execute("begin transaction")
        replace_tables(con, "s", {"t": frame.head(3)})
        con.execute("commit")
        assert con.sql("select count(*) from s.t").fetchone()[0] == 3


def test_a_failed_write_puts_the_thread_setting_back(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("set threads = 2")
        bad = pl.DataFrame({"a": [1]})
        try:
            replace_tables(con, "s", {"no such; name": bad})
        except Exception:
            pass
        else:
            raise AssertionError("a bad table name must fail")
        assert con.execute("select current_setting('threads')").fetchone()[0] == 2
