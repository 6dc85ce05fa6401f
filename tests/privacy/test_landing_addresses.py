"""Erasure cuts a person's street line, district and postcode out of the landing files in the
spellings the files hold, not only in the normalised form the lake keeps: full-width
characters, spaces, traditional characters, words written out where the lake's came from
an abbreviation. Rows are kept (the file still
reconciles); the neighbour's address on the next row is untouched."""

from __future__ import annotations

from ingest.config import DataPaths
from ingest.identifiers import normalize_address
from models.privacy.erase import ErasureReport, scrub_landing
from models.privacy.subject import Subject

REL = "tmall/ExportOrderList202503011200.csv"
LINES = [
    "订单编号,收货人姓名,收货地址,联系手机",
    "1001,张伟,浙江省 杭州市 西湖区 文三路１２号　３幢(３１００１２),13800138000",
    "1002,李娜,浙江省 杭州市 西湖区 文三路 12 號 3 幢(310012),13900139000",
    "1003,Wei Zhang,12 Main Street Apartment 3 Seattle WA 98101,13800138000",
    "1004,王芳,浙江省 杭州市 西湖区 文三路120号(310013),13700137000",
]


def test_landing_street_lines_are_cut_in_their_raw_spellings(tmp_path):
    paths = DataPaths(tmp_path / "data")
    path = paths.landing / REL
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    # what the lake holds of the person's deliveries: the normalised parts (the Latin one
    # from a spelling with abbreviations: the landing row spells the words out)
    addresses = set()
    for raw in (
        "浙江省 杭州市 西湖区 文三路１２号　３幢(３１００１２)",
        "12 Main St. Apt. 3",
    ):
        parts = normalize_address(street=raw)
        addresses |= {v for k, v in parts.items() if k in ("district", "street", "postcode") and v}
    assert addresses == {"西湖区", "文三路12号3栋", "310012", "12 main st apt 3"}
    subject = Subject(
        identifiers=[("phone", "+8613800138000")], customer_ids=[], addresses=addresses
    )
    report = ErasureReport("r1")
    scrub_landing(paths, subject, {(REL, 1), (REL, 2), (REL, 3)}, report)
    out = path.read_text(encoding="utf-8").splitlines()
    assert len(out) == len(LINES)  # every row kept
    for raw in (
        "文三路１２号",
        "３幢",
        "３１００１２",
        "文三路 12 號 3 幢",
        "310012",
        "Main Street",
    ):
        assert not any(raw in line for line in out[1:4]), (raw, out)
    assert out[4] == LINES[4]  # the neighbour (no tie, 文三路120号, 310013) untouched
    assert report.landing_files == 1
