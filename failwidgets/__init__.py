"""failwidgets: Jupyter widgets for the failure modes of image classifiers."""

__version__ = "0.1.0"
