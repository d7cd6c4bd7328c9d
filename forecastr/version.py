"""forecastr's version, in a module of its own: model files record it, and the package, the
command and the container read it from here without importing anything else."""

__version__ = "0.1.0.dev0"
