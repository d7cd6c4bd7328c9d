"""Evaluating a model: rolling-origin backtests, error metrics, and the plot of a backtest."""
