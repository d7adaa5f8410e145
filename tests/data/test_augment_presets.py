"""The supervised augmentation presets, padded random crops, and the MNIST data configs."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from omegaconf import OmegaConf

from hyperssl import ConfigError
from hyperssl.data.augment import MultiViewTransform, eval_transform
from hyperssl.data.registry import DATASETS
from hyperssl.data.schema import (
    AugmentationConfig,
    DataConfig,
    RandomResizedCropConfig,
    validate_augmentations,
    validate_data_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
IDENTITY_STATS = ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])


@dataclass
class _Root:
    data: DataConfig = field(default_factory=DataConfig)
    augmentations: list[AugmentationConfig] = field(default_factory=list)


def compose(data: str, augmentations: str) -> _Root:
    """The registered data set's schema and configs/augmentations/<augmentations>.yaml merged onto
    the schemas, as Hydra does, resolved to dataclasses."""
    merged = OmegaConf.merge(
        OmegaConf.structured(_Root),
        {"data": DATASETS.config_node(data)},
        {"augmentations": OmegaConf.load(CONFIGS / "augmentations" / f"{augmentations}.yaml")},
    )
    return OmegaConf.to_object(merged)


def identity_view(aug: AugmentationConfig) -> MultiViewTransform:
    """The pipeline without normalisation, so views are the pixels / 255."""
    return MultiViewTransform([aug], *IDENTITY_STATS)


def random_image(size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator)


def shifts_of(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every crop of the image's size from the zero-padded image, and their mirror images."""
    size = image.shape[-1]
    padded = F.pad(image.float() / 255, [padding] * 4)
    crops = [
        padded[:, y : y + size, x : x + size]
        for y in range(2 * padding + 1)
        for x in range(2 * padding + 1)
    ]
    return crops + [crop.flip(-1) for crop in crops]


@pytest.mark.parametrize(("data", "name"), [("cifar10", "supervised_cifar"), ("mnist", "mnist")])
def test_supervised_presets_merge_validate_and_give_one_32px_view(data, name):
    preset = "supervised_mnist" if name == "mnist" else name
    config = compose(data, preset)
    validate_augmentations(config.augmentations)
    (aug,) = config.augmentations
    assert (aug.crop_size, aug.num_crops, aug.rrc.enabled) == (32, 1, False)
    assert (aug.color_jitter.prob, aug.grayscale.prob, aug.gaussian_blur.prob) == (0, 0, 0)


def test_supervised_cifar_is_pad_4_random_crop_and_flip():
    (aug,) = compose("cifar10", "supervised_cifar").augmentations
    assert (aug.random_crop_padding, aug.horizontal_flip.prob) == (4, 0.5)


def test_supervised_mnist_never_flips_or_pads():
    (aug,) = compose("mnist", "supervised_mnist").augmentations
    assert (aug.random_crop_padding, aug.horizontal_flip.prob) == (0, 0.0)


def test_supervised_cifar_view_is_a_shift_of_at_most_4_pixels_maybe_mirrored():
    (aug,) = compose("cifar10", "supervised_cifar").augmentations
    transform = identity_view(aug)
    image = random_image()
    candidates = shifts_of(image, 4)
    torch.manual_seed(0)
    for _ in range(5):
        (view,) = transform(image)
        assert view.shape == (3, 32, 32)
        assert min((view - candidate).abs().max() for candidate in candidates) < 1e-6


def test_supervised_cifar_draws_different_shifts_and_flips():
    (aug,) = compose("cifar10", "supervised_cifar").augmentations
    transform = identity_view(aug)
    image = random_image()
    torch.manual_seed(0)
    views = {transform(image)[0].numpy().tobytes() for _ in range(20)}
    assert len(views) > 5


def test_padded_crop_of_a_larger_image_resizes_first():
    (aug,) = compose("cifar10", "supervised_cifar").augmentations
    aug.random_crop_padding = 2
    transform = identity_view(aug)
    white = torch.full((3, 64, 64), 255, dtype=torch.uint8)
    torch.manual_seed(0)
    views = [transform(white)[0] for _ in range(5)]
    assert all(view.shape == (3, 32, 32) for view in views)
    # A white image, shifted by up to 2 pixels into the black padding.
    assert all(set(view.unique().tolist()) <= {0.0, 1.0} for view in views)
    assert all((view == 1.0).sum() >= 3 * 30 * 30 for view in views)


def test_supervised_mnist_view_is_deterministic_gray_32px():
    config = compose("mnist", "supervised_mnist")
    transform = MultiViewTransform(config.augmentations, config.data.mean, config.data.std)
    gray = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8).expand(3, -1, -1)
    (first,) = transform(gray)
    (second,) = transform(gray)
    assert first.shape == (3, 32, 32)
    assert torch.equal(first, second)
    assert torch.equal(first[0], first[1]) and torch.equal(first[1], first[2])


def test_eval_transform_brings_a_28px_image_to_32px():
    data = compose("mnist", "supervised_mnist").data
    image = torch.full((3, 28, 28), 255, dtype=torch.uint8)
    view = eval_transform(data.image_size, data.mean, data.std)(image)
    assert view.shape == (3, 32, 32)
    torch.testing.assert_close(view, torch.full((3, 32, 32), (1 - 0.1307) / 0.3081))


def test_random_crop_padding_with_random_resized_crop_is_rejected():
    with pytest.raises(ConfigError) as error:
        validate_augmentations([AugmentationConfig(random_crop_padding=4)])
    assert error.value.key == "augmentations.0.random_crop_padding"
    assert "rrc.enabled=true" in error.value.allowed


def test_negative_random_crop_padding_is_rejected():
    aug = AugmentationConfig(rrc=RandomResizedCropConfig(enabled=False), random_crop_padding=-1)
    with pytest.raises(ConfigError, match="augmentations.0.random_crop_padding: got -1"):
        validate_augmentations([aug])


@pytest.mark.parametrize(
    ("name", "mean", "std"), [("mnist", 0.1307, 0.3081), ("fashion_mnist", 0.2860, 0.3530)]
)
def test_mnist_data_configs_hold_their_statistics_and_validate(name, mean, std):
    data = compose(name, "supervised_mnist").data
    validate_data_config(data)
    assert (data.dataset, data.num_classes, data.image_size) == (name, 10, 32)
    assert data.mean == [mean] * 3 and data.std == [std] * 3
