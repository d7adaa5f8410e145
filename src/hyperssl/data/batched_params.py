"""Random parameters of one augmented view of a whole batch, drawn at once.

:func:`sample_view_params` draws, for each of B images, what one call of the per-image pipeline of
:mod:`hyperssl.data.augment` draws, with the same distributions as torchvision v2's ``make_params``
and ``RandomApply``: the random resized crop (10 tries of a uniform scale and a uniform log-ratio,
then the central fallback), the padded random crop, the colour-jitter factors and order, the blur
sigma, the rotation angle and one Bernoulli per optional step. The draws are vectorised over the
batch and come from ``generator`` on the images' device;
:func:`hyperssl.data.batched_augment.augment_view` applies them. Keeping the two apart lets tests
feed the same parameters to torchvision's functional ops.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from hyperssl.data.schema import AugmentationConfig

# torchvision's RandomResizedCrop default aspect ratios, and its number of tries before falling
# back to a central crop.
RRC_RATIO = (3.0 / 4.0, 4.0 / 3.0)
RRC_TRIES = 10
# Colour-jitter operations in torchvision's numbering (``ColorJitter.make_params``'s fn_idx).
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)


@dataclass
class ViewParams:
    """The random parameters of one view of B images.

    box: long [B, 4], (top, left, height, width). With ``rrc.enabled`` the region of the image
        resized to the crop; otherwise the crop window in the image resized and center-cropped to
        ``crop_size``: height = width = crop_size, top/left in [-padding, padding] (the window
        may stick out of the image into the zero padding).
    flip, jitter, grayscale, blur, solarize, equalize: bool [B], whether each step is applied.
    jitter_order: long [B, 4], a permutation of (brightness, contrast, saturation, hue).
    jitter_factors: float [B, 4], the brightness, contrast, saturation and hue factors; an
        operation of strength 0 gets its identity (1, 1, 1, 0).
    sigma: float [B], the Gaussian blur's standard deviation in pixels.
    angle: float [B], the rotation in degrees, counter-clockwise (drawn last and only when the
        view rotates, so that the random stream of a view without rotation is unchanged).
    """

    box: Tensor
    flip: Tensor
    jitter: Tensor
    jitter_order: Tensor
    jitter_factors: Tensor
    grayscale: Tensor
    blur: Tensor
    sigma: Tensor
    solarize: Tensor
    equalize: Tensor
    angle: Tensor

    def images(self, start: int, stop: int) -> ViewParams:
        """The parameters of images ``start`` to ``stop - 1``."""
        return ViewParams(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})


class _Draw:
    """Uniform, Bernoulli and integer draws of ``batch`` values from one generator."""

    def __init__(self, batch: int, device: torch.device, generator: torch.Generator | None):
        self.batch = batch
        self.device = device
        self.generator = generator

    def rand(self, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        size = (self.batch, *shape)
        return torch.rand(size, generator=self.generator, device=self.device, dtype=dtype)

    def uniform(self, low: float, high: float, *shape: int) -> Tensor:
        """U[low, high), float32 as torchvision's ``torch.empty(1).uniform_(low, high)``."""
        return self.rand(*shape) * (high - low) + low

    def bernoulli(self, p: float) -> Tensor:
        """True with probability p: RandomApply skips when ``torch.rand(1) >= p``."""
        return self.rand() < p

    def below(self, high: Tensor) -> Tensor:
        """Integers uniform in [0, high) for a long [B] ``high`` >= 1 (``torch.randint``)."""
        return (self.rand(dtype=torch.float64) * high).floor().long()


