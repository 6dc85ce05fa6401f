"""Validation: every error names the file, the line and what is wrong, and suggests the
nearest valid name; a bad file does not stop the others."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.segments.registry import PROFILES_DIR, load_all
from models.segments.yamlfile import DefinitionError


def profiles(tmp_path: Path, tags: dict[str, str], segments: dict[str, str]) -> Path:
    root = tmp_path / "profiles"
    (root / "tags").mkdir(parents=True)
    (root / "segments").mkdir()
    for name, text in tags.items():
        (root / "tags" / f"{name}.yml").write_text(text, encoding="utf-8")
    for name, text in segments.items():
        (root / "segments" / f"{name}.yml").write_text(text, encoding="utf-8")
    return root


GOOD_TAGS = """\
tags:
  - name: repeat_buyer
    description: Has ordered at least twice.
    when: {field: orders, at_least: 2}
  - name: lifecycle
    description: Lifecycle stage of the customer.
    buckets:
      - value: active
        when: {field: last_order_date, within_last_days: 90}
    otherwise: lapsed
"""

GOOD_SEGMENT = """\
name: {name}
description: Repeat buyers who are active.
owner: crm@example.com
purpose: sms
destinations: [sms]
where:
  all:
    - tag: repeat_buyer
    - tag: lifecycle
      equals: active
"""


def test_the_starter_set_is_valid_and_large_enough():
    loaded = load_all(PROFILES_DIR)
    assert [str(f.error) for f in loaded.all() if not f.ok] == []
    tags = [t for f in loaded.tag_files for t in f.definition.tags]
    assert len(tags) >= 20
    assert all(len(t.description) >= 10 for t in tags)
    assert {s.definition.purpose for s in loaded.segments} == {"email", "sms", "wechat", "ads"}


def test_unknown_field_names_file_line_and_nearest_field(tmp_path):
    bad = GOOD_TAGS.replace("field: last_order_date", "field: last_ordr_date")
    root = profiles(tmp_path, {"good": GOOD_TAGS.replace("repeat_buyer", "x_repeat")
                               .replace("lifecycle", "x_lifecycle"), "bad": bad}, {})  # fmt: skip
    loaded = {f.name: f for f in load_all(root).tag_files}
    assert loaded["good"].ok
    err = loaded["bad"].error
    assert err is not None and len(err.issues) == 1
    issue = err.issues[0]
    assert issue.file.endswith("tags/bad.yml")
    assert issue.line == 9  # the line of "when: {field: last_ordr_date, ...}"
    assert "unknown field 'last_ordr_date'" in issue.message
    assert issue.suggestion == "last_order_date"
    assert str(issue).startswith(f"{issue.file}:9: tags[1].buckets[0].when.field: ")
    assert "did you mean 'last_order_date'?" in str(issue)


def test_unknown_key_and_operator_get_suggestions_on_their_line(tmp_path):
    text = GOOD_TAGS.replace("at_least: 2", "atleast: 2").replace("otherwise", "otherwize")
    root = profiles(tmp_path, {"t": text}, {})
    err = load_all(root).tag_files[0].error
    found = {(i.line, i.suggestion) for i in err.issues}
    assert (4, "at_least") in found
    assert (10, "otherwise") in found


def test_segment_errors_unknown_tag_value_purpose_and_destination(tmp_path):
    seg = (
        GOOD_SEGMENT.format(name="s")
        .replace("tag: repeat_buyer", "tag: repeat_buyers")
        .replace("equals: active", "equals: activ")
    )
    root = profiles(tmp_path, {"t": GOOD_TAGS}, {"s": seg})
    err = load_all(root).segments[0].error
    by_line = {i.line: i for i in err.issues}
    assert by_line[8].suggestion == "repeat_buyer" and "unknown tag" in by_line[8].message
    assert by_line[10].suggestion == "active" and "never has the value 'activ'" in str(by_line[10])

    wrong = GOOD_SEGMENT.format(name="w").replace("purpose: sms", "purpose: sm")
    root2 = profiles(tmp_path / "2", {"t": GOOD_TAGS}, {"w": wrong})
    issue = load_all(root2).segments[0].error.issues[0]
    assert (issue.line, issue.suggestion) == (4, "sms")

    mismatch = GOOD_SEGMENT.format(name="m").replace("destinations: [sms]", "destinations: [meta]")
    root3 = profiles(tmp_path / "3", {"t": GOOD_TAGS}, {"m": mismatch})
    issue = load_all(root3).segments[0].error.issues[0]
    assert issue.line == 5 and "needs consent for 'ads'" in issue.message


def test_yaml_syntax_duplicate_keys_and_file_name(tmp_path):
    root = profiles(
        tmp_path,
        {
            "syntax": "tags:\n  - name: a\n    description: [unclosed\n",
            "dup": GOOD_TAGS + "tags: []\n",
        },
        {"other": GOOD_SEGMENT.format(name="not_the_file_name")},
    )
    loaded = load_all(root)
    by = {f.name: f for f in loaded.all()}
    assert by["syntax"].error.issues[0].line in (3, 4)
    assert "not valid YAML" in str(by["syntax"].error)
    dup = by["dup"].error.issues[0]
    assert dup.line == 11 and "duplicate key 'tags' (first on line 1)" in dup.message
    assert "must be the file name 'other'" in str(by["other"].error)


def test_a_tag_defined_in_two_files_is_an_error_in_the_second(tmp_path):
    root = profiles(tmp_path, {"a": GOOD_TAGS, "b": GOOD_TAGS}, {})
    a, b = load_all(root).tag_files
    assert a.ok and not b.ok
    assert "already defined in" in str(b.error) and "tags/a.yml" in str(b.error)


def test_require_raises_the_files_error(tmp_path):
    root = profiles(tmp_path, {"t": "tags: 3\n"}, {})
    item = load_all(root).tag_files[0]
    with pytest.raises(DefinitionError, match=r"tags/t\.yml:1: tags: "):
        item.require()


def test_starter_files_copied_elsewhere_stay_valid(tmp_path):
    shutil.copytree(PROFILES_DIR / "tags", tmp_path / "p" / "tags")
    shutil.copytree(PROFILES_DIR / "segments", tmp_path / "p" / "segments")
    assert all(f.ok for f in load_all(tmp_path / "p").all())
