"""The batched augmentation against torchvision: the same pixels as its per-image functional ops
for the same parameters, parameters drawn from the same distributions as its transforms', and
the multi-view contract of MultiViewTransform."""

from collections import Counter
from dataclasses import fields, replace

import pytest
import torch
from scipy import stats
from torch.utils._python_dispatch import TorchDispatchMode
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF  # noqa: N812

from hyperssl.data.augment import blur_kernel_size, build_pipeline
from hyperssl.data.batched_augment import (
    BatchedMultiViewTransform,
    augment_view,
    hue_stage,
    rotate,
)
from hyperssl.data.batched_params import ViewParams, sample_view_params
from hyperssl.data.schema import (
    AugmentationConfig,
    ColorJitterConfig,
    GaussianBlurConfig,
    ProbabilityConfig,
    RandomResizedCropConfig,
)

IDENTITY_STATS = ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
BICUBIC = v2.InterpolationMode.BICUBIC
# torchvision stores each step's result as uint8 (rounded or truncated: < 1 level) and its CPU
# bicubic uses fixed-point weights; the batched path keeps float values. Contrast and saturation
# also floor torchvision's luma (< 1 level, times |1 - factor| <= 0.4): < 1.4 levels in all.
ONE_STEP_LEVELS = 1.5
# torchvision's blur result is rounded to uint8, nothing else differs.
ROUNDED_LEVELS = 0.51
# Parameter samples drawn from both samplers, and the p-value below which they differ.
DRAWS = 2000
P_VALUE = 1e-3


def only(**changes) -> AugmentationConfig:
    """One view of the 32 pixel image as it is: every random step off unless ``changes`` set it."""
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


def random_images(n: int, height: int = 32, width: int | None = None, high: int = 256):
    generator = torch.Generator().manual_seed(n + height)
    shape = (n, 3, height, width or height)
    return torch.randint(0, high, shape, dtype=torch.uint8, generator=generator)


def draw(aug: AugmentationConfig, images: torch.Tensor, seed: int = 0) -> ViewParams:
    generator = torch.Generator().manual_seed(seed)
    size = (images.shape[2], images.shape[3])
    return sample_view_params(aug, len(images), size, generator=generator)


def assert_levels_close(ours: torch.Tensor, expected: list[torch.Tensor], levels: float) -> None:
    """ours: float [B, 3, S, S] in [0, 1]; expected: B uint8 [3, S, S] from torchvision."""
    torch.testing.assert_close(ours * 255, torch.stack(expected).float(), atol=levels, rtol=0)


# Same parameters, same pixels: torchvision's functional ops per image.


@pytest.mark.parametrize("size", [32, 96])  # 96 -> 32 downscales: antialiased
def test_random_resized_crop_matches_torchvision_resized_crop(size):
    aug = only(rrc=RandomResizedCropConfig(crop_min_scale=0.08), crop_size=32)
    images = random_images(24, size)
    params = draw(aug, images)
    expected = [
        TF.resized_crop(image, *box.tolist(), size=[32, 32], interpolation=BICUBIC)
        for image, box in zip(images, params.box, strict=True)
    ]
    assert_levels_close(augment_view(images, params, aug), expected, ONE_STEP_LEVELS)


@pytest.mark.parametrize(("height", "width"), [(28, 28), (24, 40)])
def test_resize_center_crop_and_padded_crop_match_torchvision(height, width):
    aug = only(crop_size=32, random_crop_padding=4)
    images = random_images(16, height, width)
    params = draw(aug, images)
    assert params.box[:, :2].min() < 0 < params.box[:, :2].max()
    expected = []
    for image, (top, left, _, _) in zip(images, params.box.tolist(), strict=True):
        resized = TF.center_crop(TF.resize(image, [32], interpolation=BICUBIC), [32])
        expected.append(TF.crop(TF.pad(resized, [4]), top + 4, left + 4, 32, 32))
    assert_levels_close(augment_view(images, params, aug), expected, ONE_STEP_LEVELS)


# Images of unequal sizes (H, W), both orientations: a batch padded to the largest, 41 x 40.
UNEQUAL_SIZES = [(32, 32), (24, 40), (41, 30), (20, 36)] * 2


