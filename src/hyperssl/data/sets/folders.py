"""Image files decoded on access: ``imagefolder`` (labelled class sub-folders) and ``folder``
(unlabelled images anywhere under ``train_path``). Images are decoded to RGB; ImageNet statistics.
"""

from dataclasses import dataclass, field

from omegaconf import DictConfig
from torch.utils.data import Dataset

from hyperssl.data.image_files import image_folder, unlabelled_folder
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.schema import DataConfig
from hyperssl.errors import ConfigError

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class ImageFolderConfig(DataConfig):
    """torchvision's ImageFolder layout, ``<train_path>/<class>/<image>``: set ``train_path``,
    ``num_classes`` (the number of class folders) and, for validation, ``val_path`` (the same
    class folders)."""

    num_classes: int = 1000
    image_size: int = 224
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))


@dataclass
class FolderConfig(ImageFolderConfig):
    """Unlabelled images (jpg, png, ...; sub-folders included): pretraining only, every label is
    -1, so there is no validation, online probe accuracy or k-NN."""

    # Unused (no labels), kept at the value earlier runs' probe was built with so they resume.
    num_classes: int = 10

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        super().validate(cfg, key)
        if self.val_path:
            raise ConfigError(
                key=f"{key}.val_path",
                problem=f"got {self.val_path!r}, but unlabelled 'folder' data has no validation",
                allowed="null, or dataset=imagefolder for labelled class sub-folders",
            )


@register_dataset("imagefolder", ImageFolderConfig)
class ImageFolderSource(DataSource):
    """The labelled images in ``root``'s class sub-folders, whatever the split."""

    @classmethod
    def load(cls, request: SplitRequest) -> Dataset:
        return image_folder(request.root, request.key, request.skip_corrupt)


@register_dataset("folder", FolderConfig)
class FolderSource(DataSource):
    """Every image file under ``root``, label -1, in sorted path order."""

    @classmethod
    def load(cls, request: SplitRequest) -> Dataset:
        return unlabelled_folder(request.root, request.key, request.skip_corrupt)
