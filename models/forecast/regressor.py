"""The global model's regressor: scikit-learn's HistGradientBoostingRegressor sharing the
binning of its training rows. Its own module so that scikit-learn is imported by the code that
fits or loads a fit (models.forecast.model, joblib), not by every import of the definitions."""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingRegressor


class Regressor(HistGradientBoostingRegressor):
    """HistGradientBoostingRegressor that can share the binning of its training rows with
    the other models fitted on the same rows (``shared_bins``, set before ``fit``): the bin
    mapper is fitted once and the binned matrix reused, which is what every one of them would
    compute (same rows, bins, categorical columns and seed), so the fits are unchanged."""

    shared_bins: dict | None = None

    def _bin_data(self, X, sample_weight, is_training_data):
        cache = self.shared_bins
        if not is_training_data or cache is None or sample_weight is not None:
            return super()._bin_data(X, sample_weight, is_training_data)
        key = (self.max_bins, self.random_state, repr(self.categorical_features), X.shape)
        with cache["lock"]:
            if "binned" not in cache:
                cache["binned"] = super()._bin_data(X, sample_weight, is_training_data)
                cache["mapper"], cache["key"] = self._bin_mapper, key
            elif cache["key"] != key:
                raise ValueError("shared_bins used by models that bin differently")
            else:
                self._bin_mapper = cache["mapper"]
            return cache["binned"]
