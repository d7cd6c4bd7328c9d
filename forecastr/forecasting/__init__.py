"""Forecasting with a fitted model: DATA read as the model was fitted, inference from
each series' last window, the one code path behind predict, and the table it writes."""
