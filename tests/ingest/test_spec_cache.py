"""ingest.spec.load_spec parses a file once per process and content: the same bytes are not
parsed again, other bytes are (whatever the file's time), and no caller can change what
another gets."""

import os

import pytest
import yaml

from ingest import spec as spec_module
from ingest.config import SPECS_DIR
from ingest.spec import ChannelSpec, SpecError, load_spec, load_specs

POS = SPECS_DIR / "pos.yml"
REAL_LOAD = yaml.safe_load


@pytest.fixture
def parses(monkeypatch):
    """The number of YAML parses load_spec makes."""
    calls = []

    def counting(text):
        calls.append(1)
        return REAL_LOAD(text)

    monkeypatch.setattr(spec_module.yaml, "safe_load", counting)
    monkeypatch.setattr(spec_module, "_PARSED", {}, raising=False)
    return calls


def test_the_same_bytes_are_parsed_once(parses, tmp_path):
    path = tmp_path / "pos.yml"
    path.write_bytes(POS.read_bytes())
    first = load_spec(path)
    second = load_spec(path)
    assert len(parses) == 1
    assert first == second == ChannelSpec.model_validate(REAL_LOAD(POS.read_text("utf-8")))
    specs = load_specs()
    load_specs()
    assert len(parses) == 1 + len(specs)  # the whole folder: once each


def test_every_call_gets_its_own_copy(parses, tmp_path):
    path = tmp_path / "pos.yml"
    path.write_bytes(POS.read_bytes())
    first = load_spec(path)
    expected = first.model_dump()
    first.sources[0].entities["orders"].fields.clear()
    first.sources.append(first.sources[0])
    first.channel = "changed"
    again = load_spec(path)
    assert again.model_dump() == expected
    assert again.channel == "pos"


def test_other_bytes_are_parsed_again_even_with_the_same_time(parses, tmp_path):
    path = tmp_path / "pos.yml"
    text = POS.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    assert load_spec(path).timezone == "Asia/Shanghai"
    path.write_text(text.replace("timezone: Asia/Shanghai", "timezone: Asia/Hong_Kong"), "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_spec(path).timezone == "Asia/Hong_Kong"
    assert len(parses) == 2


def test_a_broken_file_still_fails_each_time_naming_it(parses, tmp_path):
    path = tmp_path / "pos.yml"
    path.write_bytes(POS.read_bytes())
    load_spec(path)
    path.write_text("channel: pos\nsources: [\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(SpecError, match="pos.yml: invalid channel spec"):
            load_spec(path)
    path.write_bytes(POS.read_bytes())
    assert load_spec(path).channel == "pos"
