"""The data set registry: every registered data set validates with its schema's defaults and reads
its on-disk fixture; the rules that depend on the data set live in its own file."""

import pytest
import torch
from omegaconf import OmegaConf

from hyperssl import ConfigError
from hyperssl.data.datasets import build_dataset
from hyperssl.data.image_files import ImageFiles
from hyperssl.data.in_memory import TensorImages
from hyperssl.data.registry import DATASETS
from hyperssl.data.schema import DataConfig, validate_data_config

# The conftest fixture holding each data set's files in its real format (None: reads no files).
ROOT_FIXTURES = {
    "digits": None,
    "mnist": "mnist_root",
    "fashion_mnist": "fashion_mnist_root",
    "cifar10": "cifar10_root",
    "cifar100": "cifar100_root",
    "stl10": "stl10_root",
    "imagefolder": "image_folder_root",
    "folder": "flat_folder_root",
}


def defaults(name: str, **changes) -> DataConfig:
    """The registered schema's defaults, as ``data=<name>`` composes them, with ``changes``."""
    return OmegaConf.merge(DATASETS.config_node(name), changes)


def test_every_registered_data_set_has_an_on_disk_fixture():
    assert sorted(ROOT_FIXTURES) == DATASETS.names()


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_data_set_reads_its_train_split_as_uint8_images_and_int_labels(name, request):
    fixture = ROOT_FIXTURES[name]
    root = request.getfixturevalue(fixture) if fixture else None
    dataset = build_dataset(name, root, "train")
    image, label = dataset[0]
    assert image.dtype == torch.uint8 and image.ndim == 3 and image.shape[0] == 3
    assert isinstance(label, int)
    # The two kinds the batched path reads: images in memory, or image files it decodes.
    assert isinstance(dataset, TensorImages) == DATASETS.get(name).in_memory
    assert isinstance(dataset, TensorImages | ImageFiles)


# fashion_mnist's null train_path reads Debian's package (tests/data/test_mnist_gz.py).
@pytest.mark.parametrize("name", [name for name in DATASETS.names() if name != "fashion_mnist"])
def test_only_data_sets_that_read_files_require_a_train_path(name):
    data = defaults(name, train_path=None)
    if DATASETS.get(name).reads_files:
        with pytest.raises(ConfigError, match="is required for dataset") as error:
            validate_data_config(data)
        assert error.value.key == "data.train_path"
    else:
        validate_data_config(data)


def test_unknown_data_set_names_the_registered_ones():
    with pytest.raises(ConfigError) as error:
        validate_data_config(defaults("cifar10", dataset="cifar11"))
    allowed = ", ".join(DATASETS.names())
    assert str(error.value) == f"data.dataset: unknown data set 'cifar11'; allowed: {allowed}"


def test_build_dataset_of_an_unknown_name_names_the_registered_ones(tmp_path):
    with pytest.raises(ConfigError) as error:
        build_dataset("cifar11", tmp_path)
    assert error.value.key == "data.dataset"
    assert error.value.allowed == ", ".join(DATASETS.names())


def test_split_a_data_set_does_not_offer_is_refused(cifar10_root):
    with pytest.raises(ValueError, match="'cifar10' has no split 'train\\+unlabeled'"):
        build_dataset("cifar10", cifar10_root, "train+unlabeled")


def test_values_left_missing_take_the_data_set_defaults():
    data = validate_data_config(DataConfig(dataset="cifar100", train_path="/data"))
    assert type(data).__name__ == "CIFAR100Config"
    assert (data.num_classes, data.image_size) == (100, 32)
    assert data.mean == [0.5071, 0.4865, 0.4409]


def test_values_given_override_the_data_set_defaults():
    data = validate_data_config(DataConfig(dataset="stl10", train_path="/d", image_size=64))
    assert (data.image_size, data.num_classes) == (64, 10)


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError) as error:
        validate_data_config(OmegaConf.create({"dataset": "digits", "num_workers": "many"}))
    assert error.value.key == "data.num_workers"


def test_folder_rejects_a_val_path(flat_folder_root):
    data = defaults("folder", train_path=str(flat_folder_root), val_path=str(flat_folder_root))
    with pytest.raises(ConfigError, match="unlabelled 'folder' data has no validation") as error:
        validate_data_config(data)
    assert error.value.key == "data.val_path"


@pytest.mark.parametrize("val_fraction", [-0.1, 1.0])
def test_digits_val_fraction_outside_0_1_is_rejected(val_fraction):
    with pytest.raises(ConfigError) as error:
        validate_data_config(defaults("digits", val_fraction=val_fraction))
    assert error.value.key == "data.val_fraction"


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_data_set_accepts_batch_augmentation_and_refuses_other_values(name):
    validate_data_config(defaults(name, train_path="/images", augment_on="batch"))
    with pytest.raises(ConfigError) as error:
        validate_data_config(defaults(name, train_path="/images", augment_on="gpu"))
    assert error.value.key == "data.augment_on"
