"""The package version, in one place (``pyproject.toml`` reads it from here; ``plato_mythos`` shares it)."""

__version__ = "0.2.0"
