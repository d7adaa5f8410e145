"""Batched augmentation of in-memory uint8 images on their device (the GPU when there is one).

:class:`BatchedMultiViewTransform` turns a batch of uint8 images [B, 3, H, W] into the views
:class:`hyperssl.data.augment.MultiViewTransform` makes of each image, with the same steps in the
same order and parameters drawn from the same distributions (:mod:`hyperssl.data.batched_params`),
but with every pixel operation applied to the whole batch at once, in float32, with per-image
parameters and no loop over images. It runs unchanged on CPU and CUDA tensors.

Written here by hand is only what no library offers: torchvision's functional ops take one
parameter set per call (a loop over images), and kornia, which batches them, is not a dependency
and its colour jitter differs from torchvision's. So: the crop-and-resize as one resampling matrix
per image and axis (torch's antialiased bicubic kernel, which neither ``F.grid_sample`` nor
``roi_align`` reproduces), the colour jitter in a random order per image, the hue rotation, a
Gaussian blur with one kernel per image, and the rotation's sampling grid. Equalization is
torchvision's own (it is batched).

Differences from the per-image path on uint8 tensors, about one uint8 level per step:

- values stay float between steps, where torchvision rounds or truncates to uint8 after each;
- torchvision's CPU bicubic on uint8 uses fixed-point weights; these are float.

Like that path (and PIL), the resize clamps to [0, 255] between its horizontal and vertical
passes; torchvision's float path (used on GPU) does not, which differs by up to ~15 levels where
bicubic overshoots on sharp edges.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor
from torchvision.transforms.v2 import functional as TF  # noqa: N812

from hyperssl.data.augment import SOLARIZE_THRESHOLD_UINT8, blur_kernel_size
from hyperssl.data.batched_params import (
    CONTRAST,
    HUE,
    SATURATION,
    ViewParams,
    equal_sizes,
    sample_view_params,
)
from hyperssl.data.schema import AugmentationConfig
from hyperssl.intra_op_threads import intra_op_threads

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale
KEYS_A = -0.5  # torch's antialiased bicubic kernel (PIL's), where plain bicubic uses -0.75


def _keys_cubic(x: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with a = -0.5, zero beyond |x| >= 2."""
    x = x.abs()
    near = ((KEYS_A + 2) * x - (KEYS_A + 3)) * x * x + 1
    far = ((KEYS_A * x - 5 * KEYS_A) * x + 8 * KEYS_A) * x - 4 * KEYS_A
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def resample_weights(
    start: Tensor,
    length: Tensor,
    out_size: int,
    in_size: int,
    resized: Tensor | None = None,
    offset: Tensor | None = None,
) -> Tensor:
    """float [B, out_size, in_size]: row j of image b takes the window [start, start + length)
    of an axis of ``in_size`` pixels to ``out_size`` pixels.

    This is torch's antialiased bicubic resize of the cropped window, which torchvision's
    ``resized_crop(..., antialias=True)`` calls: the kernel is stretched by the downscaling factor
    and renormalised over the window's pixels, so downscaling is antialiased as in the per-image
    path (``F.grid_sample`` would not be, and uses a = -0.75). Window pixels outside [0, in_size)
    count as zeros (a padded crop never rescales, so its rows are pixel selections); pixels past
    the window are never read (an image padded to its batch's size).
    start, length: long [B].
    resized, offset: long [B], a resize then a crop: the window resized to ``resized`` pixels, of
        which rows ``offset`` to ``offset + out_size`` are kept (default: out_size and 0).
    """
    device = start.device
    scale = (length / (out_size if resized is None else resized))[:, None, None]
    rows = torch.arange(out_size, device=device)
    rows = rows[:, None] if offset is None else (rows + offset[:, None])[:, :, None]
    centers = start[:, None, None] + (rows + 0.5) * scale
    pixels = torch.arange(in_size, device=device)
    x = (pixels + 0.5 - centers) / scale.clamp(min=1.0)
    window = (pixels >= start[:, None, None]) & (pixels < (start + length)[:, None, None])
    weights = _keys_cubic(x) * window
    total = weights.sum(dim=-1, keepdim=True)
    return weights / torch.where(total == 0, 1.0, total)


