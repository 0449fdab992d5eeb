"""Rules: how a failure mode re-applies to rows a method never saw.

A :class:`~failwidgets.modes.FailureMode` lists the rows a method found among the rows it
analysed. Its ``rule`` says which rows of an EvalSet belong to the mode, so the mode can be
measured anywhere, e.g. on a held-out split (:func:`heldout`).

Every rule has a ``class_name`` and a ``grouping``, the way its method groups images:

- ``"label"``: the images labelled ``class_name`` (PRIME, failure directions, CES, Defuse,
  Barlow's label trees);
- ``"prediction"``: the images predicted as ``class_name`` (Barlow's prediction trees);
- ``None``: no class restriction (Barlow trees of custom groups).

``rule.reference(evalset, indices)`` are the rows of ``indices`` in that group (the rows whose
accuracy is the class accuracy), and ``rule.apply(evalset, indices)`` the members among them:

========================  ===========================================================
rule                      a row of the class group is a member when
========================  ===========================================================
:class:`TreePathRule`     (Barlow) it satisfies every split on the path from the root
                          to the leaf (``feature <= threshold`` or ``> threshold``,
                          compared as float32 as scikit-learn's trees do)
:class:`TagSetRule`       (PRIME) its tags include every tag of the set
:class:`DirectionRule`    (failure directions) the decision value of the class's SVM on
                          its embedding is at most the threshold (the hard side: the
                          threshold sits between the k-th and the (k+1)-th most negative
                          value of the fitting rows); for a caption, its cosine
                          similarity to the caption is at least the threshold
:class:`ConceptRule`      (CES) the concept that CES says explains the mistakes is on
                          the side that explains them: absent (CAV decision value
                          ``w.h + b <= 0``) when adding it raises the class's probability
                          most, present when removing it does
:class:`MixtureRule`      (Defuse) its VAE code (posterior mean) has its highest
                          responsibility in the scenario's mixture component
========================  ===========================================================

Where a rule needs more than the EvalSet (features, tags, embeddings, a model), it holds it:
an (N, D) array aligned with the EvalSet's rows, or a callable ``(evalset, rows) -> values``
that computes it for any rows. Rules are not written to CSV/Parquet.

Rules are pure (no widgets); torch is only used by the CES and Defuse rules' callables.
"""

from __future__ import annotations

from .base import GROUPINGS, Rule, class_rows
from .concept import ConceptRule
from .direction import DirectionRule
from .heldout import HELDOUT_COLUMNS, heldout, with_heldout
from .mixture import MixtureRule, vae_encoder
from .tag_set import TagSetRule
from .tree_path import TreePathRule

__all__ = [
    "GROUPINGS",
    "HELDOUT_COLUMNS",
    "Rule",
    "TreePathRule",
    "TagSetRule",
    "DirectionRule",
    "ConceptRule",
    "MixtureRule",
    "class_rows",
    "vae_encoder",
    "heldout",
    "with_heldout",
]
