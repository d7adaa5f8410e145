"""Batch-level losses under 2-process DDP equal one process on the concatenated global batch."""

import socket

import pytest
import torch
import torch.multiprocessing as mp
from distributed_cases import HEADS, WORLD, global_batch, reference, worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results():
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(worker, args=(free_port(), results), nprocs=WORLD, join=True)
        return dict(results)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_loss_and_gradients_match_one_process_on_the_global_batch(name, ddp_results):
    expected_loss, expected_grads = reference(name)
    for rank in range(WORLD):
        loss, grads = ddp_results[(rank, name)]
        assert loss == pytest.approx(expected_loss, rel=1e-10, abs=1e-12)
        for param, grad in expected_grads.items():
            torch.testing.assert_close(grads[param], grad, rtol=1e-10, atol=1e-12, msg=param)


def test_gather_concatenates_the_ranks_in_rank_order(ddp_results):
    _, _, labels = global_batch()
    for rank in range(WORLD):
        torch.testing.assert_close(ddp_results[(rank, "gather_order")], labels)
