import pytest
import torch

from hyperssl.eval.knn import weighted_knn
from hyperssl.eval.knn_sweep import knn_sweep, nearest_neighbours


def random_problem(seed, n_train=90, n_test=23, dim=8, classes=7):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n_train, dim, generator=generator),
        torch.randint(0, classes, (n_train,), generator=generator),
        torch.randn(n_test, dim, generator=generator),
        torch.randint(0, classes, (n_test,), generator=generator),
    )


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_sweep_matches_weighted_knn_for_every_k_and_temperature(distance):
    train, train_labels, test, test_labels = random_problem(0)
    rows = knn_sweep(
        train, train_labels, test, test_labels, 7, [1, 5, 12], [0.05, 0.5], distance,
        test_chunk_size=4, train_chunk_size=16,
    )  # fmt: skip
    temperatures = [0.05, 0.5] if distance == "cosine" else [None]
    assert [(row["k"], row["temperature"]) for row in rows] == [
        (k, t) for k in (1, 5, 12) for t in temperatures
    ]
    for row in rows:
        expected = weighted_knn(
            train, train_labels, test, test_labels, 7, row["k"], row["temperature"] or 1.0, distance
        )
        assert (row["top1"], row["top5"]) == pytest.approx(expected)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_chunked_neighbour_search_equals_one_full_search(distance):
    train, _, test, _ = random_problem(1, n_train=100)
    full = list(nearest_neighbours(train, test, 9, distance, 1000, 1000))
    chunked = list(nearest_neighbours(train, test, 9, distance, 5, 7))
    values = torch.cat([v for _, v, _ in chunked])
    index = torch.cat([i for _, _, i in chunked])
    torch.testing.assert_close(values, full[0][1])
    assert torch.equal(index, full[0][2])


def test_small_temperature_does_not_overflow():
    train, train_labels, test, test_labels = random_problem(2)
    (row,) = knn_sweep(train, train_labels, test, test_labels, 7, [10], [0.001])
    assert 0.0 <= row["top1"] <= row["top5"] <= 100.0
