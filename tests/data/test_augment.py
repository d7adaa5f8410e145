"""Augmentation pipelines, the multi-view transform, the eval transform and the YAML presets."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from hyperssl import ConfigError
from hyperssl.data.augment import (
    MultiViewTransform,
    blur_kernel_size,
    build_pipeline,
    eval_transform,
)
from hyperssl.data.datasets import build_dataset
from hyperssl.data.registry import DATASETS
from hyperssl.data.schema import (
    AugmentationConfig,
    ColorJitterConfig,
    DataConfig,
    ProbabilityConfig,
    RandomResizedCropConfig,
    validate_augmentations,
    validate_data_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
IDENTITY_STATS = ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])


@dataclass
class _Root:
    """The part of the pretraining config the data presets live in."""

    data: DataConfig = field(default_factory=DataConfig)
    augmentations: list[AugmentationConfig] = field(default_factory=list)


def compose(data: str = "digits", augmentations: str = "digits", **data_overrides) -> _Root:
    """Merge the registered data set's schema and configs/augmentations/<augmentations>.yaml onto
    the schemas, as Hydra does, and resolve them to dataclasses."""
    merged = OmegaConf.merge(
        OmegaConf.structured(_Root),
        {"data": OmegaConf.merge(DATASETS.config_node(data), data_overrides)},
        {"augmentations": OmegaConf.load(CONFIGS / "augmentations" / f"{augmentations}.yaml")},
    )
    return OmegaConf.to_object(merged)


def plain(**changes) -> AugmentationConfig:
    """A pipeline that only resizes: every random step off unless switched on by ``changes``."""
    aug = AugmentationConfig(
        rrc=RandomResizedCropConfig(enabled=False),
        color_jitter=ColorJitterConfig(prob=0.0),
        grayscale=ProbabilityConfig(prob=0.0),
        horizontal_flip=ProbabilityConfig(prob=0.0),
        num_crops=1,
    )
    for name, value in changes.items():
        setattr(aug, name, value)
    return aug


def random_image(size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("name", ["symmetric", "symmetric_weak", "asymmetric", "digits"])
def test_augmentation_preset_merges_onto_schema_and_validates(name):
    config = compose("cifar10", name)
    validate_augmentations(config.augmentations)
    assert all(aug.crop_size == 32 for aug in config.augmentations)


@pytest.mark.parametrize("name", ["symmetric", "symmetric_weak", "asymmetric"])
def test_generic_presets_crop_to_the_data_image_size(name):
    config = compose("stl10", name)
    assert [aug.crop_size for aug in config.augmentations] == [96] * len(config.augmentations)


def test_symmetric_preset_is_solo_learn_cifar_simclr_recipe():
    (aug,) = compose("cifar10", "symmetric").augmentations
    assert (aug.rrc.crop_min_scale, aug.rrc.crop_max_scale) == (0.08, 1.0)
    jitter = aug.color_jitter
    assert (jitter.prob, jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == (
        0.8, 0.8, 0.8, 0.8, 0.2,
    )  # fmt: skip
    assert (aug.grayscale.prob, aug.gaussian_blur.prob, aug.solarization.prob) == (0.2, 0.5, 0.0)
    assert (aug.horizontal_flip.prob, aug.num_crops) == (0.5, 2)


def test_asymmetric_preset_is_byol_two_pipelines():
    first, second = compose("cifar10", "asymmetric").augmentations
    assert (first.gaussian_blur.prob, first.solarization.prob) == (1.0, 0.0)
    assert (second.gaussian_blur.prob, second.solarization.prob) == (0.1, 0.2)
    assert first.num_crops == second.num_crops == 1


def test_digits_preset_never_flips_and_keeps_colour_jitter_to_brightness_contrast():
    (aug,) = compose("digits", "digits").augmentations
    assert aug.horizontal_flip.prob == 0.0
    assert aug.rrc.crop_min_scale == 0.3
    assert (aug.color_jitter.saturation, aug.color_jitter.hue, aug.grayscale.prob) == (0, 0, 0)


@pytest.mark.parametrize("name", DATASETS.names())
def test_data_config_merges_onto_schema_and_validates_once_a_path_is_set(name):
    data = compose(name, "digits", train_path="/data").data
    validate_data_config(data)
    assert data.dataset == name
    assert (len(data.mean), len(data.std)) == (3, 3)


def test_imagefolder_config_without_train_path_names_the_key():
    with pytest.raises(ConfigError) as error:
        validate_data_config(compose("imagefolder", "digits").data)
    assert error.value.key == "data.train_path"


def test_bad_probability_names_the_pipeline_key():
    with pytest.raises(ConfigError) as error:
        validate_augmentations([AugmentationConfig(), plain(solarization=ProbabilityConfig(1.5))])
    assert error.value.key == "augmentations.1.solarization.prob"


@pytest.mark.parametrize("degrees", [-1.0, 181.0])
def test_bad_rotation_names_the_pipeline_key(degrees):
    with pytest.raises(ConfigError) as error:
        validate_augmentations([plain(rotation_degrees=degrees)])
    assert error.value.key == "augmentations.0.rotation_degrees"


def test_rotation_turns_the_view_within_its_degrees_after_the_flip():
    # A level bar through the centre: rotated, its pixels leave the middle row.
    image = torch.zeros(3, 33, 33, dtype=torch.uint8)
    image[:, 16, :] = 255
    pipeline = plain(crop_size=33, rotation_degrees=90.0)
    steps = build_pipeline(pipeline, *IDENTITY_STATS).transforms
    names = [type(step).__name__ for step in steps]
    assert names.index("RandomRotation") == len(names) - 4  # then the float conversion
    assert steps[names.index("RandomRotation")].degrees == [-90.0, 90.0]
    torch.manual_seed(0)
    views = [MultiViewTransform([pipeline], *IDENTITY_STATS)(image)[0] for _ in range(8)]
    tilted = [view[0, 16].sum() < 33 for view in views]
    assert sum(tilted) >= 6  # angles uniform in [-90, 90]: few within a pixel's tilt of level
    assert all(view[0, 16, 16] == 1 for view in views)  # about the centre


def test_symmetric_gives_two_float_views_of_the_crop_size():
    config = compose("cifar10", "symmetric")
    transform = MultiViewTransform(config.augmentations, config.data.mean, config.data.std)
    views = transform(random_image())
    assert len(views) == transform.num_views == 2
    assert all(view.shape == (3, 32, 32) and view.dtype == torch.float32 for view in views)
    assert type(views[0]) is torch.Tensor
    assert not torch.equal(views[0], views[1])


def test_view_count_is_the_sum_of_num_crops_in_pipeline_order():
    pipelines = [plain(crop_size=24, num_crops=2), plain(crop_size=16, num_crops=3)]
    views = MultiViewTransform(pipelines, *IDENTITY_STATS)(random_image())
    assert [view.shape[-1] for view in views] == [24, 24, 16, 16, 16]


def test_flip_probability_one_mirrors_and_zero_keeps_the_image():
    image = random_image()
    (flipped,) = MultiViewTransform(
        [plain(horizontal_flip=ProbabilityConfig(1.0))], *IDENTITY_STATS
    )(image)
    (kept,) = MultiViewTransform([plain()], *IDENTITY_STATS)(image)
    torch.testing.assert_close(flipped, image.flip(-1).float() / 255)
    torch.testing.assert_close(kept, image.float() / 255)


def test_solarization_probability_one_inverts_pixels_from_128_up():
    image = torch.tensor([0, 100, 127, 128, 200, 255], dtype=torch.uint8).repeat(3, 6, 1)
    solarize = MultiViewTransform(
        [plain(crop_size=6, solarization=ProbabilityConfig(1.0))], *IDENTITY_STATS
    )
    (view,) = solarize(image)
    expected = torch.tensor([0, 100, 127, 127, 55, 0]) / 255
    torch.testing.assert_close(view[0, 0], expected)


def test_grayscale_probability_one_gives_three_equal_channels():
    (view,) = MultiViewTransform([plain(grayscale=ProbabilityConfig(1.0))], *IDENTITY_STATS)(
        random_image()
    )
    assert torch.equal(view[0], view[1]) and torch.equal(view[1], view[2])


def test_blur_probability_one_smooths_noise():
    aug = plain()
    aug.gaussian_blur.prob = 1.0
    aug.gaussian_blur.sigma_min = aug.gaussian_blur.sigma_max = 1.0
    image = random_image()
    (view,) = MultiViewTransform([aug], *IDENTITY_STATS)(image)
    assert view.std() < 0.6 * (image.float() / 255).std()


def test_normalisation_maps_a_constant_image_to_its_z_score():
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 0.2]
    image = torch.full((3, 8, 8), 153, dtype=torch.uint8)  # 0.6
    (view,) = MultiViewTransform([plain(crop_size=8)], mean, std)(image)
    expected = torch.tensor([(0.6 - 0.1) / 0.5, (0.6 - 0.2) / 0.25, (0.6 - 0.3) / 0.2])
    torch.testing.assert_close(view.mean(dim=(1, 2)), expected)


def test_digits_statistics_normalise_digits_to_zero_mean_unit_std():
    data = compose("digits", "digits").data
    images = build_dataset("digits", None, "train", val_fraction=0.0).images
    normalised = eval_transform(data.image_size, data.mean, data.std)(images)
    assert abs(normalised.mean().item()) < 0.01
    assert abs(normalised.std().item() - 1.0) < 0.01


def test_eval_transform_resizes_the_short_side_and_center_crops():
    image = torch.zeros(3, 40, 60, dtype=torch.uint8)
    image[:, :, 10:50] = 255  # the central 40 columns survive the crop
    view = eval_transform(32, *IDENTITY_STATS)(image)
    assert view.shape == (3, 32, 32)
    torch.testing.assert_close(view[:, :, 1:-1], torch.ones(3, 32, 30))
    assert view.min() > 0.9  # the border columns blend in a little of the cropped-off black


def test_pipelines_accept_pil_and_float_images_alike():
    image = random_image()
    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    transform = MultiViewTransform([plain()], *IDENTITY_STATS)
    expected = image.float() / 255
    torch.testing.assert_close(transform(pil)[0], expected)
    torch.testing.assert_close(transform(image.float() / 255)[0], expected)


def test_random_resized_crop_outputs_crop_size_from_larger_images():
    aug = plain(rrc=RandomResizedCropConfig(crop_min_scale=0.2), crop_size=32)
    (view,) = MultiViewTransform([aug], *IDENTITY_STATS)(random_image(96))
    assert view.shape == (3, 32, 32)


@pytest.mark.parametrize(("crop", "kernel"), [(8, 3), (32, 3), (64, 7), (96, 9), (224, 23)])
def test_blur_kernel_is_odd_and_about_a_tenth_of_the_crop(crop, kernel):
    assert blur_kernel_size(crop) == kernel
