"""Defuse's rule: the mixture component of highest responsibility for the VAE code."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .base import Rule, _check_source, _values_at

__all__ = ["MixtureRule", "vae_encoder"]


@dataclass(frozen=True, eq=False)
class MixtureRule(Rule):
    """Defuse: the class's images whose VAE code falls in the scenario's mixture component.

    A row is a member when the component of highest responsibility for its code (the VAE's
    posterior mean) under the fitted Dirichlet-process mixture is ``component``. (A
    scenario's members are the images whose *failing perturbed* codes fell in the
    component, so on the rows it was distilled from the rule selects the images whose own
    code does: close to, not equal to, the scenario's images.)

    Parameters
    ----------
    class_name : the scenario's class (the majority label of its images).
    component : index of the component in ``mixture``.
    mixture : a fitted mixture with ``predict(codes) -> components`` (sklearn's
        ``BayesianGaussianMixture``).
    encode : callable ``(evalset, rows) -> (len(rows), d)`` codes, or an (N, d) array.
    """

    component: int
    mixture: object = field(repr=False)
    encode: object = field(repr=False)
    method = "defuse"

    def _check_fields(self) -> None:
        if isinstance(self.component, bool) or not isinstance(self.component, (int, np.integer)):
            raise TypeError(f"component: expected an integer, got {self.component!r}")
        if not callable(getattr(self.mixture, "predict", None)):
            raise TypeError(
                f"mixture: expected a fitted mixture with predict(), got "
                f"{type(self.mixture).__name__}"
            )
        _check_source(self.encode, "encode")

    @property
    def description(self) -> str:
        return (
            f"{self._where()} whose VAE code is most likely in mixture component {self.component}"
        )

    def _select(self, evalset, rows):
        codes = _values_at(self.encode, evalset, rows, "encode").astype(np.float64)
        return np.asarray(self.mixture.predict(codes)) == int(self.component)

    @classmethod
    def from_vae(cls, vae, mixture, component: int, class_name: str) -> MixtureRule:
        """The rule of a scenario, encoding images with ``vae`` (see :func:`vae_encoder`;
        or pass an encoder it made, to share its codes between rules)."""
        encode = vae if getattr(vae, "is_vae_encoder", False) else vae_encoder(vae)
        return cls(class_name=class_name, component=int(component), mixture=mixture, encode=encode)


def vae_encoder(vae, batch_size: int = 256) -> Callable:
    """``encode(evalset, rows) -> (len(rows), d)`` posterior means of a
    :class:`~failwidgets.methods.vae.CheckedVAE` (``to_tensor``, ``encode_mean``,
    ``device``), each row encoded once per EvalSet and kept."""
    lock = threading.Lock()
    cache: dict = {"evalset": None, "codes": {}}

    def encode(evalset, rows):
        import torch

        with lock:
            if cache["evalset"] is not evalset:
                cache["evalset"], cache["codes"] = evalset, {}
            codes = cache["codes"]
            missing = [int(i) for i in rows if int(i) not in codes]
            with torch.inference_mode():
                for start in range(0, len(missing), batch_size):
                    part = missing[start : start + batch_size]
                    x = vae.to_tensor(evalset.images_at(part)).to(vae.device)
                    codes.update(zip(part, vae.encode_mean(x).float().cpu().numpy()))
            d = next(iter(codes.values())).shape[0] if codes else 0
            if not len(rows):
                return np.zeros((0, d), dtype=np.float32)
            return np.stack([codes[int(i)] for i in rows])

    encode.is_vae_encoder = True
    return encode