def _resize_then_center_crop(in_size: Tensor, resized: Tensor, size: int, padded: int) -> Tensor:
    """float [B, size, padded]: ``v2.Resize`` of each image's axis of ``in_size`` [B] pixels to
    ``resized`` [B] pixels (bicubic, antialiased), then ``v2.CenterCrop`` to ``size``."""
    top = ((resized - size) / 2.0).round().long()  # torchvision's int(round()): half to even
    start = torch.zeros_like(in_size)
    return resample_weights(start, in_size, size, padded, resized=resized, offset=top)


def _geometry_weights(
    params: ViewParams, aug: AugmentationConfig, padded: Sequence[int], sizes: Tensor | None
) -> tuple[Tensor, Tensor]:
    """The rows and columns resampling matrices [B, S, H] and [B, S, W] of the crop (S the crop
    size, H x W the ``padded`` size of the batch), the horizontal flip folded into the columns'.

    sizes: long [B, 2], each image's own (H, W) in the top left corner of the padded batch
    (None: every image fills it).

    Folding the flip in is exact: every step between the crop and the flip commutes with it
    (pointwise colour maps, whole-image statistics, a symmetric blur kernel with reflect padding).
    """
    size = aug.crop_size
    height, width = padded
    top, left, box_h, box_w = params.box.unbind(dim=1)
    if aug.rrc.enabled:
        rows = resample_weights(top, box_h, size, height)
        columns = resample_weights(left, box_w, size, width)
    else:
        if sizes is None:
            sizes = equal_sizes(len(top), height, width, top.device)
        image_h, image_w = sizes.unbind(dim=1)
        # Resize's short side goes to ``size``, the long one in proportion (torchvision's rule).
        resized_long = (size * torch.maximum(image_h, image_w)).double()
        resized_long = (resized_long / torch.minimum(image_h, image_w)).long()
        portrait = image_h > image_w
        resized_h = torch.where(portrait, resized_long, size)
        resized_w = torch.where(portrait, size, resized_long)
        rows = resample_weights(top, box_h, size, size) @ _resize_then_center_crop(
            image_h, resized_h, size, height
        )
        columns = resample_weights(left, box_w, size, size) @ _resize_then_center_crop(
            image_w, resized_w, size, width
        )
    if aug.horizontal_flip.prob > 0:
        columns = torch.where(params.flip[:, None, None], columns.flip(1), columns)
    return rows, columns


def _gray(x: Tensor) -> Tensor:
    """[B, 3, H, W] -> [B, 1, H, W] luma, torchvision's weights."""
    gray = x[:, :1] * GRAY_WEIGHTS[0]
    return gray.add_(x[:, 1:2], alpha=GRAY_WEIGHTS[1]).add_(x[:, 2:], alpha=GRAY_WEIGHTS[2])


