import dagster as dg

from orchestration.defs.automation import landing_files_sensor


def test_sensor_fires_on_new_and_changed_files_only(data_dir):
    ctx = dg.build_sensor_context()
    assert isinstance(landing_files_sensor(ctx), dg.SkipReason)  # nothing landed yet
    f = data_dir.landing / "pos" / "pos_ST-SH-01_20250301.csv"
    f.parent.mkdir(parents=True)
    f.write_text("门店编号\n")
    first = landing_files_sensor(ctx)
    assert isinstance(first, dg.RunRequest)
    ctx = dg.build_sensor_context(cursor=first.run_key)
    assert isinstance(landing_files_sensor(ctx), dg.SkipReason)  # nothing new
    f.write_text("门店编号,销售日期\n")  # changed content and size
    second = landing_files_sensor(ctx)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key