def padded_batch(sizes: list[tuple[int, int]]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Random uint8 images of ``sizes``, and the batch padded to the largest with white (a crop
    that read the padding would show it)."""
    images = [random_images(1, height, width)[0] for height, width in sizes]
    largest = torch.tensor(sizes).amax(dim=0).tolist()
    padded = torch.full((len(sizes), 3, *largest), 255, dtype=torch.uint8)
    for out, image in zip(padded, images, strict=True):
        out[:, : image.shape[1], : image.shape[2]] = image
    return images, padded


@pytest.mark.parametrize("rrc", [True, False], ids=["random-resized-crop", "resize-center-crop"])
def test_images_padded_to_the_batchs_largest_match_torchvision_on_each_image(rrc):
    """Each image is cropped within its own size: the random resized crop of its own box, or
    the resize of its own short side then the center and padded crops (non-square images)."""
    aug = only(
        rrc=RandomResizedCropConfig(enabled=rrc, crop_min_scale=0.08),
        random_crop_padding=0 if rrc else 4,
    )
    images, padded = padded_batch(UNEQUAL_SIZES)
    sizes = torch.tensor(UNEQUAL_SIZES)
    params = sample_view_params(aug, len(images), sizes, generator=torch.Generator().manual_seed(0))
    expected = []
    for image, (top, left, height, width) in zip(images, params.box.tolist(), strict=True):
        if rrc:
            expected.append(TF.resized_crop(image, top, left, height, width, [32, 32], BICUBIC))
        else:
            resized = TF.center_crop(TF.resize(image, [32], interpolation=BICUBIC), [32])
            expected.append(TF.crop(TF.pad(resized, [4]), top + 4, left + 4, 32, 32))
    assert_levels_close(augment_view(padded, params, aug, sizes), expected, ONE_STEP_LEVELS)


JITTER_OPS = ["brightness", "contrast", "saturation", "hue"]


@pytest.mark.parametrize("op", range(4), ids=JITTER_OPS)
def test_each_jitter_operation_matches_torchvision(op):
    strengths = [0.0] * 4
    strengths[op] = 0.1 if JITTER_OPS[op] == "hue" else 0.4
    aug = only(color_jitter=ColorJitterConfig(1.0, *strengths))
    images = random_images(16)
    params = draw(aug, images)
    adjust = getattr(TF, f"adjust_{JITTER_OPS[op]}")
    expected = [
        adjust(image, params.jitter_factors[i, op].item()) for i, image in enumerate(images)
    ]
    assert_levels_close(augment_view(images, params, aug), expected, ONE_STEP_LEVELS)


def test_jitter_runs_each_images_operations_in_its_own_order_when_applied():
    """Against torchvision's ops on float images (no uint8 rounding), so the tolerance is float
    error: an operation out of order is off by tens of levels."""
    aug = only(color_jitter=ColorJitterConfig(0.7, 0.4, 0.4, 0.4, 0.1))
    images = random_images(32)
    params = draw(aug, images)
    assert 0 < params.jitter.sum() < len(images)
    adjust = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    expected = []
    for i, image in enumerate(images.float() / 255):
        if params.jitter[i]:
            for op in params.jitter_order[i].tolist():
                image = adjust[op](image, params.jitter_factors[i, op].item())
        expected.append(image)
    torch.testing.assert_close(
        augment_view(images, params, aug), torch.stack(expected), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize(
    ("step", "reference", "levels"),
    [
        ("grayscale", lambda image, _: TF.rgb_to_grayscale(image, 3), ONE_STEP_LEVELS),
        ("solarization", lambda image, _: TF.solarize(image, 128), 1e-3),
        ("equalization", lambda image, _: TF.equalize(image), 1e-3),
        ("horizontal_flip", lambda image, _: TF.horizontal_flip(image), 1e-3),
    ],
)
def test_probability_step_matches_torchvision_on_the_images_it_picks(step, reference, levels):
    aug = only(**{step: ProbabilityConfig(0.5)})
    images = random_images(24, high=120)  # a dark histogram, for equalization to stretch
    params = draw(aug, images)
    field = {"solarization": "solarize", "equalization": "equalize", "horizontal_flip": "flip"}
    picked = getattr(params, field.get(step, step))
    assert 0 < picked.sum() < len(images)
    expected = [
        reference(image, params) if chosen else image
        for image, chosen in zip(images, picked, strict=True)
    ]
    assert_levels_close(augment_view(images, params, aug), expected, levels)


@pytest.mark.parametrize("size", [32, 64])  # kernels of 3 and 7 taps
def test_blur_matches_torchvision_gaussian_blur_on_the_images_it_picks(size):
    aug = only(gaussian_blur=GaussianBlurConfig(0.5, 0.1, 2.0), crop_size=size)
    images = random_images(16, size)
    params = draw(aug, images)
    kernel = blur_kernel_size(size)
    expected = [
        TF.gaussian_blur(image, [kernel, kernel], [sigma.item()] * 2) if chosen else image
        for image, chosen, sigma in zip(images, params.blur, params.sigma, strict=True)
    ]
    assert_levels_close(augment_view(images, params, aug), expected, ROUNDED_LEVELS)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (28, 40)])
def test_rotation_matches_torchvision_rotate_with_each_images_angle(height, width):
    images = random_images(16, height, width)
    angles = torch.linspace(-15.0, 15.0, 16)
    expected = torch.stack(
        [TF.rotate(image, angle.item()) for image, angle in zip(images, angles, strict=True)]
    )
    ours = rotate(images.float(), angles)
    assert (ours != expected.float()).float().mean() < 1e-3  # a nearest-neighbour tie may differ
    assert (expected == 0).float().mean() > 0.02  # the corners are filled with zeros


def test_rotation_is_the_views_last_step_with_its_drawn_angle():
    aug = only(rotation_degrees=15.0, horizontal_flip=ProbabilityConfig(0.5))
    images = random_images(16)
    params = draw(aug, images)
    expected = [
        TF.rotate(TF.horizontal_flip(image) if flip else image, angle.item())
        for image, flip, angle in zip(images, params.flip, params.angle, strict=True)
    ]
    ours = augment_view(images, params, aug) * 255
    assert (ours.round() != torch.stack(expected).float()).float().mean() < 1e-3


def test_whole_pipeline_matches_torchvision_steps_in_solo_learn_order():
    """Crop, jitter, grayscale, blur, solarization, flip: rounding to uint8 after each of up to
    nine steps adds up to a few levels; a step out of order is off by tens."""
    aug = AugmentationConfig(
        gaussian_blur=GaussianBlurConfig(0.5), solarization=ProbabilityConfig(0.5), num_crops=1
    )
    images = random_images(32)
    params = draw(aug, images)
    adjust = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    expected = []
    for i, image in enumerate(images):
        image = TF.resized_crop(image, *params.box[i].tolist(), [32, 32], interpolation=BICUBIC)
        if params.jitter[i]:
            for op in params.jitter_order[i].tolist():
                image = adjust[op](image, params.jitter_factors[i, op].item())
        if params.grayscale[i]:
            image = TF.rgb_to_grayscale(image, 3)
        if params.blur[i]:
            image = TF.gaussian_blur(image, [3, 3], [params.sigma[i].item()] * 2)
        if params.solarize[i]:
            image = TF.solarize(image, 128)
        if params.flip[i]:
            image = TF.horizontal_flip(image)
        expected.append(image)
    difference = (augment_view(images, params, aug) * 255 - torch.stack(expected)).abs()
    assert difference.max() < 8
    assert difference.mean() < 2


# Same distributions: the batched sampler against torchvision's own make_params.


def torchvision_draws(transform: v2.Transform, inputs: list, keys: list[str]) -> torch.Tensor:
    torch.manual_seed(0)
    rows = []
    for _ in range(DRAWS):
        params = transform.make_params(inputs)
        rows.append([float(params[key]) for key in keys])
    return torch.tensor(rows)


def assert_same_distribution(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """Columns of [N, K] samples; two-sample Kolmogorov-Smirnov per column."""
    for column in range(ours.shape[1]):
        result = stats.ks_2samp(ours[:, column], theirs[:, column], method="asymp")
        assert result.pvalue > P_VALUE, (column, result)


def batch_params(aug: AugmentationConfig, height: int = 32, width: int = 32) -> ViewParams:
    return draw(aug, torch.zeros(DRAWS, 3, height, width, dtype=torch.uint8), seed=1)


@pytest.mark.parametrize(
    ("height", "width", "min_scale"),
    [(32, 32, 0.08), (20, 60, 0.3)],  # (20, 60): 40% of the draws fall back to the center
)
def test_random_resized_crop_boxes_follow_torchvision(height, width, min_scale):
    aug = only(rrc=RandomResizedCropConfig(crop_min_scale=min_scale))
    ours = batch_params(aug, height, width).box.double()
    rrc = v2.RandomResizedCrop(32, scale=(min_scale, 1.0))
    keys = ["top", "left", "height", "width"]
    theirs = torchvision_draws(rrc, [torch.zeros(3, height, width)], keys)
    assert_same_distribution(ours, theirs)
    if height != width:
        fallback = torch.tensor([0.0, 16.0, 20.0, 27.0])  # 20 x round(20 * 4 / 3), centered
        ours_rate = (ours == fallback).all(dim=1).double().mean()
        theirs_rate = (theirs.double() == fallback).all(dim=1).double().mean()
        assert 0.2 < theirs_rate < 0.8
        assert abs(ours_rate - theirs_rate) < 0.05


def test_random_resized_crop_boxes_of_unequal_images_each_follow_torchvision_for_its_size():
    """A batch of 32 x 32 and 20 x 60 images (alternating): each image's box follows
    ``RandomResizedCrop`` on an image of its own size, not of the padded batch's."""
    own_sizes = [(32, 32), (20, 60)]
    aug = only(rrc=RandomResizedCropConfig(crop_min_scale=0.3))
    generator = torch.Generator().manual_seed(1)
    sizes = torch.tensor(own_sizes).repeat(DRAWS, 1)
    boxes = sample_view_params(aug, len(sizes), sizes, generator=generator).box.double()
    rrc = v2.RandomResizedCrop(32, scale=(0.3, 1.0))
    keys = ["top", "left", "height", "width"]
    for k, (height, width) in enumerate(own_sizes):
        ours = boxes[k :: len(own_sizes)]
        assert (ours[:, 0] + ours[:, 2]).max() <= height
        assert (ours[:, 1] + ours[:, 3]).max() <= width
        theirs = torchvision_draws(rrc, [torch.zeros(3, height, width)], keys)
        assert_same_distribution(ours, theirs)


def test_padded_crop_offsets_follow_torchvision():
    ours = batch_params(only(random_crop_padding=4)).box[:, :2]
    crop = v2.RandomCrop(32, padding=4)
    theirs = torchvision_draws(crop, [torch.zeros(3, 32, 32)], ["top", "left"]) - 4
    for column in range(2):
        counts = [Counter(sample[:, column].tolist()) for sample in (ours, theirs)]
        table = [[count[offset] for offset in range(-4, 5)] for count in counts]
        assert stats.chi2_contingency(table).pvalue > P_VALUE


def test_jitter_factors_and_order_follow_torchvision():
    params = batch_params(only(color_jitter=ColorJitterConfig(1.0, 0.4, 0.4, 0.2, 0.1)))
    jitter = v2.ColorJitter(0.4, 0.4, 0.2, 0.1)
    keys = ["brightness_factor", "contrast_factor", "saturation_factor", "hue_factor"]
    assert_same_distribution(params.jitter_factors.double(), torchvision_draws(jitter, [], keys))
    torch.manual_seed(0)
    theirs = Counter(tuple(jitter.make_params([])["fn_idx"].tolist()) for _ in range(DRAWS))
    ours = Counter(tuple(order) for order in params.jitter_order.tolist())
    assert len(ours) == len(theirs) == 24
    table = [[counts[order] for order in sorted(theirs)] for counts in (ours, theirs)]
    assert stats.chi2_contingency(table).pvalue > P_VALUE


def test_blur_sigma_follows_torchvision():
    params = batch_params(only(gaussian_blur=GaussianBlurConfig(1.0, 0.1, 2.0)))
    blur = v2.GaussianBlur(3, sigma=(0.1, 2.0))
    torch.manual_seed(0)
    theirs = torch.tensor([blur.make_params([])["sigma"][0] for _ in range(DRAWS)])
    assert_same_distribution(params.sigma[:, None].double(), theirs[:, None].double())


def test_rotation_angle_follows_torchvision():
    params = batch_params(only(rotation_degrees=15.0))
    rotation = v2.RandomRotation(15.0)
    torch.manual_seed(0)
    theirs = torch.tensor([rotation.make_params([])["angle"] for _ in range(DRAWS)])
    assert_same_distribution(params.angle[:, None].double(), theirs[:, None].double())


def test_without_rotation_the_other_parameters_are_drawn_as_before():
    aug = AugmentationConfig()
    images = random_images(8)
    plain, rotated = draw(aug, images), draw(replace(aug, rotation_degrees=15.0), images)
    for field in fields(ViewParams):
        if field.name != "angle":
            torch.testing.assert_close(getattr(plain, field.name), getattr(rotated, field.name))
    assert (plain.angle == 0).all()


def test_a_view_without_rotation_draws_nothing_for_it():
    """The rotation's draw is the only one it adds, so views without it leave the generator where
    they did before the option existed (the next view and batch draw the same)."""
    aug, batch = AugmentationConfig(), 8
    plain = torch.Generator().manual_seed(0)
    sample_view_params(aug, batch, (32, 32), generator=plain)
    torch.rand(batch, generator=plain)  # what a rotation would draw
    rotated = torch.Generator().manual_seed(0)
    sample_view_params(replace(aug, rotation_degrees=15.0), batch, (32, 32), generator=rotated)
    assert torch.equal(plain.get_state(), rotated.get_state())


def test_steps_are_applied_with_the_per_image_pipelines_probabilities():
    aug = AugmentationConfig(
        color_jitter=ColorJitterConfig(prob=0.3),
        grayscale=ProbabilityConfig(0.4),
        gaussian_blur=GaussianBlurConfig(prob=0.5),
        solarization=ProbabilityConfig(0.6),
        equalization=ProbabilityConfig(0.7),
        horizontal_flip=ProbabilityConfig(0.8),
    )
    per_image = {}
    for step in build_pipeline(aug, *IDENTITY_STATS).transforms:
        if hasattr(step, "p"):
            inner = step.transforms[0] if isinstance(step, v2.RandomApply) else step
            per_image[type(inner).__name__] = step.p
    params = batch_params(aug)
    applied = {
        "ColorJitter": params.jitter,
        "RandomGrayscale": params.grayscale,
        "GaussianBlur": params.blur,
        "RandomSolarize": params.solarize,
        "RandomEqualize": params.equalize,
        "RandomHorizontalFlip": params.flip,
    }
    assert set(per_image) == set(applied)
    for name, chosen in applied.items():
        result = stats.binomtest(int(chosen.sum()), DRAWS, per_image[name])
        assert result.pvalue > P_VALUE, (name, result)


# The multi-view contract.


def test_views_are_normalised_float32_crops_in_pipeline_order():
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 0.2]
    pipelines = [
        only(crop_size=24, num_crops=2),
        only(crop_size=16, solarization=ProbabilityConfig(1.0)),
    ]
    transform = BatchedMultiViewTransform(pipelines, mean, std)
    white = torch.full((4, 3, 32, 32), 255, dtype=torch.uint8)
    views = transform(white)
    assert transform.num_views == len(views) == 3
    assert [tuple(view.shape) for view in views] == [(4, 3, 24, 24)] * 2 + [(4, 3, 16, 16)]
    assert all(view.dtype == torch.float32 for view in views)
    mean, std = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    torch.testing.assert_close(views[0], ((1 - mean) / std).expand(4, 3, 24, 24))
    torch.testing.assert_close(views[2], ((0 - mean) / std).expand(4, 3, 16, 16))


