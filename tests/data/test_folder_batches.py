"""Folder data sets augmented on the batch: workers read the files' bytes, the device decodes
them to PIL's RGB pixels, pads them to the largest and augments them as the in-memory data sets,
each image cropped within its own size; damaged files are named or skipped as per image."""

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets_on_disk import damage, synthetic_images, write_image_folder
from PIL import Image
from pytorch_lightning.utilities import move_data_to_device

from hyperssl.data.batched_augment import BatchedMultiViewTransform
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.data.datasets import build_dataset
from hyperssl.data.encoded_files import (
    EncodedFileBatches,
    EncodedImages,
    _decode_jpegs_on_gpu,
    decode_images,
    pad_in_chunks,
)
from hyperssl.data.image_files import ImageFiles, UnreadableImageError, read_rgb
from hyperssl.data.schema import (
    AugmentationConfig,
    ColorJitterConfig,
    DataConfig,
    ProbabilityConfig,
)

# (file, height, width, PIL mode): JPEG and PNG (and a BMP, which only PIL decodes), colour,
# grayscale, palette, CMYK, alpha and 16-bit, both orientations; the batch pads to 50 x 60.
MIXED = [
    ("a.jpg", 30, 44, "RGB"),
    ("b.png", 50, 28, "RGB"),
    ("c.png", 33, 33, "L"),
    ("d.jpg", 24, 60, "L"),
    ("e.png", 40, 40, "P"),
    ("f.jpg", 48, 36, "CMYK"),
    ("g.png", 36, 36, "RGBA"),
    ("h.bmp", 20, 30, "RGB"),
    ("i.png", 26, 22, "I;16"),
]
JPEG_LEVELS = 2  # libjpeg builds may differ by a level; PNG and BMP decode exactly
MEAN, STD = [0.2, 0.3, 0.4], [0.5, 0.6, 0.7]


def write_mixed_folder(root: Path) -> Path:
    """The images of :data:`MIXED`: class-coloured stripes, cut to each size."""
    root.mkdir(parents=True, exist_ok=True)
    stripes = synthetic_images(np.arange(len(MIXED)) % 4, 4, 64, seed=0)
    for image, (name, height, width, mode) in zip(stripes, MIXED, strict=True):
        pixels = np.ascontiguousarray(image[:, :height, :width].transpose(1, 2, 0))
        if mode == "I;16":  # 16-bit gray: the luma spread over the 16 bits
            gray = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.uint16)
            pil = Image.fromarray(gray * 257)
        else:
            pil = Image.fromarray(pixels).convert(mode)
        pil.save(root / name)
    return root


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    return write_mixed_folder(tmp_path / "mixed")


def whole_batch(files: ImageFiles, indices: list[int] | None = None, jpegs_on_device=False):
    """What a worker hands over for ``indices`` (all, in order, by default)."""
    batches = EncodedFileBatches(files, jpegs_on_device)
    return batches.__getitems__(indices or list(range(len(files))))


def test_decoding_gives_pils_rgb_pixels_padded_with_zeros_to_the_largest(mixed_folder):
    files = build_dataset("folder", mixed_folder)
    encoded, labels, _ = whole_batch(files)
    (images,), sizes, _ = decode_images(encoded, labels, files.key)  # small: one chunk
    assert images.dtype == torch.uint8 and images.shape == (len(MIXED), 3, 50, 60)
    for image, (height, width), path in zip(images, sizes.tolist(), files.paths, strict=True):
        expected = read_rgb(path)  # the per-image path's PIL decode
        assert (height, width) == tuple(expected.shape[1:])
        difference = (image[:, :height, :width].int() - expected.int()).abs().max()
        assert difference <= (JPEG_LEVELS if path.suffix == ".jpg" else 0), path.name
        assert not image[:, height:].any() and not image[:, :, width:].any()


def test_a_batch_is_padded_in_chunks_of_at_most_the_pixel_budget_each_to_its_largest():
    shapes = [(4, 4), (5, 3), (20, 20), (2, 6), (3, 3), (4, 4)]
    images = [torch.full((3, h, w), i + 1, dtype=torch.uint8) for i, (h, w) in enumerate(shapes)]
    chunks, sizes = pad_in_chunks(images, max_pixels=60)
    # 2 x 5 x 4, then the 20 x 20 image alone (over the budget), then 3 x 4 x 6 (> 60: 2 x 3 x 6)
    assert [tuple(chunk.shape) for chunk in chunks] == [
        (2, 3, 5, 4), (1, 3, 20, 20), (2, 3, 3, 6), (1, 3, 4, 4)
    ]  # fmt: skip
    assert sizes.tolist() == [list(shape) for shape in shapes]
    padded = [image for chunk in chunks for image in chunk]
    for i, (image, (h, w)) in enumerate(zip(padded, shapes, strict=True)):
        assert (image[:, :h, :w] == i + 1).all() and image.sum() == (i + 1) * 3 * h * w


