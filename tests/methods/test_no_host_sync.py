"""A training step reads nothing back to the host: no ``.item()``, ``bool(tensor)``, boolean-mask
indexing or other op that waits for the device. On a GPU each one stalls the launch queue.

CPU tensors cannot show a synchronisation, so a TorchDispatchMode records every aten op of the
steps (after the first) and the test fails on the ops that read device values on the host.
"""

from __future__ import annotations

import traceback

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
    run_pretrain(
        [
            *CASES[case],
            "nan_guard=deferred",  # what runs on accelerators; `step` reads each step by design
            "trainer.limit_train_batches=3",
            "trainer.log_every_n_steps=100",  # logging steps read values (aggregated)
            "knn.enabled=false",
        ],
        tmp_path,
    )
    assert recorder.reads == []
