"""One split of a registered data set by name: :func:`build_dataset`.

Samples are ``(image, label)``: image a uint8 RGB tensor [3, H, W], label an int, -1 for
unlabelled images (STL-10's ``unlabeled`` split, a plain ``folder``). Every data set has a
``classes`` list (empty when unlabelled). Files that are missing or cannot be parsed raise
:class:`hyperssl.ConfigError` naming the file, so the entry points report them in one line. Each
data set lives in its own file under :mod:`hyperssl.data.sets`.
"""

from pathlib import Path

from torch.utils.data import Dataset

from hyperssl.data.registry import DATASETS, SplitRequest
from hyperssl.errors import ConfigError


def build_dataset(
    name: str,
    root: str | Path | None,
    split: str = "train",
    download: bool = False,
    seed: int = 0,
    val_fraction: float = 0.2,
    *,
    key: str = "data.train_path",
    skip_corrupt: bool = False,
) -> Dataset:
    """Build one split of the data set registered as ``name``.

    root: the torchvision root (holding ``cifar-10-batches-py``, ``MNIST/raw`` ...) or the image
        folder; unused by data sets that read no files (digits).
    split: ``train``, ``val`` (the official test split, or a held-out share; folders read
        ``root`` whatever the split) or another split the data set offers (stl10's
        ``train+unlabeled``).
    download: fetch the files into ``root`` when absent and check their MD5 sums; never done
        otherwise.
    seed, val_fraction: a held-out validation share (digits), fixed by the seed.
    key: the config key named by errors (``data.train_path`` or ``data.val_path``).
    skip_corrupt: leave out the image files that do not decode (imagefolder, folder; see
        :mod:`hyperssl.data.image_files`).
    """
    source = DATASETS.get(name)
    if split not in source.splits:
        raise ValueError(f"data set {name!r} has no split {split!r}; it has {source.splits}")
    if root is None and source.reads_files:
        raise ConfigError(key=key, problem=f"is required for dataset {name!r}")
    request = SplitRequest(
        dataset=name,
        split=split,
        root=None if root is None else Path(root).expanduser(),
        key=key,
        download=download,
        seed=seed,
        val_fraction=val_fraction,
        skip_corrupt=skip_corrupt,
    )
    return source.load(request)