def _rrc_box(
    draw: _Draw, height: Tensor, width: Tensor, scale: tuple[float, float]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``v2.RandomResizedCrop.make_params`` for every image of height and width long [B]:
    top, left, h, w, each long [B]."""
    area = (height * width).double()[:, None]
    log_ratio = (math.log(RRC_RATIO[0]), math.log(RRC_RATIO[1]))
    # float32 draws used in double precision, as torchvision's ``.item()`` then math.sqrt do.
    target_area = area * draw.uniform(*scale, RRC_TRIES).double()
    aspect = torch.exp(draw.uniform(*log_ratio, RRC_TRIES)).double()
    w = torch.sqrt(target_area * aspect).round()  # round half to even, as Python's round
    h = torch.sqrt(target_area / aspect).round()
    fits = (w > 0) & (w <= width[:, None]) & (h > 0) & (h <= height[:, None])
    first = fits.int().argmax(dim=1, keepdim=True)  # the first try that fits
    found = fits.any(dim=1)
    w = w.gather(1, first).squeeze(1).long()
    h = h.gather(1, first).squeeze(1).long()
    top = draw.below(height - h + 1)
    left = draw.below(width - w + 1)
    fallback_h, fallback_w = _central_fallback(height, width)
    return (
        torch.where(found, top, (height - fallback_h) // 2),
        torch.where(found, left, (width - fallback_w) // 2),
        torch.where(found, h, fallback_h),
        torch.where(found, w, fallback_w),
    )


def _central_fallback(height: Tensor, width: Tensor) -> tuple[Tensor, Tensor]:
    """The crop size RandomResizedCrop falls back to after RRC_TRIES misses, for images of
    height and width long [B]: (h, w), long [B]. In double precision, as torchvision's floats."""
    low, high = min(RRC_RATIO), max(RRC_RATIO)
    in_ratio = width.double() / height
    narrow_h = (width.double() / low).round().long()  # round half to even, as Python's round
    wide_w = (height.double() * high).round().long()
    h = torch.where(in_ratio < low, narrow_h, height)
    return h, torch.where(in_ratio > high, wide_w, width)


def _padded_crop_box(draw: _Draw, size: int, padding: int) -> tuple[Tensor, Tensor]:
    """``v2.RandomCrop(size, padding).make_params`` on a size x size image: top, left, long [B],
    shifted to the unpadded image (so in [-padding, padding])."""
    if padding == 0:
        zeros = torch.zeros(draw.batch, dtype=torch.long, device=draw.device)
        return zeros, zeros
    span = torch.full((draw.batch,), 2 * padding + 1, device=draw.device)
    return draw.below(span) - padding, draw.below(span) - padding


def _jitter_factors(draw: _Draw, aug: AugmentationConfig) -> Tensor:
    """float [B, 4]: U[max(0, 1 - s), 1 + s] for brightness, contrast and saturation of strength
    s, U[-h, h] for the hue (an interval of one point when the strength is 0)."""
    jitter = aug.color_jitter
    factors = [
        draw.uniform(max(0.0, 1.0 - s), 1.0 + s)
        for s in (jitter.brightness, jitter.contrast, jitter.saturation)
    ]
    factors.append(draw.uniform(-jitter.hue, jitter.hue))
    return torch.stack(factors, dim=1)


def _rotation_angles(draw: _Draw, degrees: float) -> Tensor:
    """``v2.RandomRotation(degrees).make_params``: U[-degrees, degrees] per image; zeros, drawing
    nothing, for a view that does not rotate."""
    if degrees == 0:
        return torch.zeros(draw.batch, device=draw.device)
    return draw.uniform(-degrees, degrees)


def equal_sizes(batch: int, height: int, width: int, device: torch.device) -> Tensor:
    """long [B, 2]: (height, width) for each of ``batch`` images, made on ``device`` (a tensor made
    from host values is a copy that waits for the device's queue)."""
    full = functools.partial(torch.full, (batch,), dtype=torch.long, device=device)
    return torch.stack((full(height), full(width)), dim=1)


def sample_view_params(
    aug: AugmentationConfig,
    batch: int,
    image_size: tuple[int, int] | Tensor,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> ViewParams:
    """Draw the parameters of one view of ``batch`` images by ``aug``.

    image_size: (H, W) of every image, or long [B, 2] each image's own (H, W) (images of unequal
        sizes padded to the batch's largest: each random resized crop box is drawn from its own
        image's size, so it lies inside that image).
    ``generator`` lives on ``device`` (None: torch's default generator there).
    """
    draw = _Draw(batch, torch.device(device), generator)
    if isinstance(image_size, Tensor):
        sizes = image_size.to(draw.device)
    else:
        sizes = equal_sizes(batch, *image_size, draw.device)
    if aug.rrc.enabled:
        scale = (aug.rrc.crop_min_scale, aug.rrc.crop_max_scale)
        box = torch.stack(_rrc_box(draw, *sizes.unbind(dim=1), scale), dim=1)
    else:
        size = torch.full((batch,), aug.crop_size, dtype=torch.long, device=draw.device)
        top, left = _padded_crop_box(draw, aug.crop_size, aug.random_crop_padding)
        box = torch.stack([top, left, size, size], dim=1)
    blur = aug.gaussian_blur
    return ViewParams(
        box=box,
        flip=draw.bernoulli(aug.horizontal_flip.prob),
        jitter=draw.bernoulli(aug.color_jitter.prob),
        jitter_order=draw.rand(4).argsort(dim=1),  # a uniform permutation, as torch.randperm(4)
        jitter_factors=_jitter_factors(draw, aug),
        grayscale=draw.bernoulli(aug.grayscale.prob),
        blur=draw.bernoulli(blur.prob),
        sigma=draw.uniform(blur.sigma_min, blur.sigma_max),
        solarize=draw.bernoulli(aug.solarization.prob),
        equalize=draw.bernoulli(aug.equalization.prob),
        angle=_rotation_angles(draw, aug.rotation_degrees),
    )
