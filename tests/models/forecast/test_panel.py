import datetime as dt

import numpy as np
import polars as pl
import pytest

from models.forecast.panel import FrameError, make_panel, read_frame
from tests.models.forecast.synthetic import synthetic_frame


def test_censored_days_and_gaps_are_not_observations():
    frame = synthetic_frame()
    panel = make_panel(frame, "D", future_exog=["promo"])
    s1, s2 = list(panel.ids).index("S01"), list(panel.ids).index("S02")
    # censored: the zero sales while out of stock are masked, not taken as zero demand
    assert np.isnan(panel.y[s2, 60:66]).all()
    assert not np.isnan(panel.y[s2, 59]) and not np.isnan(panel.y[s2, 66])
    # a gap (rows absent) is missing, not zero
    assert np.isnan(panel.y[s1, 40:45]).all()
    # every other cell is the input
    kept = frame.filter(~pl.col("censored"))
    assert int((~np.isnan(panel.y)).sum()) == kept.height
    assert float(np.nansum(panel.y)) == pytest.approx(kept["y"].sum())


def test_null_y_is_missing_and_ids_keep_their_type():
    frame = pl.DataFrame(
        {
            "unique_id": [7, 7, 8],
            "ds": ["2024-01-01", "2024-01-02", "2024-01-01"],
            "y": [1.0, None, 3.0],
        }
    )
    panel = make_panel(frame, "D")
    assert panel.ids.dtype == pl.Int64
    assert np.isnan(panel.y[0, 1]) and panel.y[1, 0] == 3.0


def write(tmp_path, frame: pl.DataFrame, name="in.csv"):
    path = tmp_path / name
    frame.write_csv(path)
    return path


@pytest.mark.parametrize(
    ("frame", "freq", "message"),
    [
        ({"unique_id": ["a"], "ds": ["2024-01-01"]}, "D", "missing column(s) ['y']"),
        (
            {"unique_id": ["a", "a"], "ds": ["2024-01-01", "01/02/2024x"], "y": ["1", "2"]},
            "D",
            "column 'ds', row 2: '01/02/2024x' is not a date",
        ),
        (
            {"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-01-02"], "y": ["1", "two"]},
            "D",
            "column 'y', row 2: 'two' is not a number",
        ),
        (
            {"unique_id": ["a", "b", "a"], "ds": ["2024-01-01"] * 3, "y": ["1", "2", "3"]},
            "D",
            "rows 1 and 3 repeat unique_id 'a'",
        ),
        (
            {"unique_id": ["a", "a"], "ds": ["2024-01-01", "2024-01-09"], "y": ["1", "2"]},
            "W",
            "column 'ds', row 2: 2024-01-09 is not on the weekly grid",
        ),
    ],
)
def test_bad_input_names_file_column_and_row(tmp_path, frame, freq, message):
    path = write(tmp_path, pl.DataFrame(frame))
    with pytest.raises(FrameError) as err:
        make_panel(read_frame(path), freq, source=str(path))
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_weekly_frames_keep_their_weekday():
    days = [dt.date(2024, 1, 7) + dt.timedelta(weeks=k) for k in range(5)]  # Sundays
    panel = make_panel(pl.DataFrame({"unique_id": "x", "ds": days, "y": 1.0}), "W")
    assert panel.dates() == days
    assert panel.season == 52
