"""The functional-correctness test of Kim & Kim, "Spherization Layer: Representation Using Only
Angles" (NeurIPS 2022), on its toy task, in a plain PyTorch loop with
:class:`hyperssl.layers.SphericLinear`.

The task and networks are those of the reference's ``toy_task.py`` (GIST-IRR/spherization_layer):

- data: 200 points in 2-D, class 0 drawn uniformly from the 0.1-wide square centred on (0, 0),
  class 1 from the one centred on (1, 1);
- ``baseline``: Linear(2, 2) -> sigmoid -> Linear(2, 2), its hidden points in the unit square;
- ``spheric``: Linear(2, 1, no bias) -> the spherization layer, which maps that one pre-activation
  to a point of the quarter circle of radius r -> Linear(2, 2, no bias), so the decision boundary
  is a line through the origin and a point's class depends on its angle only;
- plain SGD (no momentum), cross-entropy, its README's settings: 100 epochs, lr 0.01, batch 16,
  scaling 1, radius 1, lrable TF (scaling learnable, radius fixed).

The test passes when the spherized network separates the two clusters as the baseline does (100%
accuracy on the 200 points) with its hidden points on the circle (norm r, both coordinates > 0).
With the README's settings both get there well before epoch 100 for seed 1 (the default); at lr
0.01 the baseline is slow to leave chance for some seeds, so ``--lr 0.5 --n-epochs 10`` is the
quick check.

    python scripts/examples/spherization_toy_task.py --net baseline spheric --n-epochs 100 \\
        --lr 0.01 --batch-size 16 --scaling 1.0 --radius 1.0 --lrable TF
    python scripts/examples/spherization_toy_task.py --out runs/toy_task  # and write the figure

Prints each network's final accuracy and loss on the 200 points. With ``--out`` it also writes
``toy_task.csv`` (per network and epoch: mean training loss and the accuracy of the epoch's
batches) and ``toy_task.png`` (each network's hidden points by class, with its decision boundary),
and refuses a folder that already holds either.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from matplotlib.axes import Axes
from spherization_cli import add_spherization_flags, check_flags, refuse_earlier_outputs
from torch import Tensor, nn

from hyperssl.eval.figure_layout import new_figure
from hyperssl.layers import SphericLinear

NETS = ("baseline", "spheric")
POINTS_PER_CLASS = 100
CLUSTER_CENTRES = ((0.0, 0.0), (1.0, 1.0))
CLUSTER_WIDTH = 0.1
OUTPUTS = ("toy_task.csv", "toy_task.png")


def toy_data(seed: int) -> tuple[Tensor, Tensor]:
    """points: float32 [200, 2]; labels: long [200], the first 100 class 0 (near the origin)."""
    rng = np.random.default_rng(seed)
    clusters = [
        np.asarray(centre) + (rng.random((POINTS_PER_CLASS, 2)) - 0.5) * CLUSTER_WIDTH
        for centre in CLUSTER_CENTRES
    ]
    points = torch.tensor(np.vstack(clusters), dtype=torch.float32)
    labels = torch.arange(len(CLUSTER_CENTRES)).repeat_interleave(POINTS_PER_CLASS)
    return points, labels


class ToyBaseline(nn.Module):
    """x [B, 2] -> sigmoid(fc1 x) [B, 2] (the hidden points) -> fc2 -> logits [B, 2]."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 2)
        self.fc2 = nn.Linear(2, 2)

    def hidden(self, points: Tensor) -> Tensor:
        return torch.sigmoid(self.fc1(points))

    def forward(self, points: Tensor) -> Tensor:
        return self.fc2(self.hidden(points))


class ToySpheric(nn.Module):
    """x [B, 2] -> fc1 [B, 1] -> spherization (the hidden points, on the quarter circle of radius
    r) [B, 2] -> bias-free linear -> logits [B, 2]."""

    def __init__(self, scaling: float, radius: float, lrable: str, delta: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, 1, bias=False)
        self.classifier = SphericLinear(1, 2, scaling, radius, lrable, delta)

    def hidden(self, points: Tensor) -> Tensor:
        return self.classifier.spherization(self.fc1(points))

    def forward(self, points: Tensor) -> Tensor:
        return self.classifier(self.fc1(points))


@dataclass
class ToyResult:
    net: ToyBaseline | ToySpheric
    history: list[dict[str, float]]  # per epoch: mean training loss, accuracy of its batches
    accuracy: float  # on the 200 points after training
    loss: float
    hidden: Tensor  # [200, 2] hidden points after training
    labels: Tensor  # [200]


def build_net(name: str, args: argparse.Namespace) -> ToyBaseline | ToySpheric:
    if name == "baseline":
        return ToyBaseline()
    return ToySpheric(args.scaling, args.radius, args.lrable, args.delta)


