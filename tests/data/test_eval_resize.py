"""``data.eval_resize``: the evaluation view's short side before the centre crop (solo-learn's
ImageNet evaluation: Resize(256), CenterCrop(224)), read from an image folder on disk."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from torchvision.io import read_image
from torchvision.transforms import v2

from hyperssl import ConfigError
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.data.registry import DATASETS
from hyperssl.data.schema import AugmentationConfig, validate_data_config
from hyperssl.eval.data import load_eval_data


def write_one_image(root: Path, width: int = 400, height: int = 300) -> Path:
    """``root/a/image.png``: random pixels, the only image of the only class."""
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path = root / "a" / "image.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(pixels).save(path)
    return path


def imagefolder_config(root: Path, **values):
    defaults = {"train_path": str(root), "num_classes": 1, "num_workers": 0}
    return OmegaConf.merge(DATASETS.config_node("imagefolder"), defaults, values)


def by_hand(path: Path, resize: int, crop: int, mean: list, std: list) -> torch.Tensor:
    """torchvision's Resize(resize) (short side) and CenterCrop(crop) on the decoded uint8 image
    (v2, as on the data sets' uint8 tensors: v1 rounds a few pixels one level apart)."""
    image = v2.CenterCrop(crop)(v2.Resize(resize)(read_image(str(path))))
    return v2.Normalize(mean, std)(image.float() / 255)


@pytest.mark.parametrize("eval_resize,short_side", [(256, 256), (None, 224)])
def test_eval_view_of_a_300x400_image_is_resize_then_center_crop_224(
    tmp_path, eval_resize, short_side
):
    path = write_one_image(tmp_path)
    data = load_eval_data(imagefolder_config(tmp_path, eval_resize=eval_resize), split_seed=0)
    image, _ = data.train[0]
    view = data.eval_transform()(image)
    expected = by_hand(path, short_side, 224, data.cfg.mean, data.cfg.std)
    assert view.shape == (3, 224, 224)
    torch.testing.assert_close(view, expected, rtol=0, atol=1e-6)


def test_eval_resize_256_differs_from_resizing_to_the_crop(tmp_path):
    path = write_one_image(tmp_path)
    data = load_eval_data(imagefolder_config(tmp_path, eval_resize=256), split_seed=0)
    view = data.eval_transform()(data.train[0][0])
    to_crop = by_hand(path, 224, 224, data.cfg.mean, data.cfg.std)
    assert (view - to_crop).abs().max() > 0.5


def test_eval_resize_below_the_crop_names_the_key(tmp_path):
    with pytest.raises(ConfigError) as error:
        validate_data_config(imagefolder_config(tmp_path, eval_resize=200))
    assert str(error.value).startswith("data.eval_resize: got 200; allowed:")


def test_pretraining_validation_uses_the_same_eval_resize(tmp_path):
    path = write_one_image(tmp_path)
    config = imagefolder_config(tmp_path, eval_resize=256, image_size=224)
    module = PretrainDataModule(config, [AugmentationConfig(crop_size=224)], 1, 0)
    view = module.eval_transform(read_image(str(path)))
    torch.testing.assert_close(view, by_hand(path, 256, 224, config.mean, config.std))
