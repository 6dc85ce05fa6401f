"""Reading any interactions table: formats of ids, times and weights; every dropped row
counted with its reason; errors that name the file and the column."""

from __future__ import annotations

import polars as pl
import pytest

from models.recs.data import InteractionsError, load_interactions


def _csv(tmp_path, text: str):
    path = tmp_path / "events.csv"
    path.write_text(text)
    return path


def test_retailrocket_like_events_with_duplicates_and_missing_times(tmp_path):
    path = _csv(
        tmp_path,
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1433221332117,257597,view,355908,\n"
        "1433221332117,257597,view,355908,\n"
        "1433224214164,992329,addtocart,248676,\n"
        "1433221999827,111016,transaction,318965,4000\n"
        ",111016,view,1,\n"
        "1433221999827,,view,2,\n",
    )
    frame, report = load_interactions(path, "visitorid", "itemid", "timestamp", "event")
    assert frame.height == 3
    assert report.dropped == {
        "no user (visitorid)": 1,
        "no or unparsable time (timestamp)": 1,
        "exact duplicate row": 1,
    }
    assert dict(zip(frame["item"], frame["weight"], strict=True)) == {
        "355908": 1.0,
        "248676": 3.0,
        "318965": 5.0,
    }
    assert frame["ts"].min() == pytest.approx(1433221332.117 / 86400)
    assert any("milliseconds" in n for n in report.notes)


def test_online_retail_like_dates_and_negative_quantities(tmp_path):
    path = _csv(
        tmp_path,
        "InvoiceNo,StockCode,Quantity,InvoiceDate,CustomerID\n"
        "536365,85123A,6,12/1/2010 8:26,17850.0\n"
        "C536379,D,-1,12/1/2010 9:41,14527.0\n"
        "536366,22633,6,12/2/2010 8:28,17850.0\n",
    )
    frame, report = load_interactions(path, "CustomerID", "StockCode", "InvoiceDate", "Quantity")
    assert frame["user"].to_list() == ["17850.0", "17850.0"]
    assert report.dropped == {"missing, zero or negative weight (Quantity)": 1}
    assert frame["ts"][1] - frame["ts"][0] == pytest.approx(1 + 2 / (24 * 60))


def test_parquet_with_integer_ids_and_datetimes(tmp_path):
    import datetime as dt

    path = tmp_path / "i.parquet"
    pl.DataFrame(
        {
            "user_id": [1, 2],
            "item_id": [10, 11],
            "timestamp": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3)],
        }
    ).write_parquet(path)
    frame, _ = load_interactions(path)
    assert frame["user"].to_list() == ["1", "2"]
    assert frame["ts"][1] - frame["ts"][0] == pytest.approx(2.0)


def test_errors_name_the_file_and_the_column(tmp_path):
    path = _csv(tmp_path, "user,item,when\na,b,not a time\nc,d,nope\n")
    with pytest.raises(InteractionsError, match=r"events.csv: no user column 'user_id'"):
        load_interactions(path)
    with pytest.raises(InteractionsError, match=r"events.csv: time column 'when' is not a date"):
        load_interactions(path, "user", "item", "when")
    with pytest.raises(InteractionsError, match="no such file"):
        load_interactions(tmp_path / "missing.csv")
