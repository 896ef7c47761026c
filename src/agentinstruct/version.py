"""The package version, kept in one place so run.json and the CLI agree."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agentinstruct")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
