"""Ways into an :class:`~failwidgets.data.EvalSet`, one small module each.

- :mod:`.dataframe`: a pandas DataFrame (``EvalSet.from_dataframe``);
- :mod:`.huggingface`: a ``datasets.Dataset`` (``EvalSet.from_huggingface``);
- :mod:`.folder`: an ImageFolder-style directory plus a CSV (``EvalSet.from_folder``);
- :mod:`.table`, :mod:`.classes`, :mod:`.image_column`, :mod:`.paths`: what they share (columns
  to labels, predictions, probabilities, split and metadata; class names or indices; a column of
  images; paths that must stay under a root).

The ``evalset_from_*`` functions take the class first and are the ``EvalSet`` classmethods
themselves (``EvalSet.from_dataframe = classmethod(evalset_from_dataframe)``), so each
signature and docstring is written once, here. ``import failwidgets`` imports none of this;
``import failwidgets.data`` does (no torch, no ``datasets``: that is imported on first use).
"""
