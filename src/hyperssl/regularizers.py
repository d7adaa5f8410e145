"""Drop-in regularizers with the reference code's APIs: HCR (its own optimizer step) and MHE
(the summed energy of a model's layers).

For use inside a method, the loss heads of :mod:`hyperssl.heads` wrap the same loss functions
as terms of the main objective, which avoids HCR's second optimizer altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from hyperssl.errors import ConfigError
from hyperssl.geometry import loss_dtype
from hyperssl.losses.hcr import hcr_loss
from hyperssl.losses.mhe import check_power, mhe_energies

LayerFilter = Callable[[str, nn.Module], bool]


class HCR:
    """Hyperspherical consistency regularization as a drop-in (Tan et al. CVPR 2022)::

        hcr = HCR(classifier, lr)
        for images, labels in loader:
            logits, projections = model(images)
            loss = criterion(logits, labels)
            optimizer.zero_grad()
            loss.backward(retain_graph=True)  # keep the graph for hcr.update
            hcr.update(logits, projections)   # before optimizer.step(), see below
            optimizer.step()

    ``update`` computes ``weight * hcr_loss(logits, projections)`` and takes one step of its
    own optimizer (SGD by default) on the classifier's parameters only.

    Pitfalls, all inherited from the reference's design:

    - It is a *second optimizer* stepping the classifier: those parameters move twice per
      iteration (main step + HCR step), with HCR's learning rate and none of the main
      optimizer's momentum, weight decay or schedule. A scheduler of the main optimizer does not
      change ``lr`` here.
    - It backpropagates through the logits' graph, so the graph must still exist: call it after
      ``loss.backward(retain_graph=True)``, or before the main backward; and always before the
      main ``optimizer.step()``, whose in-place update of the classifier invalidates the graph
      ("modified by an inplace operation"). Calling it after a step, or after a backward
      without ``retain_graph``, raises. Alternatively pass logits from a fresh forward of the
      classifier on detached features: then the order does not matter.
    - Calling it before the main backward on the same graph is also wrong: the HCR step
      modifies the classifier in place before the main backward reads it.
    - Gradients go to the classifier's parameters only (``torch.autograd.grad``), and their
      ``.grad`` is restored after the step, so the main loss's accumulated gradients are
      untouched. The reference calls ``loss.backward()``, which also accumulates into every
      parameter upstream of the logits (the backbone), where the main optimizer may apply them.
    - Under DDP the HCR step is not all-reduced: pass gathered logits and projections or the
      replicas' classifiers drift apart. Under AMP the loss is computed in float32 and is not
      scaled by a GradScaler.

    The reference defaults to ``torch.optim.Adam``; pass ``optimizer_cls=torch.optim.Adam`` to
    match it.
    """

    def __init__(
        self,
        classifier: nn.Module,
        lr: float,
        weight: float = 1.0,
        optimizer_cls: type[torch.optim.Optimizer] = torch.optim.SGD,
        **optimizer_kwargs: Any,
    ) -> None:
        self.params = [p for p in classifier.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the classifier has no parameter that requires grad")
        self.weight = weight
        self.optimizer = optimizer_cls(self.params, lr=lr, **optimizer_kwargs)

    def update(self, logits: Tensor, projections: Tensor) -> Tensor:
        """One optimizer step on ``weight * hcr_loss(logits, projections)``.

        logits: [B, C] (must depend on the classifier), projections: [B, D] -> the detached
        weighted loss, for logging.
        """
        loss = self.weight * hcr_loss(logits, projections)
        grads = torch.autograd.grad(loss, self.params, retain_graph=True, allow_unused=True)
        saved = [p.grad for p in self.params]
        for param, grad in zip(self.params, grads, strict=True):
            param.grad = grad
        self.optimizer.step()
        for param, grad in zip(self.params, saved, strict=True):
            param.grad = grad
        return loss.detach()


# The reference code's coefficients: hidden layers x 1 (x 0.1 for a1/a2), the final layer
# x 10 (x 1 for a1/a2); train.py adds both sums to the loss unscaled.
_HIDDEN_WEIGHT = {"0": 1.0, "1": 1.0, "2": 1.0, "a0": 1.0, "a1": 0.1, "a2": 0.1}
_FINAL_WEIGHT = {"0": 10.0, "1": 10.0, "2": 10.0, "a0": 10.0, "a1": 1.0, "a2": 1.0}


class MHE(nn.Module):
    """Minimum hyperspherical energy of a model's neurons (Liu et al. NeurIPS 2018).

    ``forward()`` returns ``weight * Σ_hidden E(layer) + final_weight * E(final)`` with ``E`` the
    :func:`hyperssl.losses.mhe_energy` of each layer's weight (each output neuron one point).

    Layers: every ``nn.Conv2d`` and ``nn.Linear`` of ``model``, restricted to the module names
    that start with one of ``layers`` (if given) and accepted by ``layer_filter(name, module)``
    (if given). The *final* layer is ``final_layer`` if named (it need not pass the filters),
    else the last selected ``nn.Linear``; it has its own coefficient and, as in the reference,
    is never half-space. ``weight`` / ``final_weight`` default to the reference's coefficients
    for ``power``: 1 and 10 (0.1 and 1 for a1, a2).

    One Gram matrix per layer, no loop over pairs, only the pairs i<j evaluated. (Stacking the
    layers of equal shape into one bmm saves a few kernel launches but copies every weight, which
    costs more on a ResNet.) The module holds no parameters and does not register ``model`` as a
    submodule (that would duplicate its weights in the model's state dict).
    """

    def __init__(
        self,
        model: nn.Module,
        power: str | int = "0",
        half_space: bool = False,
        weight: float | None = None,
        final_weight: float | None = None,
        layers: Sequence[str] | None = None,
        final_layer: str | None = None,
        layer_filter: LayerFilter | None = None,
    ) -> None:
        super().__init__()
        self.power = check_power(power)
        self.half_space = half_space
        self.weight = _HIDDEN_WEIGHT[self.power] if weight is None else weight
        self.final_weight = _FINAL_WEIGHT[self.power] if final_weight is None else final_weight
        prefixes = tuple(layers) if layers is not None else None
        selected = [
            (name, module)
            for name, module in model.named_modules()
            if isinstance(module, nn.Conv2d | nn.Linear)
            and (prefixes is None or _has_prefix(name, prefixes))
            and (layer_filter is None or layer_filter(name, module))
        ]
        final: tuple[str, nn.Module] | None = None
        if final_layer is not None:
            try:
                final = (final_layer, model.get_submodule(final_layer))
            except AttributeError:
                raise ConfigError(
                    key="final_layer", problem=f"the model has no module {final_layer!r}"
                ) from None
        else:
            linears = [item for item in selected if isinstance(item[1], nn.Linear)]
            final = linears[-1] if linears else None
        hidden = [item for item in selected if final is None or item[1] is not final[1]]
        if not hidden and final is None:
            raise ConfigError(
                key="layers",
                problem=f"{list(prefixes) if prefixes else 'the filter'} selects no Conv2d or "
                "Linear layer of the model",
            )
        # Plain tuples: the modules stay owned by ``model`` and out of this module's state dict.
        self._hidden: tuple[nn.Module, ...] = tuple(module for _, module in hidden)
        self._final: tuple[nn.Module, ...] = (final[1],) if final is not None else ()
        self.hidden_names: tuple[str, ...] = tuple(name for name, _ in hidden)
        self.final_name: str | None = final[0] if final is not None else None

    def forward(self) -> Tensor:
        """The weighted total energy, a scalar with gradient to the layers' weights: float32
        (float64 if a selected layer's weight is float64)."""
        weights = [module.weight for module in (*self._hidden, *self._final)]
        total = torch.zeros((), dtype=loss_dtype(*weights), device=weights[0].device)
        for module, coefficient, half_space in (
            *((m, self.weight, self.half_space) for m in self._hidden),
            *((m, self.final_weight, False) for m in self._final),
        ):
            flat = module.weight.reshape(1, module.weight.shape[0], -1)
            total = total + coefficient * mhe_energies(flat, self.power, half_space)[0]
        return total

    def extra_repr(self) -> str:
        return (
            f"power={self.power!r}, half_space={self.half_space}, weight={self.weight}, "
            f"final_weight={self.final_weight}, hidden_layers={len(self._hidden)}, "
            f"final_layer={self.final_name!r}"
        )


def _has_prefix(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)