def shift_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of x [N, 3, H, W] in [0, 1] by shift [N] turns in HSV, as torchvision's
    ``adjust_hue`` does (one factor per image here, one per call there).

    The hue comes from RGB as in torchvision (PIL's formula), in sixths of a turn; the way back
    is HSV -> RGB in closed form: V and the spread V * S = max - min do not change, and channel
    c = V - spread * clamp(min(k, 4 - k), 0, 1) with k = (n_c + 6 hue) mod 6, n = 5, 3, 1 for
    r, g, b. Gray pixels (spread 0) stay as they are. (In-place steps: on CPU, allocating
    whole-batch temporaries costs more than the arithmetic.)
    """
    value = x.amax(dim=1, keepdim=True)
    spread = value - x.amin(dim=1, keepdim=True)
    rc, gc, bc = (value - x).div_(torch.where(spread == 0, 1.0, spread)).unbind(dim=1)
    top = value[:, 0]
    sixths = torch.where(
        top == x[:, 0],
        bc - gc,
        torch.where(top == x[:, 1], rc.sub(bc).add_(2.0), gc.sub(rc).add_(4.0)),
    )
    offsets = torch.arange(5.0, 0.0, -2.0, device=x.device).view(1, 3, 1, 1)  # 5, 3, 1
    k = (6.0 * shift.view(-1, 1, 1, 1) + offsets).add(sixths[:, None]).remainder_(6.0)
    ramp = torch.minimum(k, 4.0 - k, out=k)
    return ramp.clamp_(0.0, 1.0).mul_(spread).neg_().add_(value)


def color_jitter(x: Tensor, params: ViewParams, aug: AugmentationConfig) -> Tensor:
    """torchvision's ColorJitter on x [B, 3, H, W] in [0, 1], for the images with
    ``params.jitter``, each in its own ``jitter_order``.

    Brightness, contrast and saturation are blends ``f * x + (1 - f) * target`` with target 0,
    the mean luma and the luma image; an image whose current operation is another one blends
    with f = 1, which ``torch.lerp`` returns exactly. The hue runs on the images whose turn it is.
    """
    identity = (torch.arange(4, device=x.device) != HUE).float()  # 1, 1, 1, 0
    factors = torch.where(params.jitter[:, None], params.jitter_factors, identity)
    jitter = aug.color_jitter
    needs_gray = jitter.contrast > 0 or jitter.saturation > 0
    for stage in range(4):
        op = params.jitter_order[:, stage]
        blend = torch.where(op == HUE, 1.0, factors.gather(1, op[:, None]).squeeze(1))
        blend = blend[:, None, None, None]
        target = torch.zeros((), device=x.device, dtype=x.dtype)
        if needs_gray:
            gray = _gray(x)
            op4 = op[:, None, None, None]
            mean = gray.mean(dim=(1, 2, 3), keepdim=True)
            target = torch.where(op4 == SATURATION, gray, torch.where(op4 == CONTRAST, mean, 0.0))
        x = torch.lerp(target, x, blend).clamp_(0.0, 1.0)
        if jitter.hue > 0:
            x = hue_stage(x, (op == HUE) & params.jitter, factors[:, HUE])
    return x


def hue_stage(x: Tensor, turn: Tensor, shift: Tensor, select: bool | None = None) -> Tensor:
    """Shift the hue of the images where ``turn`` [B] by ``shift`` [B].

    ``select`` (default: on CPU) converts only those images, a boolean selection whose size the
    host must read: free on CPU, a synchronisation on a GPU. Otherwise every image is converted,
    with a zero shift where it is not its turn, and the device is never read.
    """
    if select if select is not None else x.device.type == "cpu":
        index = turn.nonzero().squeeze(1)
        return x.index_copy_(0, index, shift_hue(x[index], shift[index]))
    return shift_hue(x, torch.where(turn, shift, 0.0))


def gaussian_blur(x: Tensor, apply: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """torchvision's GaussianBlur with one sigma [B] per image on the images where apply [B]:
    the separable kernel over reflect padding; the others get a unit impulse (no change)."""
    radius = kernel_size // 2
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.softmax(-((taps / sigma[:, None]) ** 2) / 2, dim=1)
    kernel = torch.where(apply[:, None], kernel, (taps == 0).to(x.dtype))
    kernel = kernel[:, :, None, None, None]  # [B, k, 1, 1, 1]
    height, width = x.shape[-2:]
    padded = F.pad(x, (radius,) * 4, mode="reflect")
    rows = padded[..., :width] * kernel[:, 0]
    for t in range(1, kernel_size):
        rows.addcmul_(padded[..., t : t + width], kernel[:, t])
    out = rows[..., :height, :] * kernel[:, 0]
    for t in range(1, kernel_size):
        out.addcmul_(rows[..., t : t + height, :], kernel[:, t])
    return out


def rotate(x: Tensor, angle: Tensor) -> Tensor:
    """torchvision's ``rotate`` (nearest neighbour, about the centre, zero fill) with one angle
    [B] in degrees per image: its inverse-mapped sampling grid (``_affine_grid``: pixel-centred
    coordinates, rotated, then normalised by half the image size), one grid per image."""
    batch, _, height, width = x.shape
    # In double, then float32, as torchvision builds its matrix from the angle's Python float.
    radians = torch.deg2rad(angle.double())
    cos, sin, zero = radians.cos(), radians.sin(), torch.zeros_like(radians)
    theta = torch.stack([cos, -sin, zero, sin, cos, zero], dim=1).view(batch, 2, 3)
    half_size = torch.cat((x.new_full((1,), 0.5 * width), x.new_full((1,), 0.5 * height)))
    theta = theta.to(x.dtype).transpose(1, 2) / half_size  # [B, 3, 2]
    xs = torch.linspace((1.0 - width) * 0.5, (width - 1.0) * 0.5, width, device=x.device)
    ys = torch.linspace((1.0 - height) * 0.5, (height - 1.0) * 0.5, height, device=x.device)
    base = torch.stack(
        [xs.expand(height, width), ys[:, None].expand(height, width), torch.ones_like(x[0, 0])],
        dim=-1,
    ).view(1, height * width, 3)
    grid = base.expand(batch, -1, -1).bmm(theta).view(batch, height, width, 2)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def resized_crops(
    images: Tensor, params: ViewParams, aug: AugmentationConfig, sizes: Tensor | None = None
) -> Tensor:
    """uint8 images [B, 3, H, W] -> float32 [B, 3, S, S] in [0, 1]: each image's crop, resized
    (and flipped), the first step of :func:`augment_view`; ``sizes`` as there."""
    rows, columns = _geometry_weights(params, aug, images.shape[-2:], sizes)
    # Bicubic overshoots. torchvision's uint8 resize on CPU (and PIL) resamples the rows first and
    # stores them as uint8, so it clamps between the two passes as well as at the end.
    x = (images.float() @ columns.transpose(1, 2)[:, None]).clamp_(0.0, 255.0)
    return (rows[:, None] @ x).div_(255.0).clamp_(0.0, 1.0)


def augment_view(
    images: Tensor | Sequence[Tensor],
    params: ViewParams,
    aug: AugmentationConfig,
    sizes: Tensor | None = None,
) -> Tensor:
    """One view of uint8 images [B, 3, H, W] by ``aug`` with the given parameters:
    float32 [B, 3, S, S] in [0, 1] (not normalised), S = aug.crop_size.

    sizes: long [B, 2], each image's own (H, W) when the images are of unequal sizes, each in the
    top left corner of the batch padded to the largest (the padding is never read); None: every
    image is H x W. ``images`` may also be such a batch padded in consecutive chunks, each to its
    own largest image (:func:`~hyperssl.data.encoded_files.pad_in_chunks`), ``sizes`` then
    required: each chunk is cropped on its own, so that one large image does not pad the whole
    batch to its size. Steps with probability 0 in ``aug`` are skipped whatever ``params`` says.
    """
    if isinstance(images, Tensor):
        x = resized_crops(images, params, aug, sizes)
    else:
        if sizes is None:
            raise ValueError("a batch padded in chunks needs each image's size")
        bounds = list(itertools.accumulate((len(chunk) for chunk in images), initial=0))
        x = torch.cat(
            [
                resized_crops(chunk, params.images(start, stop), aug, sizes[start:stop])
                for chunk, (start, stop) in zip(images, itertools.pairwise(bounds), strict=True)
            ]
        )
    per_image = (-1, 1, 1, 1)
    if aug.color_jitter.prob > 0:
        x = color_jitter(x, params, aug)
    if aug.grayscale.prob > 0:
        x = torch.where(params.grayscale.view(per_image), _gray(x).expand_as(x), x)
    if aug.gaussian_blur.prob > 0:
        x = gaussian_blur(x, params.blur, params.sigma, blur_kernel_size(aug.crop_size))
    if aug.solarization.prob > 0:
        bright = x >= SOLARIZE_THRESHOLD_UINT8 / 255.0
        x = torch.where(params.solarize.view(per_image) & bright, 1.0 - x, x)
    if aug.equalization.prob > 0:
        levels = (x * 255.0).round() / 255.0  # equalization bins the 256 uint8 levels
        x = torch.where(params.equalize.view(per_image), TF.equalize(levels), x)
    if aug.rotation_degrees > 0:
        x = rotate(x, params.angle)
    return x


class BatchedMultiViewTransform:
    """Views of a batch of uint8 images, ``num_crops`` views from each pipeline, in order: the
    batched counterpart of :class:`hyperssl.data.augment.MultiViewTransform`."""

    def __init__(
        self,
        pipelines: Sequence[AugmentationConfig],
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        self.pipelines = [aug for aug in pipelines for _ in range(aug.num_crops)]
        self.mean = torch.tensor([float(m) for m in mean]).view(1, 3, 1, 1)
        self.std = torch.tensor([float(s) for s in std]).view(1, 3, 1, 1)
        self._normalisation_on: dict[torch.device, tuple[Tensor, Tensor]] = {}

    @property
    def num_views(self) -> int:
        return len(self.pipelines)

    @torch.no_grad()
    def __call__(
        self,
        images: Tensor | Sequence[Tensor],
        generator: torch.Generator | None = None,
        sizes: Tensor | None = None,
    ) -> list[Tensor]:
        """images: uint8 [B, 3, H, W] -> V float32 [B, 3, crop, crop], normalised, on the images'
        device; ``generator`` (on that device) draws every random parameter.

        sizes: long [B, 2] on that device, each image's own (H, W) in the top left corner of a
        batch of unequal sizes padded to the largest, or padded in chunks (``images`` then the
        chunks, :func:`augment_view`); None: all H x W.
        """
        for chunk in [images] if isinstance(images, Tensor) else images:
            if chunk.dtype != torch.uint8 or chunk.ndim != 4 or chunk.shape[1] != 3:
                raise ValueError(
                    f"expected uint8 [B, 3, H, W], got {chunk.dtype} {tuple(chunk.shape)}"
                )
        device = sizes.device if sizes is not None else images.device
        # On CPU one thread: each of the ~50 ops per view is a short parallel region that waits
        # for its slowest thread, so when another process shares the cores a descheduled thread
        # stalls every op. Measured on 2 cores (benchmark.py --sections data --neighbour 2):
        # 2 threads give 14,000 views/s quiet but 3,900 next to a busy neighbour, 1 thread
        # 11,300 and 8,600.
        with intra_op_threads(1) if device.type == "cpu" else nullcontext():
            return self._views(images, generator, sizes, device)

    def _views(
        self,
        images: Tensor | Sequence[Tensor],
        generator: torch.Generator | None,
        sizes: Tensor | None,
        device: torch.device,
    ) -> list[Tensor]:
        mean, std = self._normalisation(device)
        views = []
        if sizes is None:
            count, image_size = len(images), (images.shape[2], images.shape[3])
        else:
            count, image_size = len(sizes), sizes
        for aug in self.pipelines:
            params = sample_view_params(aug, count, image_size, device, generator)
            views.append((augment_view(images, params, aug, sizes) - mean) / std)
        return views

    def _normalisation(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """``mean`` and ``std`` on ``device``, copied there once: a copy from host memory waits
        for the device's queue, and a batch would otherwise wait for the previous step."""
        if device not in self._normalisation_on:
            self._normalisation_on[device] = (self.mean.to(device), self.std.to(device))
        return self._normalisation_on[device]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_views={self.num_views}, pipelines={self.pipelines})"
