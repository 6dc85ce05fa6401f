"""The ``template`` field option: a value built from the field and other native columns."""

from __future__ import annotations

import polars as pl
import pytest

from ingest import engine as E
from ingest.spec import ChannelSpec, SpecError, load_spec


def _spec(location: dict) -> ChannelSpec:
    return ChannelSpec.model_validate(
        {
            "channel": "t",
            "description": "t",
            "timezone": "UTC",
            "sources": [
                {
                    "name": "r",
                    "pattern": "*.csv",
                    "format": "csv",
                    "entities": {
                        "returns": {
                            "fields": {
                                "return_id": {"from": "id", "required": True},
                                "line_id": {"from": "id"},
                                "location_id": location,
                            }
                        }
                    },
                }
            ],
        }
    )


def test_template_fills_value_and_other_columns():
    spec = _spec({"from": "fc", "template": "FBA-{path.mp}-{}"})
    frame = pl.DataFrame(
        {"id": ["1", "2"], "fc": ["ONT8", ""], "path.mp": ["US", "US"], E.ROW: [1, 2]}
    )
    res = E.map_entity(frame, "returns", spec.sources[0].entities["returns"], spec)
    assert res.kept["location_id"].to_list() == ["FBA-US-ONT8", None]  # empty stays empty
    assert res.rejected.height == 0


def test_template_on_a_missing_required_column_is_quarantined():
    spec = _spec({"from": "fc", "template": "FBA-{mp}-{}", "required": True})
    frame = pl.DataFrame({"id": ["1"], "fc": ["ONT8"], E.ROW: [1]})
    res = E.map_entity(frame, "returns", spec.sources[0].entities["returns"], spec)
    assert res.kept.height == 0
    assert res.rejected["reason_code"].to_list() == ["missing_column"]
    assert "mp" in res.rejected["reason"][0]


def test_template_without_the_value_is_a_spec_error(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text(
        "channel: t\ndescription: t\ntimezone: UTC\nsources:\n"
        "  - {name: r, pattern: '*.csv', format: csv, entities: {returns: {fields: {"
        "return_id: {from: id}, line_id: {from: id}, "
        "location_id: {from: fc, template: 'FBA-X'}}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="template"):
        load_spec(path)