def test_a_seeded_generator_reproduces_the_views():
    transform = BatchedMultiViewTransform([AugmentationConfig()], *IDENTITY_STATS)
    images = random_images(8)

    def views(seed: int) -> list[torch.Tensor]:
        return transform(images, torch.Generator().manual_seed(seed))

    first, again, other = views(0), views(0), views(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    assert not torch.equal(first[0], first[1])


def test_each_image_gets_its_own_parameters():
    copies = random_images(1).expand(16, -1, -1, -1)
    params = draw(AugmentationConfig(), copies)
    assert len(set(map(tuple, params.box.tolist()))) > 8
    assert len(set(params.jitter_factors[:, 0].tolist())) == 16
    (view, _) = BatchedMultiViewTransform([AugmentationConfig()], *IDENTITY_STATS)(copies)
    assert len({tuple(v.flatten()[:64].tolist()) for v in view}) == 16


def test_float_images_are_refused():
    transform = BatchedMultiViewTransform([AugmentationConfig()], *IDENTITY_STATS)
    with pytest.raises(ValueError, match="uint8"):
        transform(torch.rand(2, 3, 32, 32))


@pytest.mark.cuda
def test_cuda_gives_the_pixels_of_the_cpu():
    # No equalization: its binning to uint8 levels may round a pixel differently on each device.
    aug = AugmentationConfig(
        gaussian_blur=GaussianBlurConfig(0.5), solarization=ProbabilityConfig(0.5), num_crops=1
    )
    images = random_images(32)
    params = draw(aug, images)
    on_cuda = replace(params, **{f.name: getattr(params, f.name).cuda() for f in fields(params)})
    ours = augment_view(images.cuda(), on_cuda, aug).cpu()
    torch.testing.assert_close(ours, augment_view(images, params, aug), atol=1e-4, rtol=0)
    transform = BatchedMultiViewTransform([aug], *IDENTITY_STATS)
    (view,) = transform(images.cuda(), torch.Generator("cuda").manual_seed(0))
    assert view.device.type == "cuda" and view.shape == (32, 3, 32, 32)


def test_hue_stage_without_selection_never_reads_the_device_and_agrees():
    """The GPU form (every image converted, zero shift off-turn) equals the CPU selection."""
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(8, 3, 5, 5, generator=generator)
    turn = torch.tensor([True, False, True, True, False, False, True, False])
    shift = torch.rand(8, generator=generator) - 0.5
    selected = hue_stage(x.clone(), turn, shift, select=True)
    everywhere = hue_stage(x.clone(), turn, shift, select=False)
    torch.testing.assert_close(everywhere, selected, rtol=0, atol=1e-5)
    torch.testing.assert_close(everywhere[~turn], x[~turn], rtol=0, atol=1e-5)


def test_batched_views_on_cpu_are_made_on_one_thread_and_the_thread_count_restored(monkeypatch):
    """One thread on CPU: its many short parallel regions would each wait for a thread that a
    busy neighbour process has descheduled."""
    import hyperssl.data.batched_augment as batched

    seen: list[int] = []
    real = batched.augment_view

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(batched, "augment_view", recording)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        views = BatchedMultiViewTransform([only(), only()], *IDENTITY_STATS)(random_images(4))
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
    assert len(views) == 2 and seen == [1, 1]
    assert after == 2


class HostDataRecorder(TorchDispatchMode):
    """The aten ops that make a tensor from host data (``torch.tensor(...)``, a Python number
    written into a tensor): on a GPU each is a copy from host memory, which waits for the device's
    queue."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in ("lift_fresh", "lift_fresh_copy", "_local_scalar_dense"):
            self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("padded", [False, True], ids=["equal_sizes", "padded_to_largest"])
def test_batched_views_copy_nothing_from_the_host_after_the_first_batch(padded):
    every_step = AugmentationConfig(
        color_jitter=ColorJitterConfig(prob=1.0),
        gaussian_blur=GaussianBlurConfig(1.0),
        solarization=ProbabilityConfig(1.0),
        equalization=ProbabilityConfig(1.0),
        rotation_degrees=30.0,
        num_crops=1,
    )
    center_crop = replace(every_step, rrc=RandomResizedCropConfig(enabled=False))
    transform = BatchedMultiViewTransform([every_step, center_crop], [0.5] * 3, [0.25] * 3)
    images = random_images(6, height=40)
    sizes = torch.tensor([[40, 40], [33, 40], [40, 35], [36, 36], [40, 32], [32, 40]])
    generator = torch.Generator().manual_seed(0)
    transform(images, generator, sizes if padded else None)  # the first batch may cache
    with HostDataRecorder() as recorder:
        transform(images, generator, sizes if padded else None)
    assert recorder.ops == []
