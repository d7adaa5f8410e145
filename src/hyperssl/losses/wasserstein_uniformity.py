"""The Wasserstein uniformity of a batch (Fang et al., "Rethinking the Uniformity Metric in
Self-Supervised Learning", ICLR 2024, Sec. 4).

Points uniform on the unit sphere S^{m-1} are, for large m, close to N(0, I/m) in distribution.
With N(μ, Σ) the Gaussian of the batch's normalised rows' mean and covariance, the quadratic
Wasserstein distance between the two Gaussians has the closed form

    W2² = ||μ||² + 1 + tr(Σ) - (2/√m) tr(Σ^{1/2})

and the paper takes W2 as its uniformity metric (smaller: more uniform) and, as the loss added
to an SSL objective, W2 again. Unlike Wang & Isola's L_uniform it sees dimensional collapse:
points spread uniformly over a few dimensions are far from N(0, I/m).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hyperssl.geometry import no_autocast, to_loss_dtype


def wasserstein_uniformity(x: Tensor) -> Tensor:
    r"""W2 = sqrt(||μ||² + 1 + tr(Σ) - (2/√m) tr(Σ^{1/2})) of the rows x̂_i of x normalised
    here, μ = (1/B) Σ_i x̂_i, Σ = (1/B) Σ_i (x̂_i - μ)(x̂_i - μ)ᵀ (Fang et al. 2024, Sec. 4).

    As the paper's code computes it (github.com/statsle/WassersteinSSL, ``calc_wasserstein_loss``
    in code/*/module.py for the loss, ``calc_wasserstein_distance`` in metric.py for the
    metric): W2 itself, not W2², for both; Σ with 1/B, not 1/(B-1); the rows L2-normalised
    first. For unit rows tr(Σ) = 1 - ||μ||², so W2² = 2 - (2/√m) tr(Σ^{1/2}) lies in [0, 2]:
    √2 for a batch collapsed to one point, 0 only for μ = 0 and Σ = I/m.

    tr(Σ^{1/2}), the sum of the square roots of Σ's eigenvalues, is computed as the nuclear
    norm of the centred rows X_c ([B, m]), the sum of their singular values s_k, divided by √B:
    Σ = X_cᵀ X_c / B has the eigenvalues s_k² / B. The reference code takes the eigenvalues of Σ
    (``torch.eig``, their absolute values; the metric adds 1e-8 before the square root) and
    rebuilds Σ^{1/2}; its value is the same, but the derivative of √λ is infinite at λ = 0,
    which a collapsed batch, duplicate or antipodal rows, or B <= m (rank(X_c) < m) all give.
    The nuclear norm's gradient is U Vᵀ (X_c = U diag(s) Vᵀ), of spectral norm 1 whatever the
    spectrum: ``svdvals`` backpropagates through the singular values alone, so repeated or zero
    singular values do not enter its backward (the singular-vector terms that would divide by
    s_i² - s_j² are not needed). At s_k = 0 that is a subgradient, a direction along which s_k
    grows, where the loss decreases. Working on X_c rather than Σ also avoids squaring its
    condition number in float32. The only clamp left is W2² >= the dtype's machine epsilon
    before the square root (W2 = 0 is reached only by a perfectly uniform batch; float32
    rounding of W2² is ~1e-7 anyway).

    Computed with autocast off, in float32 (float64 for float64 x). The SVD costs
    O(B m min(B, m)): ~0.06 s for B = 2000, m = 512 on one CPU thread without gradient (only
    the singular values are computed then), ~0.15 s forward and backward. On CUDA
    ``torch.linalg.svdvals`` waits for the device once per call (PyTorch checks the solver's
    convergence flag on the host, as for every spectral decomposition in torch.linalg); no
    other value is read back.

    x: [B, m] -> scalar.
    """
    with no_autocast(x):
        unit = F.normalize(to_loss_dtype(x), dim=1)
        batch, dim = unit.shape
        mean = unit.mean(dim=0)
        centred = unit - mean
        trace_cov = centred.square().sum() / batch
        trace_sqrt_cov = torch.linalg.svdvals(centred).sum() / math.sqrt(batch)
        w2_squared = mean.square().sum() + 1.0 + trace_cov - 2.0 / math.sqrt(dim) * trace_sqrt_cov
        return w2_squared.clamp_min(torch.finfo(unit.dtype).eps).sqrt()
