"""Flag scoring: precision and recall computed from flagged and actual sets."""

from ingest.flag_eval import _score, evaluate_flags


def test_precision_and_recall():
    s = _score("brushing_suspect", {1, 2, 3, 4}, {2, 3, 5})
    assert (s.flagged, s.actual, s.hits) == (4, 3, 2)
    assert s.precision == 0.5 and s.recall == 2 / 3


def test_no_truth_means_no_score(data_dir):
    assert evaluate_flags(data_dir) is None
