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
