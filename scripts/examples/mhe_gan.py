"""MHE-GAN (Liu et al., "Learning towards Minimum Hyperspherical Energy", NeurIPS 2018, the GAN
experiment): a DCGAN whose discriminator loss adds the hyperspherical energy of the
discriminator's neurons, with :class:`hyperssl.regularizers.MHE` in a plain PyTorch loop.

An example of the regulariser's API on scikit-learn's bundled 8x8 digits (scaled to [-1, 1]), not
a benchmark of image quality. It follows the reference (wy1iu/MHE, ``MHE-GAN/non-sn-model``):
the non-saturating softplus losses, Adam (lr 1e-4, betas 0.5/0.999), batch 64, one generator step
then one discriminator step, LeakyReLU 0.1, and the energy of every discriminator layer with
power s = 0 (-log d²) at magnitude 1e-6, the MHE-only model of the reference's README (the
reference applies it without half-space; its mean runs over all N² pairs of a layer, ours over the
N(N-1)/2 distinct ones, so its 1e-6 is about our 5e-7). The networks are scaled down to 8x8 images.

    python scripts/examples/mhe_gan.py --steps 2000 --out runs/mhe_gan
    python scripts/examples/mhe_gan.py --steps 2000 --mhe-weight 0 --out runs/gan  # no MHE

Writes ``<out>/samples.png`` (a grid of 64 samples) and ``<out>/losses.csv`` (per step: the
discriminator and generator losses and the discriminator's unweighted MHE energy).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from sklearn.datasets import load_digits
from torch import Tensor, nn
from torchvision.utils import save_image

from hyperssl.losses import MHE_POWERS
from hyperssl.regularizers import MHE

LATENT_DIM = 32


def digits_in_unit_range() -> Tensor:
    """The 1797 bundled digits as [N, 1, 8, 8] in [-1, 1] (their pixels are 0..16)."""
    images = torch.from_numpy(load_digits().images).float()
    return (images / 8.0 - 1.0).unsqueeze(1)


def generator() -> nn.Module:
    """z [B, 32] -> [B, 1, 8, 8] in (-1, 1): a linear layer to 2x2, two stride-2 deconvolutions."""
    return nn.Sequential(
        nn.Linear(LATENT_DIM, 128 * 2 * 2),
        nn.Unflatten(1, (128, 2, 2)),
        nn.BatchNorm2d(128),
        nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1),  # 4x4
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1),  # 8x8
        nn.Tanh(),
    )


def discriminator() -> nn.Module:
    """[B, 1, 8, 8] -> one logit per image: the reference's 3x3 / stride-2 4x4 pairs, fewer."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.LeakyReLU(0.1),
        nn.Conv2d(32, 64, 4, stride=2, padding=1),  # 4x4
        nn.LeakyReLU(0.1),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.LeakyReLU(0.1),
        nn.Conv2d(64, 128, 4, stride=2, padding=1),  # 2x2
        nn.LeakyReLU(0.1),
        nn.Flatten(),
        nn.Linear(128 * 2 * 2, 1),
    )


@dataclass
class TrainedGAN:
    generator: nn.Module
    discriminator: nn.Module
    history: list[dict[str, float]]  # one row per step, as in losses.csv


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="generator+discriminator steps")
    parser.add_argument(
        "--mhe-weight", type=float, default=1e-6, help="MHE's magnitude (0: a plain DCGAN)"
    )
    parser.add_argument("--power", default="0", choices=MHE_POWERS, help="MHE's s")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("mhe_gan"), help="output folder")
    return parser.parse_args(argv)


def train(args: argparse.Namespace) -> TrainedGAN:
    """The training loop; writes nothing."""
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    images = digits_in_unit_range().to(device)
    gen, disc = generator().to(device), discriminator().to(device)
    # Every conv/linear layer of the discriminator, each with the same coefficient (the reference
    # adds each layer's term with its 1e-6); the energy is logged unweighted.
    energy = MHE(disc, power=args.power, weight=1.0, final_weight=1.0)
    betas = (0.5, 0.999)
    gen_optimizer = torch.optim.Adam(gen.parameters(), lr=args.lr, betas=betas)
    disc_optimizer = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=betas)
    history = []
    for step in range(args.steps):
        noise = torch.randn(args.batch_size, LATENT_DIM, device=device)
        gen_loss = F.softplus(-disc(gen(noise))).mean()
        gen_optimizer.zero_grad(set_to_none=True)
        gen_loss.backward()
        gen_optimizer.step()

        real = images[torch.randint(len(images), (args.batch_size,), device=device)]
        noise = torch.randn(args.batch_size, LATENT_DIM, device=device)
        with torch.no_grad():
            fake = gen(noise)
        disc_loss = (F.softplus(disc(fake)) + F.softplus(-disc(real))).mean()
        mhe_energy = energy()
        disc_optimizer.zero_grad(set_to_none=True)
        (disc_loss + args.mhe_weight * mhe_energy).backward()
        disc_optimizer.step()
        history.append(
            {
                "step": step,
                "d_loss": disc_loss.item(),
                "g_loss": gen_loss.item(),
                "mhe_energy": mhe_energy.item(),
            }
        )
    return TrainedGAN(gen, disc, history)


OUTPUTS = ("samples.png", "losses.csv")


def refuse_earlier_outputs(out: Path) -> None:
    """Stop (one line, exit 2) before training when ``out`` holds an earlier run's outputs."""
    earlier = [name for name in OUTPUTS if (out / name).exists()]
    if earlier:
        print(
            f"error: --out: {out} already holds {', '.join(earlier)}; allowed: a folder "
            "without them (an earlier run is never overwritten)",
            file=sys.stderr,
        )
        raise SystemExit(2)


def write_outputs(result: TrainedGAN, out: Path, seed: int) -> None:
    """``samples.png`` (8x8 grid, fixed noise) and ``losses.csv`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    gen = result.generator.eval()
    device = next(gen.parameters()).device
    noise = torch.randn(64, LATENT_DIM, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = gen(noise.to(device)).cpu()
    save_image(samples, out / "samples.png", nrow=8, normalize=True, value_range=(-1, 1))
    with open(out / "losses.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(result.history[0]))
        writer.writeheader()
        writer.writerows(result.history)


def main(argv: Sequence[str] | None = None) -> TrainedGAN:
    args = parse_args(argv)
    refuse_earlier_outputs(args.out)
    result = train(args)
    write_outputs(result, args.out, args.seed)
    last = result.history[-1]
    print(
        f"{args.steps} steps: d_loss {last['d_loss']:.4f}, g_loss {last['g_loss']:.4f}, "
        f"MHE energy {last['mhe_energy']:.4f}; samples and losses in {args.out}"
    )
    return result


if __name__ == "__main__":
    main()
