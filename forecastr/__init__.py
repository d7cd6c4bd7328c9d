"""forecastr: forecast time series from CSV with recurrent neural networks.

The public names are loaded on first use (PEP 562), so `import forecastr` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forecastr.version import __version__

_PUBLIC = {
    "FitConfig": "forecastr.config",
    **dict.fromkeys(["ForecastrError", "DataError", "ConfigError", "ModelFileError",
                     "DeviceError", "OutputError", "OutOfMemory", "Interrupted"],
                    "forecastr.errors"),
    "Panel": "forecastr.data.panel",
    "read_panel": "forecastr.data.reader",
    **dict.fromkeys(["inspect", "fit", "info", "predict", "predict_chunks", "forecast_frame",
                     "evaluate", "tune"], "forecastr.api"),
}
__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:
    from forecastr.api import (
        evaluate,
        fit,
        forecast_frame,
        info,
        inspect,
        predict,
        predict_chunks,
        tune,
    )
    from forecastr.config import FitConfig
    from forecastr.data.panel import Panel
    from forecastr.data.reader import read_panel
    from forecastr.errors import (
        ConfigError,
        DataError,
        DeviceError,
        ForecastrError,
        Interrupted,
        ModelFileError,
        OutOfMemory,
        OutputError,
    )


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'forecastr' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_PUBLIC[name]), name)
