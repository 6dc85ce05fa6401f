"""Demand forecasting: a long frame per SKU x location x day with stock-out days masked, a
global scikit-learn model with P10/P50/P90, a rolling-origin backtest against seasonal naive
and AutoETS, and the ``forecast`` tables replenishment reads (``schema.py``)."""
