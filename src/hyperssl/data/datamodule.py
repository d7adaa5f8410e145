"""The LightningDataModule of pretraining: multi-view training batches, labelled evaluation batches.

Batches:

- training steps get ``(views, labels, index)``; views a list of V float32 [B, 3, H, W] (V and
  H, W set by the augmentation pipelines), labels long [B] (-1 for unlabelled images), index long
  [B] the sample's position in the pretraining set. Shuffled, last partial batch dropped.
  Where they are made depends on ``data.augment_on`` (:class:`~hyperssl.data.schema.DataConfig`;
  ``auto``: batched for in-memory data sets, and for folders on CUDA only):
    - per image (``workers``): ``train_dataloader`` yields them, its workers running the
      torchvision pipelines of :mod:`hyperssl.data.augment`;
    - batched (``batch``): ``train_dataloader`` yields ``(images, labels, index)``, images either
      the uint8 [B, 3, H, W] of an in-memory data set, gathered in one indexing op with no
      workers, or the :class:`~hyperssl.data.encoded_files.EncodedImages` of a folder's files,
      which the workers read and decode (but for the JPEGs nvJPEG decodes on a CUDA device);
      ``on_after_batch_transfer`` turns them into the views on the device (those JPEGs decoded
      there first, :mod:`hyperssl.data.encoded_files`; then
      :mod:`hyperssl.data.batched_augment`) with a generator seeded by (seed, epoch, batch, rank):
      a resumed run draws the same views with no extra checkpoint state. Outside a Trainer,
      ``augment_batch(batch_on_device, epoch, batch_idx)`` does the same.
- ``val_dataloader``: ``(images, labels)`` with the eval transform; ``[]`` when there is no
  labelled validation data (``folder``, ``imagefolder`` without ``val_path``, digits with
  ``val_fraction=0``).
- ``train_eval_dataloader``: the labelled train set with the eval transform, in order, every
  sample kept: the k-NN feature bank. For stl10 this is ``train`` without the unlabelled images.
"""

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from hyperssl.data.augment import MultiViewTransform, eval_transform
from hyperssl.data.batched_augment import BatchedMultiViewTransform
from hyperssl.data.datasets import build_dataset
from hyperssl.data.encoded_files import EncodedFileBatches, EncodedImages, decode_images
from hyperssl.data.in_memory import TensorImages
from hyperssl.data.registry import DATASETS
from hyperssl.data.sampler import EpochSeededShuffle
from hyperssl.data.schema import (
    AugmentationConfig,
    DataConfig,
    validate_augmentations,
    validate_data_config,
)
from hyperssl.data.worker_init import init_data_worker
from hyperssl.errors import ConfigError


class MultiViewDataset(Dataset):
    """(image, label) -> (views, label, index)."""

    def __init__(self, base: Dataset, transform: MultiViewTransform) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[list[Tensor], int, int]:
        image, label = self.base[index]
        return self.transform(image), label, index


