"""Fixtures of the forecasting tests."""

import pytest

from models.forecast.regressor import Regressor


@pytest.fixture
def fits(monkeypatch) -> list[str]:
    """The loss of every global-model regressor fitted while the test runs, in order."""
    seen: list[str] = []
    original = Regressor.fit

    def counted(self, x, y, *args, **kwargs):
        seen.append(self.loss)
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Regressor, "fit", counted)
    return seen
