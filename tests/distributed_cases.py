"""Each batch-level loss on 2 CPU processes (gloo + DDP) vs one process on the global batch.

A case maps model outputs to a StepOutput; the same tiny model runs once on the concatenated
global batch (reference) and under DistributedDataParallel on each rank's shard, the StepOutput
gathered with :meth:`StepOutput.gathered` as the methods do.

In float64: the geodesic losses' gradients near an angle of zero carry float32 rounding of about
1e-3 relative (arccos' slope), so two float32 sums in different orders differ by more than any
tolerance that would still catch a wrong gather; in float64 the two agree to 1e-12.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hyperssl.heads import HEADS as HEAD_REGISTRY
from hyperssl.heads import LossHead, StepOutput, build_head

WORLD = 2
DTYPE = torch.float64
BATCH = 6  # per rank
DIM = 8
QUEUE = F.normalize(
    torch.randn(2, 16, DIM, generator=torch.Generator().manual_seed(1), dtype=DTYPE), dim=2
)
PROTOTYPES = F.normalize(
    torch.randn(5, DIM, generator=torch.Generator().manual_seed(3), dtype=DTYPE), dim=1
)
# The named outputs and state the methods' own heads read (SwAV, DINO, NNCLR), made from the
# tiny model's outputs: per-view entries are gathered like z, state is the same on every rank.
STATE = {
    "queue_scores": QUEUE[:, :4] @ PROTOTYPES.T,  # SwAV: [large views, queued, prototypes]
    "support_set": QUEUE[0],  # NNCLR: [K, D]
    "center": 0.1 * PROTOTYPES[0],  # DINO: [D] (the tiny student and teacher logits are [B, D])
    "teacher_temperature": torch.tensor(0.04, dtype=DTYPE),
}


class TwoHeads(nn.Module):
    """z = A x per view, p = B z, logits = C x: enough to feed every head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b, self.c = nn.Linear(5, DIM), nn.Linear(DIM, DIM), nn.Linear(5, 4)
        self.to(DTYPE)

    def forward(self, x1, x2):
        z1, z2 = self.a(x1), self.a(x2)
        return z1, z2, self.b(z1), self.b(z2), self.c(x1)


def step_output(outputs, labels) -> StepOutput:
    z1, z2, p1, p2, logits = outputs
    return StepOutput(
        labels=labels,
        z=[z1, z2],
        p=[p1, p2],
        k=[z2.detach() * 0.5, z1.detach() * 0.5],
        logits=logits,
        queue=QUEUE,
        embeddings={
            "prototype_scores": [F.normalize(z, dim=1) @ PROTOTYPES.T for z in (z1, z2)],
            "student_logits": [p1, p2],
            "teacher_logits": [z2.detach(), z1.detach()],
        },
        state=STATE,
    )


# Every registered head, in the geodesic geometry; MHE of the weights reads no batch, so MHE is
# tested on the step's embeddings.
HEADS = HEAD_REGISTRY.names()
HEAD_VALUES = {"mhe": {"target": "embeddings"}}


def make_head(name: str) -> LossHead:
    return build_head(name, HEAD_VALUES.get(name), "geodesic")


def global_batch():
    generator = torch.Generator().manual_seed(2)
    x1 = torch.randn(WORLD * BATCH, 5, generator=generator, dtype=DTYPE)
    x2 = x1 + 0.1 * torch.randn(WORLD * BATCH, 5, generator=generator, dtype=DTYPE)
    labels = torch.randint(0, 4, (WORLD * BATCH,), generator=generator)
    return x1, x2, labels


def reference(name: str):
    model = TwoHeads()
    x1, x2, labels = global_batch()
    loss = make_head(name)(step_output(model(x1, x2), labels))
    loss.backward()
    return loss.item(), gradients(model)


def gradients(model: nn.Module) -> dict:
    """Each parameter's gradient (zeros for the ones a head does not use)."""
    return {
        name.removeprefix("module."): p.grad.clone() if p.grad is not None else torch.zeros_like(p)
        for name, p in model.named_parameters()
    }


def worker(rank: int, port: int, results: dict) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    x1, x2, labels = global_batch()
    shard = slice(rank * BATCH, (rank + 1) * BATCH)
    for name in HEADS:
        model = DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
        local = step_output(model(x1[shard], x2[shard]), labels[shard])
        loss = make_head(name)(local.gathered())
        loss.backward()
        results[(rank, name)] = (loss.item(), gradients(model))
    order = local.gathered().labels
    results[(rank, "gather_order")] = order
    dist.destroy_process_group()
