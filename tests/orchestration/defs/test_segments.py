"""The segment assets on a small warehouse: one asset per definition file, so a bad file fails
its own asset with the file, line and suggestion while the others materialise."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.defs.segments import build_assets
from tests.models.segments.conftest import warehouse  # noqa: F401  (fixture)
from tests.models.segments.test_schema import GOOD_SEGMENT, GOOD_TAGS, profiles


def test_a_bad_file_fails_only_its_own_asset(warehouse, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(warehouse.parent))
    bad = "tags:\n  - name: big\n    description: Spends a lot here.\n    when: {field: ordrs, at_least: 5}\n"
    root = profiles(tmp_path, {"good": GOOD_TAGS, "bad": bad}, {"s": GOOD_SEGMENT.format(name="s")})
    assets = build_assets(root)
    keys = {k.to_user_string() for a in assets for k in a.keys}
    assert keys == {
        "customer_tags/good",
        "customer_tags/bad",
        "segment_members/s",
        "segment_exports/s",
    }
    seg = next(a for a in assets if a.key.to_user_string() == "segment_members/s")
    assert dg.AssetKey(["customer_tags", "good"]) in seg.dependency_keys
    assert dg.AssetKey(["customer_tags", "bad"]) not in seg.dependency_keys

    result = dg.materialize(assets, raise_on_error=False)
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"customer_tags/good", "segment_members/s", "segment_exports/s"}
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [f.step_key for f in failures] == ["customer_tags__bad"]
    message = str(failures[0].step_failure_data.error.message) + str(
        failures[0].step_failure_data.user_failure_data.description
    )
    assert "tags/bad.yml:4: tags[0].when.field: unknown field 'ordrs'" in message
    assert "did you mean 'orders'?" in message

    con = duckdb.connect(str(warehouse), read_only=True)
    members = con.execute("SELECT customer_id FROM segments.segment_members").fetchall()
    con.close()
    assert members == [("C1",)]  # repeat buyer, active in the last 90 days
    assert (warehouse.parent / "exports" / "segments" / "s" / "sizes.png").exists()
