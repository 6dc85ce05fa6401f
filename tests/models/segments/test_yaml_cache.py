"""A definition file is parsed once per process for the same text; callers get their own
copies; a changed file is parsed again."""

import yaml

from models.segments import yamlfile


def test_the_same_text_is_parsed_once_and_copies_are_independent(tmp_path, monkeypatch):
    composed = []
    real = yaml.compose
    monkeypatch.setattr(
        yamlfile.yaml, "compose", lambda *a, **k: composed.append(1) or real(*a, **k)
    )
    path = tmp_path / "t.yml"
    path.write_text("tags:\n  - name: a\n    when: {field: x}\n", encoding="utf-8")
    first, lines = yamlfile.load_yaml(path)
    first["tags"][0]["name"] = "changed by a caller"
    lines.lines[("tags",)] = 99
    second, lines2 = yamlfile.load_yaml(path)
    assert len(composed) == 1
    assert second["tags"][0]["name"] == "a"
    assert lines2.line(("tags",)) == 1 and lines2.line(("tags", 0, "when")) == 3
    path.write_text("tags:\n  - name: b\n", encoding="utf-8")
    third, _ = yamlfile.load_yaml(path)
    assert len(composed) == 2 and third["tags"][0]["name"] == "b"


def test_a_duplicate_key_is_an_error_every_time(tmp_path):
    path = tmp_path / "d.yml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    for _ in range(2):
        try:
            yamlfile.load_yaml(path)
        except yamlfile.DefinitionError as exc:
            assert "duplicate key 'a'" in str(exc)
        else:
            raise AssertionError("no error")
