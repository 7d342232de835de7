"""sendlens: store, import pipeline and command line."""

__version__ = "0.1.0"
