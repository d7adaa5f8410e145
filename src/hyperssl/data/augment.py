"""Augmentation pipelines (torchvision transforms v2) built from :class:`AugmentationConfig`.

Every pipeline first brings its input (PIL image, uint8 or float tensor [3, H, W]) to uint8, so
solarization always uses threshold 128 and equalization always has 256 bins; it ends with float32
values normalised by the data set's mean and std. The order follows solo-learn: crop, color
jitter, grayscale, blur, solarization, equalization, flip; then the rotation, which solo-learn's
recipes lack (the supervised CIFAR-100 one of the spherization paper rotates after the flip).
"""

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms import v2

from hyperssl.data.schema import AugmentationConfig

SOLARIZE_THRESHOLD_UINT8 = 128


def blur_kernel_size(crop_size: int) -> int:
    """An odd kernel about 10% of the crop (SimCLR), at least 3: 32 -> 3, 96 -> 9, 224 -> 23."""
    return max(3, int(0.1 * crop_size) // 2 * 2 + 1)


def _to_uint8() -> list[v2.Transform]:
    return [v2.ToImage(), v2.ToDtype(torch.uint8, scale=True)]


def _to_normalised_float(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([float(m) for m in mean], [float(s) for s in std]),
        v2.ToPureTensor(),
    ]


def build_pipeline(
    aug: AugmentationConfig, mean: Sequence[float], std: Sequence[float]
) -> v2.Compose:
    """One random view: image -> float32 [3, crop_size, crop_size], normalised.

    Steps with probability 0 are left out rather than applied with p=0.
    """
    size = aug.crop_size
    steps = _to_uint8()
    if aug.rrc.enabled:
        scale = (aug.rrc.crop_min_scale, aug.rrc.crop_max_scale)
        steps.append(
            v2.RandomResizedCrop(size, scale=scale, interpolation=v2.InterpolationMode.BICUBIC)
        )
    else:
        steps += [v2.Resize(size, interpolation=v2.InterpolationMode.BICUBIC), v2.CenterCrop(size)]
        if aug.random_crop_padding > 0:
            # Resize is a no-op on images already of crop_size (CIFAR's 32x32 for a 32 crop).
            steps.append(v2.RandomCrop(size, padding=aug.random_crop_padding))
    jitter = aug.color_jitter
    strengths = (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
    if jitter.prob > 0 and any(s > 0 for s in strengths):
        steps.append(v2.RandomApply([v2.ColorJitter(*strengths)], p=jitter.prob))
    if aug.grayscale.prob > 0:
        steps.append(v2.RandomGrayscale(p=aug.grayscale.prob))
    blur = aug.gaussian_blur
    if blur.prob > 0:
        kernel = blur_kernel_size(size)
        gaussian = v2.GaussianBlur(kernel, sigma=(blur.sigma_min, blur.sigma_max))
        steps.append(v2.RandomApply([gaussian], p=blur.prob))
    if aug.solarization.prob > 0:
        steps.append(v2.RandomSolarize(SOLARIZE_THRESHOLD_UINT8, p=aug.solarization.prob))
    if aug.equalization.prob > 0:
        steps.append(v2.RandomEqualize(p=aug.equalization.prob))
    if aug.horizontal_flip.prob > 0:
        steps.append(v2.RandomHorizontalFlip(p=aug.horizontal_flip.prob))
    if aug.rotation_degrees > 0:
        steps.append(v2.RandomRotation(aug.rotation_degrees))
    return v2.Compose(steps + _to_normalised_float(mean, std))


class MultiViewTransform:
    """Turn one image into a list of views: ``num_crops`` views from each pipeline, in order.

    ``[symmetric]`` (one pipeline, 2 crops) gives 2 views; BYOL's asymmetric recipe (two
    pipelines, 1 crop each) gives 2 views, view i from pipeline i.
    """

    def __init__(
        self,
        pipelines: Sequence[AugmentationConfig],
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        self.transforms: list[v2.Compose] = []
        for aug in pipelines:
            pipeline = build_pipeline(aug, mean, std)
            self.transforms += [pipeline] * aug.num_crops

    @property
    def num_views(self) -> int:
        return len(self.transforms)

    def __call__(self, image: Any) -> list[Tensor]:
        """image: PIL or tensor [3, H, W] -> V tensors float32 [3, crop, crop]."""
        return [transform(image) for transform in self.transforms]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_views={self.num_views}, transforms={self.transforms})"


def eval_transform(
    image_size: int, mean: Sequence[float], std: Sequence[float], resize: int | None = None
) -> v2.Compose:
    """Deterministic view for validation and feature extraction -> float32 [3, S, S].

    Resize the short side to ``resize`` (bilinear, antialiased; None: to ``image_size``),
    center-crop ``image_size``, normalise. solo-learn evaluates ImageNet at resize 256, crop 224.
    """
    return v2.Compose(
        _to_uint8()
        + [v2.Resize(resize or image_size), v2.CenterCrop(image_size)]
        + _to_normalised_float(mean, std)
    )
