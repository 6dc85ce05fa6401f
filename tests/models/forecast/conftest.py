"""Fixtures of the forecasting tests."""

import pytest

from models.forecast import model as model_mod


@pytest.fixture
def fits(monkeypatch) -> list[str]:
    """The loss of every global-model regressor fitted while the test runs, in order."""
    seen: list[str] = []
    original = model_mod._Regressor.fit

    def counted(self, x, y, *args, **kwargs):
        seen.append(self.loss)
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(model_mod._Regressor, "fit", counted)
    return seen
