"""The 3-D visualisation of Kim & Kim, "Spherization Layer: Representation Using Only Angles"
(NeurIPS 2022), on Fashion-MNIST: a small CNN whose last hidden layer has three outputs, trained
plain and spherized, with its test images' 3-D embeddings plotted by class.

The networks and settings are those of the reference's ``mnist_vis3d.py`` and ``models/``
(GIST-IRR/spherization_layer: ``SimpleCNNVis3D``, ``SphericCNNVis3D``), which ran on MNIST:

- a conv block of two 3x3 conv-BN-ReLU layers at 32, 64 and 128 channels, 2x2 max-pools after the
  first two pairs (28 -> 14 -> 7), then Linear(6272, 256)-ReLU;
- ``simple_cnn_3d``: Linear(256, 3), the embedding, then ReLU and Linear(3, 10);
- ``sph_cnn_3d``: Linear(256, 2), then the spherization layer, whose output is the embedding: a
  point of the sphere of radius r in 3-D (in the positive octant), then Linear(3, 10, no bias);
- Adam lr 0.001, 20 epochs, batch 64 (plain) and 32 (spherized), scaling 1, radius 1, lrable TF,
  pixels in [0, 1] with no normalisation or augmentation.

Fashion-MNIST is read by hyperssl's data layer (``data=fashion_mnist``): from Debian's
``dataset-fashion-mnist`` when no ``--data-path`` is given. Full-size runs want a GPU (about
30 MFLOPs per image; a CPU core takes minutes per epoch): ``--limit`` trains on that many randomly
chosen training images instead. Short runs leave the spherized network's angles saturated, its
embeddings on the edges of the octant (measured on one CPU core: 37% test accuracy after 3 epochs
on 10,000 images, 95 s); the reference's figure, after its 20 epochs on MNIST, has the classes
in clusters spread over the octant.

    python scripts/examples/spherization_vis3d.py --out runs/vis3d
    python scripts/examples/spherization_vis3d.py --net sph_cnn_3d --limit 10000 --n-epochs 5 \\
        --out runs/vis3d_small

Writes ``<out>/vis3d_<net>.png`` per network (its test embeddings coloured by class, with the
sphere for the spherized one), refusing a folder that already holds one, and prints each
network's test accuracy.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from matplotlib import colormaps
from omegaconf import OmegaConf
from spherization_cli import add_spherization_flags, check_flags, error_exit, refuse_earlier_outputs
from torch import Tensor, nn

from hyperssl.data.datasets import build_dataset
from hyperssl.data.in_memory import TensorImages
from hyperssl.data.schema import validate_data_config
from hyperssl.errors import ConfigError
from hyperssl.eval.figure_layout import new_figure
from hyperssl.layers import SphericLinear

NETS = ("simple_cnn_3d", "sph_cnn_3d")
REFERENCE_BATCH_SIZES = {"simple_cnn_3d": 64, "sph_cnn_3d": 32}
NUM_CLASSES = 10
EVAL_BATCH_SIZE = 500


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def conv_trunk() -> nn.Sequential:
    """[B, 1, 28, 28] -> [B, 256]: the reference's conv block, flattened, and its first linear."""
    return nn.Sequential(
        *_conv_bn_relu(1, 32),
        *_conv_bn_relu(32, 32),
        nn.MaxPool2d(2),
        *_conv_bn_relu(32, 64),
        *_conv_bn_relu(64, 64),
        nn.MaxPool2d(2),
        *_conv_bn_relu(64, 128),
        *_conv_bn_relu(128, 128),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 256),
        nn.ReLU(inplace=True),
    )


