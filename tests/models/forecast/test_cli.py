import polars as pl
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from tests.models.forecast.synthetic import synthetic_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def frame_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "sales.csv"
    synthetic_frame(n_series=6, n_days=70).write_csv(path)
    return path


def test_backtest_prints_the_table_and_writes_recomputable_outputs(frame_path, tmp_path):
    out = tmp_path / "out"
    args = ["forecast", "backtest", "--input", str(frame_path), "--freq", "D", "--horizon", "7"]
    args += ["--exog", "promo", "--folds", "4", "--output", str(out), "--max-iter", "20"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for model in ("hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive", "autoets"):
        assert model in result.output
    fc = pl.read_parquet(out / "forecasts.parquet")
    assert {"unique_id", "ds", "cutoff", "y", "hgb_quantile_p10", "hgb_quantile_p50"} <= set(
        fc.columns
    )
    assert {"seasonal_naive_p50", "autoets_p10", "autoets_p90"} <= set(fc.columns)
    assert fc["cutoff"].n_unique() == 4 and (fc["ds"] > fc["cutoff"]).all()
    assert fc["y"].null_count() == 0  # censored days are not scored
    metrics = pl.read_csv(out / "metrics.csv")
    assert metrics.columns == ["model", "metric", "value"]
    # the WAPE in metrics.csv is the one anyone recomputes from forecasts.parquet
    for model in ("hgb_quantile", "seasonal_naive"):
        wape = metrics.filter((pl.col("model") == model) & (pl.col("metric") == "wape"))
        recomputed = (fc["y"] - fc[f"{model}_p50"]).abs().sum() / fc["y"].sum()
        assert wape["value"][0] == pytest.approx(recomputed)


def test_backtest_weekly_with_int_ids_and_short_series(tmp_path):
    frame = (
        synthetic_frame(n_series=4, n_days=7 * 30)
        .filter(pl.col("ds").dt.weekday() == 1)
        .with_columns(pl.col("unique_id").str.slice(1).cast(pl.Int64))
    )
    frame = frame.filter((pl.col("unique_id") != 3) | (pl.col("ds") > pl.date(2024, 6, 1)))
    path = tmp_path / "weekly.parquet"
    frame.write_parquet(path)
    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            "--input",
            str(path),
            "--freq",
            "W",
            "--horizon",
            "8",
            "--no-autoets",
            "--max-iter",
            "20",
            "--output",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 0, result.output
    fc = pl.read_parquet(tmp_path / "o" / "forecasts.parquet")
    assert fc["unique_id"].dtype == pl.Int64


def test_bad_input_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    pl.DataFrame({"unique_id": ["a"], "date": ["2024-01-01"], "y": [1]}).write_csv(path)
    result = runner.invoke(app, ["forecast", "backtest", "--input", str(path), "--horizon", "7"])
    assert result.exit_code == 2
    assert str(path) in result.output.replace("\n", "") and "'ds'" in result.output


def test_settle_days_ends_each_folds_targets_and_bad_values_are_clear_errors(tmp_path):
    """--settle-days auto --settle-by channel: the weekly channel's last 3 days are not yet
    delivered, so every fold trains on targets up to 3 days before its cutoff."""
    frame = synthetic_frame(n_series=6, n_days=70)
    frame = frame.with_columns(
        channel=pl.when(pl.col("unique_id").is_in(["S00", "S02", "S04"]))
        .then(pl.lit("daily"))
        .otherwise(pl.lit("weekly"))
    )
    late = (pl.col("channel") == "weekly") & (
        pl.col("ds") > frame["ds"].max() - pl.duration(days=3)
    )
    path = tmp_path / "late.parquet"
    frame.with_columns(y=pl.when(late).then(0.0).otherwise(pl.col("y"))).write_parquet(path)
    base = ["forecast", "backtest", "--input", str(path), "--horizon", "7", "--folds", "1"]
    base += ["--max-iter", "5", "--no-autoets"]
    result = runner.invoke(app, [*base, "--settle-days", "auto", "--settle-by", "channel"])
    assert result.exit_code == 0, result.output
    assert "training targets end 3 periods before each cutoff: weekly" in result.output
    for args, message in [
        (["--settle-days", "soon"], "--settle-days: expected 'auto' or a whole number"),
        (["--settle-days", "auto"], "--settle-days auto needs --settle-by"),
        (["--settle-days", "auto", "--settle-by", "shop"], "column 'shop' is not in the frame"),
    ]:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 2 and message in result.output.replace("\n", ""), args
