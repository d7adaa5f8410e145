"""CIFAR's pickle batches are read without running code: a crafted batch or meta file is refused
in one line before anything it names is called, labels outside the class range are refused, and
genuine batches (whatever pickle protocol or numpy version wrote them) load as before."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from datasets_on_disk import synthetic_split, write_cifar10, write_cifar100
from hydra_runs import TINY, run_entry_cases

from hyperssl import ConfigError
from hyperssl.data.datasets import build_dataset

REFUSED = "which a data file never holds: refused, since unpickling it could run code"


class _RunsCommand:
    """Unpickles as ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _OpensFile:
    """Unpickles as ``open(path, "w")``: creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def _edit(path: Path, change) -> None:
    """Rewrite the pickle ``path`` (our own fixture, so trusted) with ``change`` applied to it."""
    with open(path, "rb") as file:
        entry = pickle.load(file)
    change(entry)
    with open(path, "wb") as file:
        pickle.dump(entry, file, protocol=2)


SYSTEM = f"{os.system.__module__}.{os.system.__name__}"  # posix.system on Linux
OPEN = f"{open.__module__}.{open.__name__}"  # io.open
WRITERS = {"cifar10": write_cifar10, "cifar100": write_cifar100}
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def build_cases(root: Path) -> dict[str, tuple[list[str], str, Path]]:
    """name -> (main_pretrain.py's data arguments, the expected start of the error line after
    'error: ', the marker file the payload would create)."""
    cases = {}

    def plant(name: str, dataset: str, file_name: str, payload: str) -> None:
        data_root = WRITERS[dataset](root / name, n_train=10, n_test=5)
        planted = data_root / FOLDERS[dataset] / file_name
        marker = root / "markers" / name
        if payload == "os.system":
            planted.write_bytes(pickle.dumps(_RunsCommand(f"touch {marker}"), protocol=2))
        elif payload == "open":
            planted.write_bytes(pickle.dumps(_OpensFile(marker), protocol=4))
        else:  # hidden inside a genuine batch, under a key the loader never reads
            _edit(planted, lambda entry: entry.update(extra=_RunsCommand(f"touch {marker}")))
        refused = OPEN if payload == "open" else SYSTEM
        expected = f"data.train_path: {planted} names the global {refused}, {REFUSED}"
        cases[name] = ([f"data={dataset}", f"data.train_path={data_root}"], expected, marker)

    plant("cifar10_train_batch_runs_command", "cifar10", "data_batch_1", "os.system")
    plant("cifar10_train_batch_opens_file", "cifar10", "data_batch_1", "open")
    plant("cifar10_hidden_in_last_batch", "cifar10", "data_batch_5", "hidden")
    plant("cifar10_test_batch_runs_command", "cifar10", "test_batch", "os.system")
    plant("cifar10_meta_runs_command", "cifar10", "batches.meta", "os.system")
    plant("cifar100_train_runs_command", "cifar100", "train", "os.system")
    plant("cifar100_meta_hidden", "cifar100", "meta", "hidden")

    def label(name: str, dataset: str, file_name: str, label_key: str, value: int) -> None:
        data_root = WRITERS[dataset](root / name, n_train=10, n_test=5)
        planted = data_root / FOLDERS[dataset] / file_name
        _edit(planted, lambda entry: entry[label_key].__setitem__(1, value))
        classes = 10 if dataset == "cifar10" else 100
        expected = (
            f"data.train_path: {planted} holds label {value} (image 1), outside the {classes} "
            f"classes of its meta file; allowed: labels 0 to {classes - 1}"
        )
        arguments = [f"data={dataset}", f"data.train_path={data_root}"]
        cases[name] = (arguments, expected, root / "markers" / name)

    label("cifar10_label_10", "cifar10", "data_batch_2", "labels", 10)
    label("cifar10_label_negative", "cifar10", "test_batch", "labels", -1)
    label("cifar100_label_100", "cifar100", "train", "fine_labels", 100)
    return cases


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrusted_cifar")
    (root / "markers").mkdir()
    cases = build_cases(root)
    results = run_entry_cases(
        "main_pretrain.py",
        {
            name: [*TINY, *arguments, f"hydra.run.dir={root / 'runs' / name}"]
            for name, (arguments, *_) in cases.items()
        },
    )
    return cases, results


CASE_NAMES = [
    "cifar10_train_batch_runs_command",
    "cifar10_train_batch_opens_file",
    "cifar10_hidden_in_last_batch",
    "cifar10_test_batch_runs_command",
    "cifar10_meta_runs_command",
    "cifar100_train_runs_command",
    "cifar100_meta_hidden",
    "cifar10_label_10",
    "cifar10_label_negative",
    "cifar100_label_100",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_untrusted_cifar_file_exits_2_with_one_line_and_runs_nothing(name, outcomes):
    cases, results = outcomes
    _, expected, marker = cases[name]
    result = results[name]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[0].startswith(f"error: {expected}"), lines[0]
    assert not marker.exists()


def test_the_payloads_run_code_under_plain_pickle(tmp_path):
    """The crafted files above are real attacks: pickle.load runs them."""
    pickle.loads(pickle.dumps(_RunsCommand(f"touch {tmp_path / 'ran'}")))
    pickle.loads(pickle.dumps(_OpensFile(tmp_path / "opened"))).close()
    assert (tmp_path / "ran").exists() and (tmp_path / "opened").exists()


def _trusted_torchvision(reader, root: Path, train: bool, monkeypatch):
    """What torchvision's own (unrestricted) reader makes of our fixture, MD5 sums unchecked (the
    fixture's are not the official files'): images [N, 3, 32, 32], labels, classes."""
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)
    dataset = reader(str(root), train=train)
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)
    return images, torch.as_tensor(dataset.targets), dataset.classes


def _stacked(dataset):
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(images), torch.as_tensor(labels)


@pytest.mark.parametrize(
    ("name", "reader", "split"),
    [
        ("cifar10", torchvision.datasets.CIFAR10, "train"),
        ("cifar10", torchvision.datasets.CIFAR10, "val"),
        ("cifar100", torchvision.datasets.CIFAR100, "train"),
        ("cifar100", torchvision.datasets.CIFAR100, "val"),
    ],
)
def test_genuine_batches_load_as_torchvision_reads_them(
    name, reader, split, cifar10_root, cifar100_root, monkeypatch
):
    root = cifar10_root if name == "cifar10" else cifar100_root
    dataset = build_dataset(name, root, split)
    images, labels = _stacked(dataset)
    expected_images, expected_labels, classes = _trusted_torchvision(
        reader, root, split == "train", monkeypatch
    )
    assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)
    assert dataset.classes == classes


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_every_pickle_protocol_and_numpy_label_scalars_load(tmp_path, protocol):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)
    path = root / "cifar-10-batches-py" / "data_batch_1"
    with open(path, "rb") as file:
        batch = pickle.load(file)
    batch["labels"] = [np.int64(label) for label in batch["labels"]]
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    images, labels = _stacked(build_dataset("cifar10", root, "train"))
    expected_images, expected_labels = synthetic_split(10, 10, 32, 0)
    assert np.array_equal(images.numpy(), expected_images)
    assert np.array_equal(labels.numpy(), expected_labels)


def _python2_batch(images: np.ndarray, labels: list[int]) -> bytes:
    """A batch as the official files are: a Python 2 pickle (protocol 0, ``str`` pixel bytes,
    numpy 1's ``numpy.core.multiarray`` names), written by hand since Python 3 cannot."""
    raw = "S" + repr(images.tobytes())[1:] + "\n"
    rows, values = images.shape
    return (
        "(dp0\nS'data'\np1\ncnumpy.core.multiarray\n_reconstruct\np2\n(cnumpy\nndarray\np3\n"
        "(I0\ntp4\nS'b'\np5\ntp6\nRp7\n"
        f"(I1\n(I{rows}\nI{values}\ntp8\ncnumpy\ndtype\np9\n(S'u1'\np10\nI0\nI1\ntp11\nRp12\n"
        "(I3\nS'|'\np13\nNNNI-1\nI-1\nI0\ntp14\nbI00\n" + raw + "p15\ntp16\nb"
        "sS'labels'\np17\n(lp18\n" + "".join(f"I{label}\na" for label in labels) + "s."
    ).encode("latin1")


def test_python2_batch_as_the_official_files_are_loads(tmp_path):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)
    path = root / "cifar-10-batches-py" / "data_batch_1"
    with open(path, "rb") as file:
        batch = pickle.load(file)
    path.write_bytes(_python2_batch(batch["data"], batch["labels"]))
    images, labels = _stacked(build_dataset("cifar10", root, "train"))
    expected_images, expected_labels = synthetic_split(10, 10, 32, 0)
    assert np.array_equal(images.numpy(), expected_images)
    assert np.array_equal(labels.numpy(), expected_labels)


def test_bytes_only_through_latin1(tmp_path):
    root = write_cifar10(tmp_path, n_train=10, n_test=5)
    path = root / "cifar-10-batches-py" / "batches.meta"
    # _codecs.encode(text, 'rot13'): the codec machinery looked up by a name the file chose.
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(ConfigError, match="only latin1") as error:
        build_dataset("cifar10", root, "train")
    assert error.value.problem.startswith(f"{path} is not a CIFAR pickle batch: ")
