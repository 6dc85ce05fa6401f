"""The quarantine-rate check on a passing and a failing input."""

from ingest.engine import ingest_channel
from ingest.reconcile import loaded_rows
from ingest.spec import load_specs
from orchestration.defs.quality import quarantine_rate_is_low
from tests.ingest.test_engine import POS_ROWS, pos_file, write


def test_quarantine_rate_passes_on_clean_files_and_warns_on_bad_ones(data_dir):
    spec = load_specs()["pos"]
    write(data_dir.landing / "pos" / "pos_ST-SH-01_20250301.csv", pos_file(POS_ROWS))
    ingest_channel(spec, data_dir)
    assert loaded_rows(data_dir) == 3
    clean = quarantine_rate_is_low()
    assert clean.passed and clean.metadata["quarantined_rows"].value == 0

    write(data_dir.landing / "pos" / "pos_ST-SH-01_20250302.csv", pos_file([POS_ROWS[0]] * 2))
    ingest_channel(spec, data_dir)
    assert loaded_rows(data_dir) == 5
    bad = quarantine_rate_is_low()
    assert not bad.passed
    assert bad.metadata["quarantined_rows"].value == 1
    assert bad.metadata["rate"].value == 1 / 5


def test_returned_units_never_exceed_sold_units_check_passes_and_fails(data_dir):
    import duckdb

    from orchestration.defs.quality import returns_never_exceed_sold_units

    con = duckdb.connect(str(data_dir.warehouse))
    con.execute(
        """create schema marts; create table marts.fct_order_lines as select * from (values
        ('tmall', 'T1', '1', 2, 2, 'a.csv'), ('tmall', 'T1', '2', 1, 0, 'a.csv'),
        ('wechat', 'W9', '1', 3, 1, 'b.json')) as t(channel, order_id, line_id, quantity,
        returned_units, source_file)"""
    )
    con.close()
    good = returns_never_exceed_sold_units()
    assert good.passed and good.metadata["over_returned_lines"].value == 0

    con = duckdb.connect(str(data_dir.warehouse))
    con.execute("update marts.fct_order_lines set returned_units = 4 where order_id = 'W9'")
    con.close()
    bad = returns_never_exceed_sold_units()
    assert not bad.passed and bad.severity.value == "ERROR"
    assert bad.metadata["over_returned_lines"].value == 1
    (line,) = bad.metadata["first"].value
    assert line == {
        "channel": "wechat",
        "order_id": "W9",
        "line_id": "1",
        "sold": 3,
        "returned": 4,
        "source_file": "b.json",
    }
