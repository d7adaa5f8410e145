"""``mnist`` and ``fashion_mnist`` from the four idx files
``{train,t10k}-{images-idx3,labels-idx1}-ubyte``, gzipped (``.gz``) or extracted, under
``data.train_path``: in torchvision's layout (``MNIST/raw/`` or ``FashionMNIST/raw/``) or directly
(a flat folder, as the official downloads and Debian's package hold them); see
:mod:`hyperssl.data.mnist`. Validation is the official t10k split from the same folder unless
``val_path`` is set; ``download=true`` fetches what is missing (and checks MD5 sums). The 28x28
grayscale images are replicated to 3 channels and brought to ``image_size`` by the eval transform
(resize, then center crop).

``fashion_mnist`` needs no path where Debian's ``dataset-fashion-mnist`` is installed
(``apt-get install dataset-fashion-mnist``): ``train_path: null``, its default, reads the
package's folder. MNIST has no Debian package; its default is ``./datasets``.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from omegaconf import DictConfig
from torchvision.datasets import MNIST, FashionMNIST

from hyperssl.data.in_memory import TensorImages
from hyperssl.data.mnist import load_mnist
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.schema import DataConfig
from hyperssl.errors import ConfigError

# Where Debian's dataset-fashion-mnist installs the four gzipped idx files (flat), read when
# ``data.train_path`` is null.
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_PACKAGE_FOLDER = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class MNISTConfig(DataConfig):
    train_path: str | None = "./datasets"
    num_classes: int = 10
    image_size: int = 32
    mean: list[float] = field(default_factory=lambda: [0.1307] * 3)
    std: list[float] = field(default_factory=lambda: [0.3081] * 3)


@dataclass
class FashionMNISTConfig(MNISTConfig):
    """``train_path`` null: the folder of Debian's ``dataset-fashion-mnist``, filled in by
    :meth:`validate` (whether the package is installed is checked when the files are read, as for
    any folder; with ``download=true`` nothing is fetched into it: give a folder to fetch into)."""

    train_path: str | None = None
    mean: list[float] = field(default_factory=lambda: [0.2860] * 3)
    std: list[float] = field(default_factory=lambda: [0.3530] * 3)

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        if self.train_path is None:
            self.train_path = str(FASHION_MNIST_PACKAGE_FOLDER)
        super().validate(cfg, key)


@register_dataset("mnist", MNISTConfig)
class MNISTSource(DataSource):
    """LeCun's handwritten digits: 60k train and 10k t10k images, in memory."""

    in_memory = downloadable = has_test_split = True
    reader: ClassVar[type[MNIST]] = MNIST

    @classmethod
    def load(cls, request: SplitRequest) -> TensorImages:
        return load_mnist(cls.reader, request)


@register_dataset("fashion_mnist", FashionMNISTConfig)
class FashionMNISTSource(MNISTSource):
    """Zalando's clothes in MNIST's format: 60k train and 10k t10k images, in memory."""

    reader = FashionMNIST

    @classmethod
    def load(cls, request: SplitRequest) -> TensorImages:
        if request.root == FASHION_MNIST_PACKAGE_FOLDER and not request.root.is_dir():
            raise ConfigError(
                key=request.key,
                problem=f"not given, and the Debian package {FASHION_MNIST_PACKAGE} is not "
                f"installed (no {FASHION_MNIST_PACKAGE_FOLDER})",
                allowed="a folder with the Fashion-MNIST idx files (or one to fetch them into "
                f"with data.download=true), or: apt-get install {FASHION_MNIST_PACKAGE}",
            )
        return super().load(request)