def test_views_of_a_batch_padded_in_chunks_equal_those_of_the_batch_padded_whole(mixed_folder):
    files = build_dataset("folder", mixed_folder)
    encoded, _, _ = whole_batch(files)
    images = [encoded.decoded[i] for i in range(len(encoded))]
    (whole,), sizes = pad_in_chunks(images)
    chunks, chunk_sizes = pad_in_chunks(images, max_pixels=3 * 50 * 60)
    assert len(chunks) > 2 and torch.equal(chunk_sizes, sizes)
    transform = BatchedMultiViewTransform([AugmentationConfig()], MEAN, STD)
    seed = torch.Generator().manual_seed
    for padded, chunked in zip(
        transform(whole, seed(0), sizes), transform(chunks, seed(0), sizes), strict=True
    ):
        torch.testing.assert_close(chunked, padded, rtol=0, atol=1e-5)


def datamodule(root: Path, batch_size: int, num_workers: int = 0) -> PretrainDataModule:
    """2 views of 16 pixels, jitter and grayscale off, folder batches augmented on the batch."""
    aug = AugmentationConfig(
        color_jitter=ColorJitterConfig(prob=0.0),
        grayscale=ProbabilityConfig(prob=0.0),
        crop_size=16,
    )
    config = DataConfig(
        dataset="folder",
        train_path=str(root),
        image_size=16,
        augment_on="batch",
        mean=MEAN,
        std=STD,
        num_workers=num_workers,
    )
    module = PretrainDataModule(config, [aug], batch_size)
    module.setup()
    return module


def test_folder_views_are_normalised_crops_of_each_image_within_its_own_size(tmp_path):
    """Solid colours of unequal sizes, JPEG, PNG and grayscale: every crop of an image is its
    colour, normalised; a crop that read the zero padding would be darker."""
    rng = np.random.default_rng(0)
    for i, (name, height, width, mode) in enumerate(MIXED[:5]):
        colour = tuple(int(c) for c in rng.integers(40, 256, 3))
        solid = Image.new("RGB", (width, height), colour).convert(mode, dither=Image.Dither.NONE)
        solid.save(tmp_path / f"{i}_{name}")
    module = datamodule(tmp_path, batch_size=5)
    views, labels, index = module.augment_batch(next(iter(module.train_dataloader())), 0, 0)
    colours = torch.stack([read_rgb(module.pretrain_set.paths[i])[:, 0, 0] for i in index])
    expected = ((colours / 255 - torch.tensor(MEAN)) / torch.tensor(STD))[:, :, None, None]
    assert len(views) == 2
    for view in views:
        assert view.dtype == torch.float32 and view.shape == (5, 3, 16, 16)
        torch.testing.assert_close(view, expected.expand_as(view), atol=1e-4, rtol=0)
    assert labels.tolist() == [-1] * 5 and index.dtype == torch.long


def test_the_loaders_workers_read_the_bytes_of_each_file(mixed_folder):
    module = datamodule(mixed_folder, batch_size=4, num_workers=1)
    loader = module.train_dataloader()
    encoded, labels, index = next(iter(loader))
    assert loader.num_workers == 1
    assert isinstance(encoded, EncodedImages) and len(encoded) == 4
    for i, position in enumerate(index.tolist()):
        path = module.pretrain_set.paths[position]
        assert encoded.paths[i] == str(path)
        assert encoded.file(i).numpy().tobytes() == path.read_bytes()
    assert labels.tolist() == [-1] * 4


def test_moving_an_encoded_batch_notes_the_device_and_keeps_the_bytes_in_cpu_memory(
    mixed_folder,
):
    """Lightning's move: the decoders read the bytes from CPU memory whatever the device."""
    encoded, labels, index = whole_batch(build_dataset("folder", mixed_folder))
    moved, labels, index = move_data_to_device((encoded, labels, index), torch.device("meta"))
    assert moved.device == torch.device("meta") and labels.device == torch.device("meta")
    assert moved.data.device.type == "cpu" and moved.data is encoded.data


@pytest.mark.parametrize(("device", "batched"), [("cpu", False), ("cuda", True)])
def test_auto_augments_folder_batches_on_cuda_only(flat_folder_root, device, batched):
    config = DataConfig(dataset="folder", train_path=str(flat_folder_root), num_workers=0)
    module = PretrainDataModule(config, [AugmentationConfig()], 4)
    module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)))
    assert module.augments_batches is batched


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "deleted"])
def test_a_file_that_does_not_decode_is_a_one_line_error_naming_it(mixed_folder, how):
    files = build_dataset("folder", mixed_folder)  # damaged after the data set was built
    broken = mixed_folder / "a.jpg"
    if how == "deleted":
        broken.unlink()
    else:
        damage(broken, how)
    encoded, labels, _ = whole_batch(files)
    with pytest.raises(UnreadableImageError) as error:
        decode_images(encoded, labels, files.key)
    assert error.value.key == "data.train_path"
    assert error.value.problem.startswith(f"{broken} is not a readable image: ")
    assert "\n" not in str(error.value)