class InMemoryBatches(Dataset):
    """uint8 images, labels and indices of a whole batch of :class:`TensorImages`, gathered in one
    indexing op: the DataLoader hands ``__getitems__`` the batch's indices (pass
    ``collate_fn=already_collated``)."""

    def __init__(self, base: TensorImages) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, int]:
        return self.base.images[index], self.base.labels[index], index

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        """-> images uint8 [B, 3, H, W], labels long [B], index long [B]."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.base.images[index], self.base.labels[index], index


def already_collated(batch: Any) -> Any:
    """The collate function of a dataset whose ``__getitems__`` returns whole batches."""
    return batch


def batch_seed(seed: int, epoch: int, batch_idx: int, rank: int) -> int:
    """A 63-bit seed for one training batch: a hash, so nearby tuples (seed 1 at epoch 0, seed 0
    at epoch 1) get unrelated streams."""
    key = f"{seed}/{epoch}/{batch_idx}/{rank}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


class TransformedDataset(Dataset):
    """(image, label) -> (transform(image), label)."""

    def __init__(self, base: Dataset, transform: Callable[[Any], Tensor]) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, label = self.base[index]
        return self.transform(image), label


class PretrainDataModule(pl.LightningDataModule):
    """Data for self-supervised pretraining, built from the ``data`` and ``augmentations`` configs.

    Data sets are built once, in ``setup``; with ``data.download`` they are fetched (and their MD5
    sums checked) in ``prepare_data``, which Lightning runs on one process per node. ``data``
    (a DataConfig or a DictConfig with its keys) is validated and kept as its data set's schema
    object, what it leaves MISSING filled with the data set's defaults.
    """

    def __init__(
        self,
        data: DataConfig,
        augmentations: Sequence[AugmentationConfig],
        batch_size: int,
        seed: int = 0,
    ) -> None:
        super().__init__()
        data = validate_data_config(data)
        validate_augmentations(augmentations)
        if batch_size < 1:
            raise ConfigError("optimizer.batch_size", f"got {batch_size}", allowed="an int >= 1")
        self.data_config = data
        self.source = DATASETS.get(data.dataset)
        self.batch_size = batch_size
        self.seed = seed
        # Kept on the batched path too: diagnostics callbacks augment single images with it.
        self.train_transform = MultiViewTransform(augmentations, data.mean, data.std)
        self.batch_transform = BatchedMultiViewTransform(augmentations, data.mean, data.std)
        self.eval_transform = eval_transform(data.image_size, data.mean, data.std, data.eval_resize)
        self.pretrain_set: Dataset | None = None
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    @property
    def num_classes(self) -> int:
        return self.data_config.num_classes

    @property
    def num_views(self) -> int:
        return self.train_transform.num_views

    @property
    def has_validation(self) -> bool:
        """Whether val_dataloader yields labelled batches (known from the config before setup)."""
        if self.pretrain_set is None:
            return self._val_source is not None
        return self.val_set is not None and len(self.val_set) > 0

    @property
    def labelled(self) -> bool:
        """Whether the pretraining images carry labels: a data set's class list is empty when
        they have none (``folder``, every label -1). Sets the data up if it is not yet."""
        self._require_setup()
        return bool(getattr(self.pretrain_set, "classes", []))

    @property
    def _pretrain_split(self) -> str:
        return self.source.pretrain_split(self.data_config)

    @property
    def _val_source(self) -> tuple[str | None, str] | None:
        """(root, config key) of the validation data, or None when there is none."""
        return self.source.val_source(self.data_config)

    def _build(self, root: str | None, split: str, key: str, download: bool = False) -> Dataset:
        data = self.data_config
        return build_dataset(
            data.dataset,
            root,
            split,
            download,
            self.seed,
            data.val_fraction,
            key=key,
            skip_corrupt=data.skip_corrupt,
        )

    def prepare_data(self) -> None:
        data = self.data_config
        if not (data.download and self.source.downloadable):
            return
        self._build(data.train_path, self._pretrain_split, "data.train_path", download=True)
        val = self._val_source
        if val is not None:
            self._build(val[0], "val", val[1], download=True)

    def setup(self, stage: str | None = None) -> None:
        if self.pretrain_set is not None:
            return
        data = self.data_config
        split = self._pretrain_split
        pretrain = self._build(data.train_path, split, "data.train_path")
        train = (
            pretrain
            if split == "train"
            else self._build(data.train_path, "train", "data.train_path")
        )
        self._check_classes(train, "data.train_path")
        val = self._val_source
        self.val_set = None if val is None else self._build(val[0], "val", val[1])
        if self.val_set is not None:
            self._check_classes(self.val_set, val[1], reference=train)
        if len(pretrain) < self.batch_size:
            raise ConfigError(
                key="optimizer.batch_size",
                problem=f"{self.batch_size} exceeds the {len(pretrain)} training images "
                "(the last partial batch is dropped, so no batch would remain)",
                allowed=f"at most {len(pretrain)}",
            )
        self.pretrain_set, self.train_set = pretrain, train

    def _check_classes(self, dataset: Dataset, key: str, reference: Dataset | None = None) -> None:
        """The class list must match data.num_classes (and the train set's, for validation)."""
        classes = getattr(dataset, "classes", [])
        if not classes:
            return
        if reference is not None and getattr(reference, "classes", []) not in ([], classes):
            raise ConfigError(
                key=key,
                problem=f"its classes {classes} differ from the train set's {reference.classes}",
            )
        if len(classes) != self.num_classes:
            raise ConfigError(
                key="data.num_classes",
                problem=f"is {self.num_classes} but {key} has {len(classes)} classes",
                allowed=str(len(classes)),
            )

    @property
    def augments_batches(self) -> bool:
        """Whether training views are made batched on the device (else per image in workers):
        ``data.augment_on``, whose ``auto`` is batched for the data sets held in memory and, for
        image files, on a CUDA device only (see :class:`~hyperssl.data.schema.DataConfig`)."""
        augment_on = self.data_config.augment_on
        if augment_on != "auto":
            return augment_on == "batch"
        return self.source.in_memory or self._training_device.type == "cuda"

    @property
    def _training_device(self) -> torch.device:
        """The trainer's device once one is attached; before, CUDA when there is one."""
        if self.trainer is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return self.trainer.strategy.root_device

    def _loader(self, dataset: Dataset, train: bool, **options: Any) -> DataLoader:
        """Training loaders shuffle by (seed, epoch) and drop the last partial batch; the others
        keep order and every sample.

        Workers are not persistent: each epoch's workers of a training loader are seeded from
        the sampler's (seed, epoch) generator, so a resumed run draws the same augmentations,
        mid-epoch too. (Without workers the loader draws no seed that matters, and its generator
        is left as it was, so the global random stream of such runs is unchanged.)
        """
        options.setdefault("num_workers", self.data_config.num_workers)
        sampler = EpochSeededShuffle(dataset, self.seed) if train else None
        if sampler is not None and options["num_workers"] > 0:
            options["generator"] = sampler.worker_seeds
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=train,
            pin_memory=self.data_config.pin_memory and torch.cuda.is_available(),
            worker_init_fn=init_data_worker,
            **options,
        )

    def _require_setup(self) -> None:
        if self.pretrain_set is None:
            self.setup()

    def train_dataloader(self) -> DataLoader:
        self._require_setup()
        if not self.augments_batches:
            views = MultiViewDataset(self.pretrain_set, self.train_transform)
            return self._loader(views, train=True)
        if isinstance(self.pretrain_set, TensorImages):
            batches = InMemoryBatches(self.pretrain_set)
            return self._loader(batches, train=True, num_workers=0, collate_fn=already_collated)
        # Image files: the workers read their bytes and decode what nvJPEG does not.
        jpegs_on_device = self._training_device.type == "cuda"
        files = EncodedFileBatches(self.pretrain_set, jpegs_on_device)
        return self._loader(files, train=True, collate_fn=already_collated)

    def augment_batch(
        self,
        batch: tuple[Tensor | EncodedImages, Tensor, Tensor],
        epoch: int,
        batch_idx: int,
        rank: int = 0,
    ) -> tuple[list[Tensor], Tensor, Tensor]:
        """(uint8 images or encoded files, labels, index) -> (views, labels, index), on the
        images' device, drawn from a generator seeded by (seed, epoch, batch_idx, rank).

        Encoded files are decoded on their device first (:func:`decode_images`; with
        ``skip_corrupt`` a file that does not decode is replaced, labels included).
        """
        images, labels, index = batch
        sizes = None
        if isinstance(images, EncodedImages):
            key, skip_corrupt = self.pretrain_set.key, self.data_config.skip_corrupt
            images, sizes, labels = decode_images(images, labels, key, skip_corrupt)
        generator = torch.Generator(labels.device)
        generator.manual_seed(batch_seed(self.seed, epoch, batch_idx, rank))
        return self.batch_transform(images, generator, sizes), labels, index

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Make the training views of a batched-path batch once it is on the device; evaluation
        batches pass unchanged."""
        trainer = self.trainer
        if trainer is None or not trainer.training or not self.augments_batches:
            return batch
        # Lightning moves a batch to the device before it counts it as ready, so the batch index
        # in the epoch is one past the loop's current one (the loop computes it the same way).
        batch_idx = trainer.fit_loop.epoch_loop.batch_idx + 1
        return self.augment_batch(batch, trainer.current_epoch, batch_idx, trainer.global_rank)

    def val_dataloader(self) -> DataLoader | list:
        self._require_setup()
        if not self.has_validation:
            return []
        return self._loader(TransformedDataset(self.val_set, self.eval_transform), train=False)

    def train_eval_dataloader(self) -> DataLoader:
        self._require_setup()
        return self._loader(TransformedDataset(self.train_set, self.eval_transform), train=False)
