"""The hand-built segments warehouse, shared with the privacy checks' tests."""

from tests.models.segments.conftest import warehouse  # noqa: F401
