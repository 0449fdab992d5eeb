"""Split a classifier into a bottom ``b(x)`` and a top ``t(h)`` with ``f(x) = t(b(x))``.

Concept methods (CES, conceptual counterfactuals) work in the activation space of
one layer: they need the network below that layer, ``b``, to embed images, and
the network above it, ``t``, to turn a (perturbed) activation back into logits.

Two ways to cut a model at a named module:

* ``"fx"`` (default): trace the model with :mod:`torch.fx`, find the graph node
  that is the output of the named module and cut the graph there. Functional
  code in ``forward`` (DenseNet's ``F.relu`` + pooling + flatten, ResNet's
  ``torch.flatten``) lands in the top automatically. A cut is only valid where
  the layer's output is the sole value flowing on (not inside a residual block).
* ``"chain"``: a module-tree fallback for models ``torch.fx`` cannot trace: an
  ``nn.Sequential`` (nested Sequentials are expanded) or a known torchvision
  family (ResNet, DenseNet, SqueezeNet, VGG, AlexNet, MobileNet, EfficientNet)
  whose ``forward`` is written out here.

Any other model can be given as two callables with :meth:`SplitModel.from_callables`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn

__all__ = ["SplitMismatchError", "SplitModel", "split_model", "split_points"]


class SplitMismatchError(RuntimeError):
    """Raised by :meth:`SplitModel.check` when ``t(b(x))`` differs from ``f(x)``."""


class SplitModel:
    """A classifier cut at one layer: ``model(x) == top(bottom(x))``.

    Parameters
    ----------
    bottom, top : callable
        ``bottom`` maps an input batch to the layer's activations, ``top`` maps
        activations to logits. Both keep gradients (``top`` is differentiated
        by the counterfactual method); the helper methods run without them.
    layer : str
        Name of the layer the model was cut at (free text for callables).
    model : callable, optional
        The full model, used by :meth:`check`.
    input_size : tuple of int, optional
        Expected input shape ``(C, H, W)``; inputs of another shape are refused.
    """

    def __init__(
        self,
        bottom: Callable[[torch.Tensor], torch.Tensor],
        top: Callable[[torch.Tensor], torch.Tensor],
        *,
        layer: str = "",
        model: Callable[[torch.Tensor], torch.Tensor] | None = None,
        input_size: Sequence[int] | None = None,
        clone_top_input: bool = False,
    ) -> None:
        if not callable(bottom) or not callable(top):
            raise TypeError("bottom and top must be callables mapping tensors to tensors")
        self.bottom = bottom
        self.top_module = top
        self.layer = layer
        self.model = model
        self.input_size = tuple(int(s) for s in input_size) if input_size is not None else None
        self.clone_top_input = clone_top_input

    @classmethod
    def from_callables(
        cls,
        bottom: Callable[[torch.Tensor], torch.Tensor],
        top: Callable[[torch.Tensor], torch.Tensor],
        *,
        model: Callable[[torch.Tensor], torch.Tensor] | None = None,
        layer: str = "custom",
        input_size: Sequence[int] | None = None,
    ) -> SplitModel:
        """Wrap a model given as two callables ``bottom`` and ``top``.

        ``top`` is assumed not to modify its input in place.
        """
        return cls(bottom, top, layer=layer, model=model, input_size=input_size)

    # -- evaluation ------------------------------------------------------------
    def top(self, h: torch.Tensor) -> torch.Tensor:
        """Logits ``t(h)`` for activations ``h`` (gradients kept)."""
        return self.top_module(h.clone() if self.clone_top_input else h)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(self.bottom(x))

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters (CPU when it has none)."""
        for obj in (self.model, self.bottom, self.top_module):
            if isinstance(obj, nn.Module):
                for p in obj.parameters():
                    return p.device
        return torch.device("cpu")

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` if ``x`` is not a batch the model accepts."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor batch, got {type(x).__name__}")
        if self.input_size is not None and tuple(x.shape[1:]) != self.input_size:
            raise ValueError(
                f"images of shape {tuple(x.shape[1:])} do not fit the model: it takes "
                f"{self.input_size} (C, H, W); resize them first"
            )

    def activations(self, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """``b(x)`` in batches, without gradients, as a CPU tensor.

        Raises
        ------
        ValueError
            If the images do not fit the model (wrong size or channel count).
        """
        self.check_input(x)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        device = self.device
        parts = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                out = self._run(self.bottom, x[start : start + batch_size].to(device))
                parts.append(out.detach().to("cpu", copy=True))
        if not parts:
            raise ValueError("x is an empty batch")
        return torch.cat(parts)

    def _run(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        try:
            return fn(x)
        except RuntimeError as err:  # shape errors from conv / linear layers
            raise ValueError(
                f"images of shape {tuple(x.shape[1:])} do not fit the model "
                f"(split at {self.layer!r}): {err}"
            ) from err

    def check(self, x: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-4) -> float:
        """Verify that ``top(bottom(x))`` reproduces ``model(x)``.

        Returns
        -------
        float
            The maximum absolute difference between the two logit arrays.

        Raises
        ------
        SplitMismatchError
            If the difference exceeds ``atol + rtol * max|model(x)|``.
        ValueError
            If no full model is known to compare against.
        """
        if self.model is None:
            raise ValueError("this split has no full model to check against; pass model=")
        self.check_input(x)
        x = x.to(self.device)
        with torch.no_grad():
            expected = self._run(self.model, x)
            got = self.top(self._run(self.bottom, x))
        if got.shape != expected.shape:
            raise SplitMismatchError(
                f"split output has shape {tuple(got.shape)}, model output {tuple(expected.shape)}"
            )
        diff = float((got - expected).abs().max())
        bound = atol + rtol * float(expected.abs().max())
        if not diff <= bound:
            raise SplitMismatchError(
                f"split at {self.layer!r} does not reproduce the logits: max |diff| = {diff:.3g} "
                f"> {bound:.3g}"
            )
        return diff

    def __repr__(self) -> str:
        return f"SplitModel(layer={self.layer!r})"


# --------------------------------------------------------------------------- fx
class _OutputRecordingTracer(fx.Tracer):
    """A tracer that remembers the output proxy of every module call."""

    def __init__(self) -> None:
        super().__init__()
        self.module_outputs: dict[str, list[Any]] = {}

    def call_module(self, m, forward, args, kwargs):  # noqa: D401 (fx hook)
        out = super().call_module(m, forward, args, kwargs)
        self.module_outputs.setdefault(self.path_of_module(m), []).append(out)
        return out


_INPLACE_FUNCTIONS = {operator.iadd, operator.isub, operator.imul, operator.itruediv}


def _is_inplace(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return bool(getattr(modules.get(node.target), "inplace", False))
    if node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        return (
            node.kwargs.get("inplace", False) is True
            or node.target in _INPLACE_FUNCTIONS
            or (name.endswith("_") and not name.startswith("_"))
        )
    if node.op == "call_method":
        return str(node.target).endswith("_") and not str(node.target).startswith("_")
    return False


def _graph_module(root: nn.Module, graph: fx.Graph) -> fx.GraphModule:
    module = fx.GraphModule(root, graph)
    module.graph.eliminate_dead_code()
    module.recompile()
    module.delete_all_unused_submodules()
    return module


class _TracedModel:
    """One fx trace of a model plus, per module, the node that is its output."""

    def __init__(self, model: nn.Module) -> None:
        tracer = _OutputRecordingTracer()
        self.model = model
        self.graph = tracer.trace(model)
        self.nodes = list(self.graph.nodes)
        self.position = {node: i for i, node in enumerate(self.nodes)}
        self.modules = dict(model.named_modules())
        self.output_node: dict[str, fx.Node] = {}
        for name, outs in tracer.module_outputs.items():
            if len(outs) == 1 and isinstance(outs[0], fx.Proxy):
                self.output_node[name] = outs[0].node
        self._find_cuts()

    def _find_cuts(self) -> None:
        # A node depends on the input if a placeholder is among its ancestors.
        dependent: set[fx.Node] = set()
        for node in self.nodes:
            if node.op == "placeholder" or any(a in dependent for a in node.all_input_nodes):
                dependent.add(node)
        self.dependent = dependent
        # Position of the last user of each input-dependent node.
        last_use = {
            node: max((self.position[u] for u in node.users), default=self.position[node])
            for node in dependent
        }
        # A cut right after node s is valid iff every input-dependent node before s
        # is dead by then, i.e. s is the only value crossing the cut.
        self.valid_nodes: set[fx.Node] = set()
        running = -1
        for node in self.nodes:
            if node in dependent and node.op not in ("placeholder", "output") and node.users:
                if running <= self.position[node]:
                    self.valid_nodes.add(node)
            if node in dependent:
                running = max(running, last_use[node])

    def valid_layers(self) -> list[str]:
        names = [n for n, node in self.output_node.items() if node in self.valid_nodes]
        return sorted(names, key=lambda n: (self.position[self.output_node[n]], -n.count(".")))

    def split(self, layer: str) -> tuple[nn.Module, nn.Module, bool]:
        cut = self.output_node[layer]
        cut_pos = self.position[cut]

        bottom = fx.Graph()
        env: dict[fx.Node, fx.Node] = {}
        for node in self.nodes[: cut_pos + 1]:
            env[node] = bottom.node_copy(node, lambda n: env[n])
        bottom.output(env[cut])

        top = fx.Graph()
        env = {}
        h = top.placeholder("h")
        env[cut] = h
        # Input-independent values computed before the cut (constants, parameters
        # fetched with get_attr) are recomputed in the top.
        for node in self.nodes[:cut_pos]:
            if node not in self.dependent:
                env[node] = top.node_copy(node, lambda n: env[n])
        mutates = False
        for node in self.nodes[cut_pos + 1 :]:
            env[node] = top.node_copy(node, lambda n: env[n])
            mutates = mutates or _is_inplace(node, self.modules)
        return _graph_module(self.model, bottom), _graph_module(self.model, top), mutates


# ------------------------------------------------------------------------ chain
def _flatten(x: torch.Tensor) -> torch.Tensor:
    return torch.flatten(x, 1)


def _relu(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)


def _global_pool(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.adaptive_avg_pool2d(x, (1, 1))


def _family_stages(model: nn.Module) -> list[tuple[str | None, Callable]] | None:
    """The forward of known model families as ordered (module name | None, fn) stages."""
    if isinstance(model, nn.Sequential):
        return [(name, child) for name, child in model.named_children()]
    try:
        from torchvision import models as tvm
    except ImportError:  # pragma: no cover - torchvision is a dependency
        return None
    if isinstance(model, tvm.ResNet):
        names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        stages = [(n, getattr(model, n)) for n in names]
        return [*stages, ("avgpool", model.avgpool), (None, _flatten), ("fc", model.fc)]
    if isinstance(model, tvm.DenseNet):
        return [
            ("features", model.features),
            (None, _relu),
            (None, _global_pool),
            (None, _flatten),
            ("classifier", model.classifier),
        ]
    if isinstance(model, tvm.SqueezeNet):
        return [("features", model.features), ("classifier", model.classifier), (None, _flatten)]
    if isinstance(model, tvm.MobileNetV2):
        return [
            ("features", model.features),
            (None, _global_pool),
            (None, _flatten),
            ("classifier", model.classifier),
        ]
    if isinstance(model, tvm.VGG | tvm.AlexNet | tvm.MobileNetV3 | tvm.EfficientNet):
        return [
            ("features", model.features),
            ("avgpool", model.avgpool),
            (None, _flatten),
            ("classifier", model.classifier),
        ]
    return None


def _expand(stages: list[tuple[str | None, Callable]]) -> list[tuple[str | None, Callable]]:
    """Expand nn.Sequential stages into their children, recursively.

    A ``(name, None)`` entry is an alias: the cut after it is the cut after the
    previous stage (a Sequential ends where its last child ends).
    """
    out: list[tuple[str | None, Callable]] = []
    for name, fn in stages:
        if name is not None and isinstance(fn, nn.Sequential) and len(fn) > 0:
            out.extend(_expand([(f"{name}.{c}", m) for c, m in fn.named_children()]))
            # The Sequential's output is its last child's output: one cut, two names.
            out.append((name, None))
        else:
            out.append((name, fn))
    return out


class _Chain(nn.Module):
    def __init__(self, fns: list[Callable]) -> None:
        super().__init__()
        self.fns = fns
        self.parts = nn.ModuleList([f for f in fns if isinstance(f, nn.Module)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fn in self.fns:
            x = fn(x)
        return x


def _chain_cuts(model: nn.Module) -> dict[str, int] | None:
    stages = _family_stages(model)
    if stages is None:
        return None
    expanded = _expand(stages)
    cuts: dict[str, int] = {}
    n_real = 0
    for name, fn in expanded:
        if fn is not None:
            n_real += 1
        if name is not None:
            cuts[name] = n_real  # cut after the first n_real real stages
    return cuts


def _chain_split(model: nn.Module, layer: str) -> tuple[nn.Module, nn.Module]:
    fns = [fn for _, fn in _expand(_family_stages(model)) if fn is not None]
    k = _chain_cuts(model)[layer]
    return _Chain(fns[:k]), _Chain(fns[k:])


# ------------------------------------------------------------------------- API
def split_points(model: nn.Module, method: str = "fx") -> list[str]:
    """Names of the modules at which ``model`` can be cut, in forward order.

    Parameters
    ----------
    model : nn.Module
    method : {"fx", "chain"}
        ``"fx"``: every module called once whose output is the only value
        flowing on. ``"chain"``: the stages of a Sequential / known family.
    """
    if method == "fx":
        return _TracedModel(model).valid_layers()
    if method == "chain":
        cuts = _chain_cuts(model)
        if cuts is None:
            raise ValueError(
                f"method='chain' supports nn.Sequential and torchvision ResNet, DenseNet, "
                f"SqueezeNet, VGG, AlexNet, MobileNet and EfficientNet, not "
                f"{type(model).__name__}; use method='fx' or SplitModel.from_callables"
            )
        return sorted(cuts, key=lambda n: cuts[n])
    raise ValueError(f"method must be 'fx', 'chain' or 'auto', got {method!r}")


def split_model(
    model: nn.Module,
    layer: str,
    *,
    method: str = "auto",
    input_size: Sequence[int] | None = None,
) -> SplitModel:
    """Cut ``model`` after the module named ``layer``.

    The model is put in eval mode (batch-norm statistics must not depend on the batch).

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    layer : str
        A name from ``model.named_modules()``, e.g. ``"layer4"`` or ``"avgpool"``
        (ResNet), ``"features.12"`` (SqueezeNet), ``"features.denseblock4"``
        (DenseNet). See :func:`split_points`.
    method : {"auto", "fx", "chain"}
        ``"auto"`` uses torch.fx and falls back to ``"chain"`` when tracing fails.
    input_size : tuple of int, optional
        Expected input shape ``(C, H, W)``.

    Raises
    ------
    ValueError
        If ``layer`` is not a module of the model or not a valid cut; the
        message lists the valid layer names.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}; "
            "for other models use SplitModel.from_callables(bottom, top)"
        )
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a module name (str), got {type(layer).__name__}")
    if method not in ("auto", "fx", "chain"):
        raise ValueError(f"method must be 'fx', 'chain' or 'auto', got {method!r}")
    model.eval()

    traced = None
    if method in ("auto", "fx"):
        try:
            traced = _TracedModel(model)
        except Exception as err:  # fx raises many error types for untraceable code
            if method == "fx":
                raise ValueError(f"torch.fx cannot trace {type(model).__name__}: {err}") from err
    if traced is not None:
        valid = traced.valid_layers()
        _require_layer(model, layer, valid)
        bottom, top, mutates = traced.split(layer)
        return SplitModel(
            bottom, top, layer=layer, model=model, input_size=input_size, clone_top_input=mutates
        )

    valid = split_points(model, method="chain")
    _require_layer(model, layer, valid)
    bottom, top = _chain_split(model, layer)
    return SplitModel(
        bottom, top, layer=layer, model=model, input_size=input_size, clone_top_input=True
    )


def _require_layer(model: nn.Module, layer: str, valid: list[str]) -> None:
    if layer in valid:
        return
    listing = ", ".join(valid)
    if layer not in dict(model.named_modules()) or layer == "":
        raise ValueError(
            f"layer {layer!r} is not a module of {type(model).__name__}; valid layers: {listing}"
        )
    raise ValueError(
        f"cannot cut {type(model).__name__} at {layer!r}: its output is not the only value "
        f"flowing on (inside a residual/dense block, or called more than once); "
        f"valid layers: {listing}"
    )