def test_skip_corrupt_replaces_a_file_damaged_later_by_the_next_image_of_its_batch(
    tmp_path, caplog
):
    root = write_image_folder(tmp_path / "images", classes=("a", "b"), n_per_class=2, ext=".jpg")
    files = build_dataset("imagefolder", root, skip_corrupt=True)
    broken = damage(root / "a" / "a_001.jpg", "truncated")
    encoded, labels, _ = whole_batch(files)  # a_000, a_001, b_000, b_001

    (images,), _, labels = decode_images(encoded, labels, files.key, skip_corrupt=True)

    assert torch.equal(images[1], images[2])
    assert labels.tolist() == [0, 1, 1, 1]  # a_001's place holds b_000 and its label
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"data.train_path: {broken} is not a readable image: ")
    assert warning.endswith("the next image is used instead (data.skip_corrupt=true)")


def test_for_a_cpu_device_the_workers_decode_every_file_to_pils_pixels(mixed_folder):
    files = build_dataset("folder", mixed_folder)
    encoded, _, _ = whole_batch(files)
    assert sorted(encoded.decoded) == list(range(len(MIXED)))
    for i, path in enumerate(encoded.paths):
        levels = JPEG_LEVELS if path.endswith(".jpg") else 0
        difference = (encoded.decoded[i].int() - read_rgb(path).int()).abs()
        assert difference.max() <= levels, path


def test_for_a_cuda_device_the_workers_leave_the_jpegs_nvjpeg_decodes(mixed_folder):
    """RGB and grayscale JPEGs stay bytes; PNG, BMP and CMYK JPEG (which nvJPEG does not decode
    as torchvision calls it) are decoded in the workers."""
    files = build_dataset("folder", mixed_folder)
    encoded, _, _ = whole_batch(files, jpegs_on_device=True)
    left = {Path(encoded.paths[i]).name for i in range(len(encoded)) if i not in encoded.decoded}
    assert left == {"a.jpg", "d.jpg"}
    assert [Path(encoded.paths[i]).name for i in encoded.for_nvjpeg] == ["a.jpg", "d.jpg"]


def test_for_a_cuda_device_a_jpeg_cut_short_is_left_to_the_cpu_which_names_it(mixed_folder):
    """nvJPEG may decode a truncated file without an error: a JPEG that does not end with its
    end-of-image marker is decoded on the CPU, where it fails and is named."""
    files = build_dataset("folder", mixed_folder)
    broken = damage(mixed_folder / "a.jpg", "truncated")
    encoded, labels, _ = whole_batch(files, jpegs_on_device=True)
    assert [Path(encoded.paths[i]).name for i in encoded.for_nvjpeg] == ["d.jpg"]
    with pytest.raises(UnreadableImageError, match=f"{broken} is not a readable image"):
        decode_images(encoded, labels, files.key)


def test_for_a_cuda_device_a_jpeg_with_data_after_its_end_is_decoded_on_the_cpu(mixed_folder):
    files = build_dataset("folder", mixed_folder)
    trailed = mixed_folder / "d.jpg"
    trailed.write_bytes(trailed.read_bytes() + b"trailer")
    encoded, _, _ = whole_batch(files, jpegs_on_device=True)
    assert [Path(encoded.paths[i]).name for i in encoded.for_nvjpeg] == ["a.jpg"]
    position = encoded.paths.index(str(trailed))
    difference = (encoded.decoded[position].int() - read_rgb(str(trailed)).int()).abs()
    assert difference.max() <= JPEG_LEVELS


@pytest.mark.cuda
def test_cuda_decodes_jpegs_with_nvjpeg_near_pils_pixels_and_the_others_exactly(mixed_folder):
    files = build_dataset("folder", mixed_folder)
    encoded, labels, _ = whole_batch(files)
    batch = whole_batch(files, jpegs_on_device=True)
    on_cuda, cuda_labels, _ = move_data_to_device(batch, torch.device("cuda"))
    # nvJPEG, not a fallback to the CPU, decodes the JPEGs the workers left.
    by_nvjpeg = _decode_jpegs_on_gpu(on_cuda)
    assert {Path(on_cuda.paths[i]).name for i in by_nvjpeg} == {"a.jpg", "d.jpg"}
    (images,), sizes, _ = decode_images(on_cuda, cuda_labels, files.key)
    (expected,), expected_sizes, _ = decode_images(encoded, labels, files.key)
    assert images.device.type == "cuda" and torch.equal(sizes.cpu(), expected_sizes)
    for image, reference, path in zip(images.cpu(), expected, files.paths, strict=True):
        difference = (image.float() - reference.float()).abs()
        if path.suffix == ".jpg":  # nvJPEG's IDCT and chroma upsampling are its own
            assert difference.mean() < 2, path.name
        else:
            assert difference.max() == 0, path.name
