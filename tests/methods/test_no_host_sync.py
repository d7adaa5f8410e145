"""A training step reads nothing back to the host: no ``.item()``, ``bool(tensor)``, boolean-mask
indexing or other op that waits for the device. On a GPU each one stalls the launch queue.

CPU tensors cannot show a synchronisation, so a TorchDispatchMode records every aten op of the
steps (after the first) and the test fails on the ops that read device values on the host. On a
GPU, torch reports each synchronising call itself (``torch.cuda.set_sync_debug_mode``), and the
CUDA test records those from one batch's end to the last one's: the batch's transfer and its
augmentation on the device included.
"""

from __future__ import annotations

import traceback
import warnings

import pytest
import pytorch_lightning as pl
import torch
from hydra_runs import run_pretrain
from method_overrides import small
from torch.utils._python_dispatch import TorchDispatchMode

from hyperssl.cli import pretrain
from hyperssl.methods import METHODS
from hyperssl.methods.base import BaseMethod

# aten ops whose result depends on device values read by the host.
HOST_READS = {
    "_local_scalar_dense",  # .item(), bool(t), int(t), float(t), if t:
    "is_nonzero",
    "equal",
    "nonzero",
    "masked_select",
    "unique",
    "_unique",
    "_unique2",
    "unique_consecutive",
    "unique_dim",
    "repeat_interleave",
}


def _is_boolean_mask_index(name: str, args: tuple) -> bool:
    if name not in ("index", "index_put", "index_put_") or len(args) < 2:
        return False
    return any(getattr(index, "dtype", None) == torch.bool for index in args[1] or ())


def _where() -> str:
    frames = [
        f"{frame.filename}:{frame.lineno}"
        for frame in traceback.extract_stack()
        if "hyperssl" in frame.filename and "tests" not in frame.filename
    ]
    return " <- ".join(reversed(frames[-3:]))


class HostReadRecorder(TorchDispatchMode):
    """Records host reads: the ops above, and ``Tensor.tolist`` (which reads without an op)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        self._tolist = torch.Tensor.tolist

    def __enter__(self):
        recorder, tolist = self, self._tolist

        def recorded_tolist(tensor):
            recorder.reads.append(f"Tensor.tolist at {_where()}")
            return tolist(tensor)

        torch.Tensor.tolist = recorded_tolist
        return super().__enter__()

    def __exit__(self, *exc):
        torch.Tensor.tolist = self._tolist
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in HOST_READS or _is_boolean_mask_index(name, args):
            self.reads.append(f"aten.{name} at {_where()}")
        return func(*args, **(kwargs or {}))


class RecordSteps(pl.Callback):
    """Records from the start of each batch after the first (lazy state is made in the first) to
    the end of the method's own on_train_batch_end (MoCo enqueues its keys there)."""

    def __init__(self, recorder: HostReadRecorder) -> None:
        self.recorder = recorder

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx > 0:
            self.recorder.__enter__()


# Every registered method, and the options that add work to a step.
CASES = {
    **{method: small(method) for method in METHODS.names()},
    "simclr+heads": ["heads=[uniformity,align_uniform,mhe]"],
    "supervised": ["method=supervised", "method.use_projector=true", "heads=[hcr]"],
    "supervised+sphereface+mhe": [
        "method=supervised",
        "method.classifier=sphereface",
        "heads=[mhe]",
        "heads.mhe.layers=[classifier]",
    ],
    "supervised+arcface": ["method=supervised", "method.classifier=arcface"],
    "dino": [*small("dino"), "method.clip_grad=3.0"],
}


# What the runs share: no logging step (they read values, aggregated, by design), no k-NN after.
QUIET_STEPS = [
    "nan_guard=deferred",  # what runs on accelerators; `step` reads each step by design
    "trainer.limit_train_batches=3",
    "trainer.log_every_n_steps=100",
    "knn.enabled=false",
]


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_steps_never_read_the_device(case, tmp_path, monkeypatch):
    recorder = HostReadRecorder()
    build = pretrain.build_trainer

    def build_with_recorder(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.callbacks.append(RecordSteps(recorder))
        return trainer

    end_of_batch = BaseMethod.on_train_batch_end

    def stop_recording_after(self, outputs, batch, batch_idx):
        end_of_batch(self, outputs, batch, batch_idx)
        if batch_idx > 0:
            recorder.__exit__(None, None, None)

    monkeypatch.setattr(pretrain, "build_trainer", build_with_recorder)
    monkeypatch.setattr(BaseMethod, "on_train_batch_end", stop_recording_after)
    run_pretrain([*CASES[case], *QUIET_STEPS], tmp_path)
    assert recorder.reads == []


class SynchronisationRecorder:
    """Records the calls that wait for the GPU, as torch's sync debug mode warns of each one,
    between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self.waits: list[str] = []
        self._catching: warnings.catch_warnings | None = None
        self._warned: list[warnings.WarningMessage] = []

    def start(self) -> None:
        self._catching = warnings.catch_warnings(record=True)
        self._warned = self._catching.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")

    def stop(self) -> None:
        """Ends the recording, if one is on (a run that failed mid-way leaves it on)."""
        if self._catching is None:
            return
        torch.cuda.set_sync_debug_mode("default")
        self.waits += [
            f"{warning.filename}:{warning.lineno}: {str(warning.message).splitlines()[0]}"
            for warning in self._warned
            if "synchronizing CUDA operation" in str(warning.message)
        ]
        self._catching.__exit__(None, None, None)
        self._catching = None


@pytest.mark.cuda
@pytest.mark.parametrize("case", sorted(CASES))
def test_training_steps_on_cuda_never_wait_for_the_gpu(case, tmp_path, monkeypatch):
    """``trainer=gpu`` (bf16, channels-last) on the in-memory digits, whose views are made on
    the GPU: batches 1 and 2 whole, from the end of batch 0."""
    recorder = SynchronisationRecorder()
    end_of_batch = BaseMethod.on_train_batch_end

    def record_from_the_first_batch_to_the_last(self, outputs, batch, batch_idx):
        end_of_batch(self, outputs, batch, batch_idx)
        if batch_idx == 0:
            recorder.start()
        elif batch_idx == 2:
            recorder.stop()

    monkeypatch.setattr(BaseMethod, "on_train_batch_end", record_from_the_first_batch_to_the_last)
    try:
        run_pretrain([*CASES[case], *QUIET_STEPS, "trainer=gpu"], tmp_path)
    finally:
        recorder.stop()
    assert recorder.waits == []
