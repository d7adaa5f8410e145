"""Shared fixtures: tiny data sets written once per session in the real on-disk formats."""

import os
import sys
from pathlib import Path

import pytest

# Under pytest-xdist each worker is a process of its own on the same cores: one intra-op thread
# each (tests that need more set it), or their OpenMP threads spin against each other's.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from datasets_on_disk import (  # noqa: E402  (needs tests/ on sys.path)
    write_cifar10,
    write_cifar100,
    write_flat_folder,
    write_image_folder,
    write_mnist,
    write_stl10,
)

# Test folders whose files share one session fixture that must exist once per run: the SLURM
# tests start one local cluster (tests/slurm/conftest.py), which two workers would start twice.
ONE_WORKER_FOLDERS = ("tests/slurm/",)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``--numprocesses=auto`` (pyproject): a worker per core, and at least two, since most
    tests wait on entry points run as subprocesses of one thread. (A third worker on 2 cores,
    to overlap the SLURM tests' waits, made the suite slower: 15 min against 12.5.)"""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(2, cores or 1)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """pytest-xdist's scheduler: a work unit is a test file (its module fixtures run once), or
    a whole folder of ONE_WORKER_FOLDERS. (``--dist loadgroup`` would do this with marks, but
    with pytest 9 its group suffix never reaches the scheduler, and the folder's files ran on
    both workers.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            folder = next((f for f in ONE_WORKER_FOLDERS if nodeid.startswith(f)), None)
            return folder or nodeid.split("::", 1)[0]

        def _assign_work_unit(self, node: object) -> None:
            # The one-worker folders are the longest units (mostly waits on their cluster's
            # jobs): handed out first, so that the other workers' files overlap them instead
            # of one worker finishing them alone at the end.
            for folder in reversed(ONE_WORKER_FOLDERS):
                if folder in self.workqueue:
                    self.workqueue.move_to_end(folder, last=False)
            super()._assign_work_unit(node)

    return FileScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` are skipped where there is no CUDA device."""
    marked = [item for item in items if item.get_closest_marker("cuda")]
    if not marked:
        return
    import torch  # only here: a run without such tests does not wait for torch to load

    if not torch.cuda.is_available():
        for item in marked:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


@pytest.fixture(scope="session")
def cifar10_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 train images (5 batches), 32 test images."""
    return write_cifar10(tmp_path_factory.mktemp("cifar10"))


@pytest.fixture(scope="session")
def cifar100_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 train images, 32 test images, 100 fine classes."""
    return write_cifar100(tmp_path_factory.mktemp("cifar100"))


@pytest.fixture(scope="session")
def stl10_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32 train, 16 test and 16 unlabelled 96x96 images."""
    return write_stl10(tmp_path_factory.mktemp("stl10"))


@pytest.fixture(scope="session")
def image_folder_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Classes a and b, 8 RGB PNGs of 32x32 each."""
    return write_image_folder(tmp_path_factory.mktemp("imagefolder"))


@pytest.fixture(scope="session")
def flat_folder_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 unlabelled RGB PNGs of 32x32, half of them in a sub-folder, and a text file."""
    return write_flat_folder(tmp_path_factory.mktemp("folder"))


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST/raw/ idx files: 40 train and 20 test 28x28 grayscale images."""
    return write_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="session")
def fashion_mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FashionMNIST/raw/ idx files: 40 train and 20 test 28x28 grayscale images."""
    return write_mnist(tmp_path_factory.mktemp("fashion_mnist"), fashion=True)


@pytest.fixture(scope="session")
def pretrained_run(tmp_path_factory: pytest.TempPathFactory, cifar10_root: Path) -> Path:
    """A tiny SimCLR run on the on-disk CIFAR-10 fixture, every diagnostic on (plots included):
    checkpoints/last.ckpt, backbone.safetensors, metrics.csv, summary.json, the PNGs."""
    from hydra_runs import run_pretrain

    run_dir = tmp_path_factory.mktemp("pretrained")
    overrides = ["data=cifar10", f"data.train_path={cifar10_root}", "augmentations=symmetric"]
    run_pretrain([*overrides, "diagnostics.plots.enabled=true"], run_dir)
    return run_dir