class PlainCNN3D(nn.Module):
    """``simple_cnn_3d``: embed [B, 1, 28, 28] -> [B, 3]; forward -> logits [B, 10]."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = conv_trunk()
        self.to_3d = nn.Linear(256, 3)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(3, NUM_CLASSES))

    def embed(self, images: Tensor) -> Tensor:
        return self.to_3d(self.trunk(images))

    def classify(self, embeddings: Tensor) -> Tensor:
        return self.classifier(embeddings)

    def forward(self, images: Tensor) -> Tensor:
        return self.classify(self.embed(images))


class SphericCNN3D(nn.Module):
    """``sph_cnn_3d``: embed [B, 1, 28, 28] -> [B, 3] on the sphere of radius r; forward ->
    logits [B, 10] by a bias-free linear layer on the embedding."""

    def __init__(self, scaling: float, radius: float, lrable: str, delta: float) -> None:
        super().__init__()
        self.trunk = conv_trunk()
        self.to_2d = nn.Linear(256, 2)
        self.classifier = SphericLinear(2, NUM_CLASSES, scaling, radius, lrable, delta)

    def embed(self, images: Tensor) -> Tensor:
        return self.classifier.spherization(self.to_2d(self.trunk(images)))

    def classify(self, embeddings: Tensor) -> Tensor:
        return self.classifier.linear(embeddings)

    def forward(self, images: Tensor) -> Tensor:
        return self.classify(self.embed(images))


@dataclass
class Vis3DResult:
    net: PlainCNN3D | SphericCNN3D
    accuracy: float  # on the test split
    embeddings: Tensor  # [N_test, 3], on the CPU
    labels: Tensor  # [N_test]
    train_images: int


def fashion_mnist_split(data_path: str | None, split: str) -> TensorImages:
    """One split as hyperssl's ``data=fashion_mnist`` reads it (``data_path`` None: where its
    schema looks by default, Debian's package folder)."""
    data = validate_data_config(
        OmegaConf.create({"dataset": "fashion_mnist", "train_path": data_path})
    )
    return build_dataset("fashion_mnist", data.train_path, split, key="--data-path")


def as_unit_grayscale(dataset: TensorImages) -> Tensor:
    """uint8 [N, 3, 28, 28] (grayscale replicated to RGB) -> float32 [N, 1, 28, 28] in [0, 1],
    what the reference's ToTensor gives."""
    return dataset.images[:, :1].float() / 255.0


def build_net(name: str, args: argparse.Namespace) -> PlainCNN3D | SphericCNN3D:
    if name == "simple_cnn_3d":
        return PlainCNN3D()
    return SphericCNN3D(args.scaling, args.radius, args.lrable, args.delta)


@torch.no_grad()
def evaluate(
    net: PlainCNN3D | SphericCNN3D, images: Tensor, labels: Tensor, device: torch.device
) -> tuple[float, Tensor]:
    """(accuracy, embeddings [N, 3] on the CPU) of ``net`` in eval mode."""
    net.eval()
    correct, embeddings = 0, []
    for batch, targets in zip(
        images.split(EVAL_BATCH_SIZE), labels.split(EVAL_BATCH_SIZE), strict=True
    ):
        embedding = net.embed(batch.to(device))
        correct += (net.classify(embedding).argmax(dim=1).cpu() == targets).sum().item()
        embeddings.append(embedding.cpu())
    return correct / len(labels), torch.cat(embeddings)


