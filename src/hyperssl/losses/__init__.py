"""Losses as plain functions of tensors, one module per family (equations in the docstrings)."""

from hyperssl.losses.align_uniform import align_loss, uniform_loss, uniform_loss_with_queue
from hyperssl.losses.contrastive import info_nce, info_nce_queue, nt_xent, nt_xent_views
from hyperssl.losses.dcl import dcl_loss, dclw_loss
from hyperssl.losses.dino import dino_loss
from hyperssl.losses.hcr import hcr_loss
from hyperssl.losses.koleo import koleo_loss
from hyperssl.losses.mhe import MHE_POWERS, mhe_embedding_energy, mhe_energies, mhe_energy
from hyperssl.losses.nnclr import nearest_neighbours, nnclr_loss
from hyperssl.losses.redundancy import barlow_twins_loss, vicreg_loss
from hyperssl.losses.regression import byol_loss, simsiam_loss
from hyperssl.losses.supcon import supcon_loss
from hyperssl.losses.swav import sinkhorn_knopp, swav_loss
from hyperssl.losses.wasserstein_uniformity import wasserstein_uniformity

__all__ = [
    "MHE_POWERS",
    "align_loss",
    "barlow_twins_loss",
    "byol_loss",
    "dcl_loss",
    "dclw_loss",
    "dino_loss",
    "hcr_loss",
    "info_nce",
    "info_nce_queue",
    "koleo_loss",
    "mhe_embedding_energy",
    "mhe_energies",
    "mhe_energy",
    "nearest_neighbours",
    "nnclr_loss",
    "nt_xent",
    "nt_xent_views",
    "simsiam_loss",
    "sinkhorn_knopp",
    "supcon_loss",
    "swav_loss",
    "uniform_loss",
    "uniform_loss_with_queue",
    "vicreg_loss",
    "wasserstein_uniformity",
]
