"""FeatureQueue: FIFO rows per view, unit length, written after backward, full once wrapped."""

import pytest
import torch

from hyperssl import ConfigError
from hyperssl.layers.queue import FeatureQueue, check_queue_size


def test_staged_rows_are_written_normalised_at_the_pointer_only_when_pushed():
    queue = FeatureQueue(views=2, size=6, dim=3)
    start = queue.items.clone()
    rows = [torch.full((2, 3), 2.0), torch.full((2, 3), -1.0)]
    queue.stage(rows)
    torch.testing.assert_close(queue.items, start)  # the loss's graph may still read it
    queue.push_staged()
    unit = 3**-0.5
    torch.testing.assert_close(queue.items[0, :2], torch.full((2, 3), unit))
    torch.testing.assert_close(queue.items[1, :2], torch.full((2, 3), -unit))
    torch.testing.assert_close(queue.items[:, 2:], start[:, 2:])
    assert int(queue.ptr) == 2 and int(queue.written) == 2


def test_the_oldest_rows_are_replaced_first_and_the_queue_is_full_after_one_pass():
    queue = FeatureQueue(views=1, size=4, dim=2)
    for step in range(3):
        assert queue.is_full() == (step == 2)
        queue.stage([torch.tensor([[1.0, float(step)], [1.0, float(step)]])])
        queue.push_staged()
    # Steps 0 and 1 filled rows 0-3; step 2 overwrote rows 0-1.
    second = torch.nn.functional.normalize(torch.tensor([1.0, 1.0]), dim=0)
    torch.testing.assert_close(queue.items[0, 2], second)
    assert queue.items[0, 0, 1] > second[1]
    assert int(queue.ptr) == 2 and int(queue.written) == 6 and queue.is_full()


def test_the_pointer_is_read_back_after_a_resume():
    saved = FeatureQueue(views=1, size=4, dim=2)
    saved.stage([torch.ones(2, 2)])
    saved.push_staged()
    resumed = FeatureQueue(views=1, size=4, dim=2)
    resumed.load_state_dict(saved.state_dict())
    resumed.on_fit_start(global_batch=2)
    resumed.stage([torch.zeros(2, 2) + torch.tensor([0.0, 1.0])])
    resumed.push_staged()
    torch.testing.assert_close(resumed.items[0, 2:], torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert resumed.is_full()


def test_a_size_that_is_not_a_multiple_of_the_global_batch_is_refused():
    check_queue_size(256, 128)
    with pytest.raises(ConfigError, match="method.queue_size: 100 is not a multiple .* 64"):
        check_queue_size(100, 64)
