"""Images held in memory, and the check that a data set's files are all there."""

from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset

from hyperssl.errors import ConfigError


class TensorImages(Dataset):
    """Images held in memory. images: uint8 [N, 3, H, W]; labels: long [N], -1 = unlabelled."""

    def __init__(self, images: Tensor, labels: Tensor, classes: list[str]) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.classes = classes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.images[index], int(self.labels[index])


def require_files(files: list[Path], name: str, folder: str, key: str) -> None:
    for path in files:
        if not path.is_file():
            raise ConfigError(
                key=key,
                problem=f"{path} is missing",
                allowed=f"a {name} root holding {folder}/ as torchvision writes it, "
                "or data.download=true to fetch it",
            )
