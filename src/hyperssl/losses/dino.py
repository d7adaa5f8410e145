"""Self-distillation without labels: DINO's cross-entropy between a centred, sharpened teacher
and the student, and its teacher temperature schedule."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometry import loss_dtype, no_autocast, to_loss_dtype


def dino_loss(
    student_logits: list[Tensor],
    teacher_logits: list[Tensor],
    center: Tensor,
    student_temperature: float,
    teacher_temperature: float | Tensor,
) -> Tensor:
    r"""DINO's loss (Caron et al., ICCV 2021, Eq. 1-3):

        P_s(x') = softmax(g_s(x') / τ_s)                       (1)
        P_t(x)  = softmax((g_t(x) - c) / τ_t)                   (centering and sharpening)
        L = 1/|pairs| Σ_{x ∈ teacher views} Σ_{x' ∈ views, x' ≠ x} H(P_t(x), P_s(x'))   (2, 3)

    with H(a, b) = -Σ_k a_k log b_k averaged over the batch. The teacher views are the large
    crops, which come first in ``student_logits`` too, so "x' ≠ x" skips student view i for
    teacher view i. Averaging over the pairs (not summing, as Eq. 3 writes it) is what the
    official code and solo-learn do. The teacher's probabilities carry no gradient.

    student_logits: V tensors [B, K] (every view); teacher_logits: V_t <= V tensors [B, K] (the
    large crops); center: [K]; τ_t may be a 0-dim tensor (the method's schedule). -> scalar,
    float32 (float64 when an input is float64), autocast off.
    """
    with no_autocast(student_logits[0]):
        dtype = loss_dtype(*student_logits, *teacher_logits)
        center = to_loss_dtype(center, dtype)
        targets = [
            F.softmax((to_loss_dtype(t.detach(), dtype) - center) / teacher_temperature, dim=1)
            for t in teacher_logits
        ]
        log_probs = [
            F.log_softmax(to_loss_dtype(s, dtype) / student_temperature, dim=1)
            for s in student_logits
        ]
        terms = [
            -(target * log_prob).sum(dim=1).mean()
            for i, target in enumerate(targets)
            for v, log_prob in enumerate(log_probs)
            if v != i
        ]
        return torch.stack(terms).mean()


def teacher_temperature_at(
    epoch: int, warmup_temperature: float, temperature: float, warmup_epochs: int
) -> float:
    """τ_t of ``epoch`` (0-based): linear from ``warmup_temperature`` at epoch 0 to
    ``temperature`` at epoch ``warmup_epochs - 1``, then constant (the paper's "linear warm-up
    from 0.04 to 0.07 during the first 30 epochs"; the reference's
    ``np.linspace(warmup, temperature, warmup_epochs)``, so one warm-up epoch is just
    ``warmup_temperature``)."""
    if epoch >= warmup_epochs:
        return temperature
    if warmup_epochs == 1:
        return warmup_temperature
    return warmup_temperature + (temperature - warmup_temperature) * epoch / (warmup_epochs - 1)


@torch.no_grad()
def updated_center(center: Tensor, teacher_logits: list[Tensor], momentum: float) -> Tensor:
    """The teacher's center after a step (Eq. 4): c ← m·c + (1 - m)·mean of the teacher outputs
    over the batch and every teacher view (the global batch when they are gathered).

    center: [K]; teacher_logits: V_t tensors [B, K] -> [K] in ``center``'s dtype.
    """
    batch_mean = torch.cat(teacher_logits).to(center.dtype).mean(dim=0)
    return center * momentum + batch_mean * (1.0 - momentum)
