"""Losses as plain functions of tensors, one module per family (equations in the docstrings)."""

from hyperssl.losses.align_uniform import align_loss, uniform_loss, uniform_loss_with_queue
from hyperssl.losses.contrastive import info_nce, info_nce_queue, nt_xent, nt_xent_views
from hyperssl.losses.hcr import hcr_loss
from hyperssl.losses.mhe import MHE_POWERS, mhe_embedding_energy, mhe_energies, mhe_energy
from hyperssl.losses.regression import byol_loss, simsiam_loss

__all__ = [
    "MHE_POWERS",
    "align_loss",
    "byol_loss",
    "hcr_loss",
    "info_nce",
    "info_nce_queue",
    "mhe_embedding_energy",
    "mhe_energies",
    "mhe_energy",
    "nt_xent",
    "nt_xent_views",
    "simsiam_loss",
    "uniform_loss",
    "uniform_loss_with_queue",
]
