"""The data set registry (``data=<name>``) and what a registered data set provides.

A data set is one file under :mod:`hyperssl.data.sets`: a :class:`DataSource` subclass (how to
read a split, and the facts the data module and validation ask about) registered with the schema
of its config, a :class:`~hyperssl.data.schema.DataConfig` subclass holding its defaults::

    @dataclass
    class CIFAR10Config(DataConfig):
        mean: list[float] = field(default_factory=lambda: [0.4914, 0.4822, 0.4465])
        ...

    @register_dataset("cifar10", CIFAR10Config)
    class CIFAR10Source(DataSource):
        in_memory = downloadable = has_test_split = True
        ...
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from hyperssl.registry import Registry

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from hyperssl.data.schema import DataConfig

DATASETS: Registry = Registry("data set", "data", "hyperssl.data.sets", name_field="dataset")
register_dataset = DATASETS.register


@dataclass(frozen=True)
class SplitRequest:
    """One split of a data set, as :func:`hyperssl.data.datasets.build_dataset` asks for it.

    dataset: the registered name (for messages).
    split: ``train``, ``val`` or another of the data set's :attr:`DataSource.splits`.
    root: the folder to read (expanded); None only for a data set that reads no files.
    key: the config key errors name (``data.train_path`` or ``data.val_path``).
    download: fetch the files into ``root`` when absent, checking their MD5 sums.
    seed, val_fraction: a held-out validation share, fixed by the seed.
    skip_corrupt: leave out the image files that do not decode.
    """

    dataset: str
    split: str
    root: Path | None
    key: str
    download: bool = False
    seed: int = 0
    val_fraction: float = 0.2
    skip_corrupt: bool = False


class DataSource(abc.ABC):
    """Base of the registered data sets: how a split is read, and the rules that depend on the
    data set. Samples are ``(image, label)``: a uint8 RGB tensor [3, H, W] and an int, -1 when
    unlabelled; every data set has a ``classes`` list (empty when unlabelled)."""

    splits: ClassVar[tuple[str, ...]] = ("train", "val")
    # False: bundled with a library, so ``data.train_path`` is not needed (nor read).
    reads_files: ClassVar[bool] = True
    # Loaded whole into memory as TensorImages: ``augment_on=auto`` augments its batches on the
    # device, whatever the device. Otherwise its samples are image files (ImageFiles), which
    # ``auto`` augments batched on CUDA only (decoded there), per image in workers on a CPU.
    in_memory: ClassVar[bool] = False
    # ``data.download=true`` fetches it (Lightning's prepare_data, once per node).
    downloadable: ClassVar[bool] = False
    # An official test split under ``train_path``: validation when ``val_path`` is not set.
    has_test_split: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def load(cls, request: SplitRequest) -> Dataset:
        """The samples of ``request.split``; ConfigError naming a missing or unreadable file."""

    @classmethod
    def pretrain_split(cls, data: DataConfig) -> str:
        """The split pretraining reads (the labelled ``train`` split is the k-NN bank)."""
        return "train"

    @classmethod
    def val_source(cls, data: DataConfig) -> tuple[str | None, str] | None:
        """(root, config key) of the validation split; None when there is no validation."""
        if data.val_path:
            return data.val_path, "data.val_path"
        if cls.has_test_split:
            return data.train_path, "data.train_path"
        return None
