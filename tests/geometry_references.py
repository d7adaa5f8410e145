"""Plain autograd references of the geometry-generic losses, built from Geometry.similarity and
Geometry.squared_distance on whole matrices: what the hand-written kernels must reproduce."""

import torch
import torch.nn.functional as F

from hyperssl.geometries import Geometry


def reference_nt_xent(views: list[torch.Tensor], temperature: float, geometry: Geometry):
    """SupCon's L_out with the views of a sample as its class (SimCLR's NT-Xent for V = 2)."""
    num_views, batch = len(views), views[0].shape[0]
    z = F.normalize(torch.cat(views), dim=1)
    n = len(z)
    logits = geometry.similarity(z @ z.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool)
    log_prob = logits.masked_fill(self_mask, -torch.inf).log_softmax(dim=1)
    sample = torch.arange(n) % batch
    positive = (sample[:, None] == sample[None, :]) & ~self_mask
    return -log_prob[positive].view(n, num_views - 1).mean()


def reference_info_nce_queue(q, k, queue, temperature: float, geometry: Geometry):
    """Cross-entropy with target 0 over the concatenated [positive, queue] logits (MoCo)."""
    q, k = F.normalize(q, dim=1), F.normalize(k.detach(), dim=1)
    positive = geometry.similarity((q * k).sum(dim=1, keepdim=True))
    logits = torch.cat([positive, geometry.similarity(q @ queue.T)], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))


def reference_byol(p, z, geometry: Geometry):
    """Mean squared distance of the rows, their cosine taken by torch's own cosine_similarity."""
    return geometry.squared_distance(F.cosine_similarity(p, z, dim=1)).mean()