def train(
    name: str, args: argparse.Namespace, train_set: TensorImages, test_set: TensorImages
) -> Vis3DResult:
    """Train network ``name`` with the reference's loop; writes nothing."""
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    shuffle = torch.Generator().manual_seed(args.seed)
    images, labels = as_unit_grayscale(train_set), train_set.labels
    if args.limit is not None and args.limit < len(images):
        chosen = torch.randperm(len(images), generator=shuffle)[: args.limit]
        images, labels = images[chosen], labels[chosen]
    net = build_net(name, args).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    batch_size = args.batch_size or REFERENCE_BATCH_SIZES[name]
    for _ in range(args.n_epochs):
        net.train()
        for batch in torch.randperm(len(images), generator=shuffle).split(batch_size):
            loss = F.cross_entropy(net(images[batch].to(device)), labels[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    accuracy, embeddings = evaluate(net, as_unit_grayscale(test_set), test_set.labels, device)
    return Vis3DResult(net, accuracy, embeddings, test_set.labels.clone(), len(images))


def plot_embeddings(
    path: Path, name: str, result: Vis3DResult, classes: Sequence[str], args: argparse.Namespace
) -> None:
    """A 3-D scatter of the test embeddings coloured by class, a legend of the class names, and
    for the spherized network the octant of the sphere its embeddings lie on."""
    figure = new_figure()
    figure.set_size_inches(9.0, 6.5)
    axes = figure.add_subplot(projection="3d")
    if name == "sph_cnn_3d":
        polar, azimuth = np.meshgrid(np.linspace(0, np.pi / 2, 16), np.linspace(0, np.pi / 2, 16))
        radius = result.net.classifier.spherization.radius.item()
        axes.plot_wireframe(
            radius * np.sin(polar) * np.cos(azimuth),
            radius * np.sin(polar) * np.sin(azimuth),
            radius * np.cos(polar),
            color="lightgrey",
            linewidth=0.5,
        )
    points = result.embeddings.numpy()
    colours = colormaps["tab10"]
    for label, class_name in enumerate(classes):
        chosen = result.labels.numpy() == label
        axes.scatter(*points[chosen].T, s=4, color=colours(label), label=class_name, alpha=0.7)
    axes.set(xlabel="x", ylabel="y", zlabel="z")
    axes.set_box_aspect((1, 1, 1))
    axes.legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), markerscale=3, title="class")
    kind = "spherized (on the sphere)" if name == "sph_cnn_3d" else "plain"
    figure.suptitle(
        f"{name}, {kind}: Fashion-MNIST test embeddings, accuracy {result.accuracy:.2%}\n"
        f"{args.n_epochs} epochs on {result.train_images} training images"
    )
    figure.savefig(path)


def output_path(out: Path, name: str) -> Path:
    return out / f"vis3d_{name}.png"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", nargs="+", choices=NETS, default=list(NETS))
    parser.add_argument("--n-epochs", "--n_epochs", dest="n_epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument(
        "--batch-size", type=int, help="default: the reference's, 64 plain and 32 spherized"
    )
    add_spherization_flags(parser)
    parser.add_argument(
        "--data-path", help="Fashion-MNIST's idx files (default: Debian's package folder)"
    )
    parser.add_argument("--limit", type=int, help="train on this many random training images")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("spherization_vis3d"))
    args = parser.parse_args(argv)
    check_flags(
        args,
        [
            (
                "--batch-size",
                args.batch_size,
                args.batch_size is None or args.batch_size >= 1,
                ">= 1",
            ),
            ("--limit", args.limit, args.limit is None or args.limit >= 1, ">= 1"),
        ],
    )
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Vis3DResult]:
    args = parse_args(argv)
    names = list(dict.fromkeys(args.net))
    refuse_earlier_outputs(args.out, [output_path(args.out, name).name for name in names])
    try:
        train_set = fashion_mnist_split(args.data_path, "train")
        test_set = fashion_mnist_split(args.data_path, "val")
    except ConfigError as error:
        error_exit(str(error))
    results = {}
    for name in names:
        results[name] = result = train(name, args, train_set, test_set)
        args.out.mkdir(parents=True, exist_ok=True)
        path = output_path(args.out, name)
        plot_embeddings(path, name, result, test_set.classes, args)
        norms = result.embeddings.norm(dim=1)
        print(
            f"{name}: test accuracy {result.accuracy:.4f} after {args.n_epochs} epochs on "
            f"{result.train_images} images; embedding norms {norms.min():.4f}..{norms.max():.4f}"
            f"; figure in {path}"
        )
    return results


if __name__ == "__main__":
    main()
