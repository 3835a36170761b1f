"""The installed distribution's version (read from its metadata once)."""

from importlib.metadata import version

__version__ = version("zpml")