def train(name: str, args: argparse.Namespace) -> ToyResult:
    """The reference's loop for network ``name``; writes nothing."""
    torch.manual_seed(args.seed)
    points, labels = toy_data(args.seed)
    net = build_net(name, args)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr)
    shuffle = torch.Generator().manual_seed(args.seed)
    history = []
    for epoch in range(1, args.n_epochs + 1):
        loss_sum, correct = 0.0, 0
        for batch in torch.randperm(len(points), generator=shuffle).split(args.batch_size):
            logits = net(points[batch])
            loss = F.cross_entropy(logits, labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            correct += (logits.argmax(dim=1) == labels[batch]).sum().item()
        history.append(
            {"epoch": epoch, "loss": loss_sum / len(points), "accuracy": correct / len(points)}
        )
    with torch.no_grad():
        logits = net(points)
        hidden = net.hidden(points)
    return ToyResult(
        net=net,
        history=history,
        accuracy=(logits.argmax(dim=1) == labels).float().mean().item(),
        loss=F.cross_entropy(logits, labels).item(),
        hidden=hidden,
        labels=labels,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", nargs="+", choices=NETS, default=list(NETS))
    parser.add_argument("--n-epochs", "--n_epochs", dest="n_epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=16)
    add_spherization_flags(parser)
    parser.add_argument("--out", type=Path, help="folder for toy_task.csv and toy_task.png")
    args = parser.parse_args(argv)
    check_flags(args, [("--batch-size", args.batch_size, args.batch_size >= 1, ">= 1")])
    return args


def plot_hidden(ax: Axes, name: str, result: ToyResult, radius: float) -> None:
    """The hidden points by class and the decision boundary (where the two logits are equal)."""
    hidden = result.hidden.numpy()
    for label, centre in enumerate(CLUSTER_CENTRES):
        chosen = result.labels.numpy() == label
        ax.scatter(*hidden[chosen].T, s=12, label=f"class {label}: cluster at {centre}")
    last = result.net.fc2 if name == "baseline" else result.net.classifier.linear
    normal = (last.weight[1] - last.weight[0]).detach().numpy()
    offset = 0.0 if last.bias is None else (last.bias[1] - last.bias[0]).item()
    extent = 1.1 * (1.0 if name == "baseline" else radius)
    if name == "spheric":
        angles = np.linspace(0.0, np.pi / 2, 100)
        ax.plot(radius * np.cos(angles), radius * np.sin(angles), color="grey", lw=0.8)
    # normal . h + offset = 0, drawn along its direction through the square [0, extent]^2.
    along = np.array([-normal[1], normal[0]]) / np.linalg.norm(normal)
    foot = -offset * normal / np.dot(normal, normal)
    ends = foot + np.outer([-10 * extent, 10 * extent], along)
    ax.plot(ends[:, 0], ends[:, 1], "k--", lw=1, label="decision boundary")
    ax.set(xlim=(-0.05, extent), ylim=(-0.05, extent), aspect="equal", xlabel="h1", ylabel="h2")
    ax.set_title(f"{name}: accuracy {result.accuracy:.3f}, loss {result.loss:.4f}")
    ax.legend(loc="lower right", fontsize=7)


def write_outputs(results: dict[str, ToyResult], args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "toy_task.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["net", "epoch", "loss", "accuracy"])
        writer.writeheader()
        for name, result in results.items():
            writer.writerows({"net": name, **row} for row in result.history)
    figure = new_figure()
    figure.set_size_inches(5 * len(results), 5.4)
    axes = figure.subplots(1, len(results), squeeze=False)[0]
    for ax, (name, result) in zip(axes, results.items(), strict=True):
        plot_hidden(ax, name, result, args.radius)
    figure.suptitle("Spherization toy task: hidden representations after training")
    figure.savefig(args.out / "toy_task.png")


def main(argv: Sequence[str] | None = None) -> dict[str, ToyResult]:
    args = parse_args(argv)
    if args.out is not None:
        refuse_earlier_outputs(args.out, OUTPUTS)
    results = {name: train(name, args) for name in dict.fromkeys(args.net)}
    for name, result in results.items():
        line = (
            f"{name}: accuracy {result.accuracy:.3f}, loss {result.loss:.4f} "
            f"after {args.n_epochs} epochs"
        )
        if name == "spheric":
            norms = result.hidden.norm(dim=1)
            line += f"; hidden norms {norms.min():.4f}..{norms.max():.4f} (radius {args.radius})"
        print(line)
    if args.out is not None:
        write_outputs(results, args)
        print(f"history and figure in {args.out}")
    return results


if __name__ == "__main__":
    main()
