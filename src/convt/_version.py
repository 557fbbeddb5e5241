"""The version of convt: the one place it is written.

``convt.__version__`` imports it, pyproject.toml reads it at build time
(``[tool.setuptools.dynamic] version = {attr = "convt._version.__version__"}``, evaluated
without importing convt), so the installed metadata (``importlib.metadata.version("convt")``),
the sdist and wheel names, ``python -m convt --version`` and ``convt.__version__`` agree, also
in an in-place build that has no metadata.
"""

__version__ = "0.1.0"
