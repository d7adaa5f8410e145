"""``mnist`` and ``fashion_mnist`` in torchvision's layout under ``data.train_path``:
``MNIST/raw/`` or ``FashionMNIST/raw/`` holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte``
(the extracted files). Validation is the official t10k split under the same root unless
``val_path`` is set; ``download=true`` fetches it (and checks MD5 sums). The 28x28 grayscale
images are replicated to 3 channels and brought to ``image_size`` by the eval transform (resize,
then center crop).
"""

from dataclasses import dataclass, field
from typing import ClassVar

from torchvision.datasets import MNIST, FashionMNIST

from hyperssl.data.in_memory import TensorImages
from hyperssl.data.mnist import load_mnist
from hyperssl.data.registry import DataSource, SplitRequest, register_dataset
from hyperssl.data.schema import DataConfig


@dataclass
class MNISTConfig(DataConfig):
    train_path: str | None = "./datasets"
    num_classes: int = 10
    image_size: int = 32
    mean: list[float] = field(default_factory=lambda: [0.1307] * 3)
    std: list[float] = field(default_factory=lambda: [0.3081] * 3)


@dataclass
class FashionMNISTConfig(MNISTConfig):
    mean: list[float] = field(default_factory=lambda: [0.2860] * 3)
    std: list[float] = field(default_factory=lambda: [0.3530] * 3)


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
