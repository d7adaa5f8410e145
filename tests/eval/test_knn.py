from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hyperssl import ConfigError
from hyperssl.callbacks.online_knn import OnlineKNN
from hyperssl.eval.knn import class_votes, knn_sweep, nearest_neighbours, weighted_knn
from hyperssl.eval.metrics import label_rank


def random_problem(seed, n_train=90, n_test=23, dim=8, classes=7):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n_train, dim, generator=generator),
        torch.randint(0, classes, (n_train,), generator=generator),
        torch.randn(n_test, dim, generator=generator),
        torch.randint(0, classes, (n_test,), generator=generator),
    )


def tied_problem(seed, classes):
    """Features in {-1, 0, 1}^3: 27 points for 200 train rows, so most neighbours and many class
    votes are tied exactly."""
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randint(-1, 2, (200, 3), generator=generator).float(),
        torch.randint(0, classes, (200,), generator=generator),
        torch.randint(-1, 2, (40, 3), generator=generator).float(),
        torch.randint(0, classes, (40,), generator=generator),
    )


def brute_force_votes(train, train_labels, test, num_classes, k, temperature, distance):
    """Row by row from the definitions: the k nearest by (similarity or distance, then index),
    each voting exp((cos - cos_nearest) / T) or 1 / distance."""
    votes = torch.zeros(len(test), num_classes, dtype=torch.float64)
    for row, query in enumerate(test.double()):
        if distance == "cosine":
            sims = [F.cosine_similarity(query, x.double(), dim=0).item() for x in train]
            order = sorted(range(len(train)), key=lambda i: (-sims[i], i))[:k]
            for i in order:
                votes[row, train_labels[i]] += torch.exp(
                    torch.tensor((sims[i] - sims[order[0]]) / temperature)
                )
        else:
            dists = [torch.linalg.norm(query - x.double()).item() for x in train]
            order = sorted(range(len(train)), key=lambda i: (dists[i], i))[:k]
            for i in order:
                votes[row, train_labels[i]] += 1.0 / (dists[i] + 1e-8)
    return votes


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("k,temperature", [(1, 0.1), (5, 0.07), (12, 0.5)])
def test_votes_and_accuracy_match_brute_force(distance, k, temperature):
    train, labels, test, test_labels = random_problem(k, n_train=60, n_test=17, classes=6)
    chunks = list(nearest_neighbours(train, test, k, distance, test_chunk_size=5))
    values = torch.cat([v for _, v, _ in chunks])
    index = torch.cat([i for _, _, i in chunks])
    votes = class_votes(values, labels[index], 6, distance, temperature)
    reference = brute_force_votes(train, labels, test, 6, k, temperature, distance)
    torch.testing.assert_close(votes.double(), reference, rtol=1e-4, atol=1e-6)
    rank = label_rank(reference, test_labels)
    expected = [100.0 * (rank < top).double().mean().item() for top in (1, 5)]
    top1, top5 = weighted_knn(train, labels, test, test_labels, 6, k, temperature, distance)
    assert [top1, top5] == pytest.approx(expected)


def test_cosine_vote_weighs_neighbours_by_exp_cos_over_t():
    """Two neighbours of class 0 at cos 0.6, one of class 1 at cos 0.8 (plus one far row):
    2 e^(6) < e^(8) at T = 0.1, but 2 e^(0.6) > e^(0.8) at T = 1."""
    query = torch.tensor([[1.0, 0.0]])
    train = torch.tensor([[0.6, 0.8], [0.6, -0.8], [0.8, 0.6], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 0])
    assert weighted_knn(train, labels, query, torch.tensor([1]), 2, k=3, temperature=0.1) == (
        100.0,
        100.0,
    )
    assert weighted_knn(train, labels, query, torch.tensor([0]), 2, k=3, temperature=1.0) == (
        100.0,
        100.0,
    )


def test_euclidean_vote_weighs_neighbours_by_inverse_distance():
    """Class 0 at distances 2 and 3 (1/2 + 1/3) loses to class 1 at distance 1 (1/1)."""
    train = torch.tensor([[2.0], [3.0], [1.0]])
    labels = torch.tensor([0, 0, 1])
    query, target = torch.tensor([[0.0]]), torch.tensor([1])
    assert weighted_knn(train, labels, query, target, 2, k=3, distance="euclidean")[0] == 100.0


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_equal_class_votes_go_to_the_smaller_class(distance):
    """Neighbours of classes 3 and 1 at the same angle and distance: class 1 is the top-1."""
    train = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    labels = torch.tensor([3, 1])
    query = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    top1, top5 = weighted_knn(train, labels, query, torch.tensor([1, 3]), 4, 2, 0.1, distance)
    assert (top1, top5) == (50.0, 100.0)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_neighbours_tied_at_the_kth_place_are_the_first_in_the_bank(distance):
    """Three copies of one point, labelled 2, 0, 1: the k nearest are the first k copies,
    whatever the chunk sizes."""
    train = torch.tensor([[0.0, 5.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    labels = torch.tensor([0, 2, 0, 1])
    query = torch.tensor([[2.0, 0.0]])
    for k in (1, 2, 3):
        for train_chunk_size in (1, 2, 4):
            ((_, values, index),) = nearest_neighbours(
                train, query, k, distance, 1, train_chunk_size
            )
            assert index.tolist() == [[1, 2, 3][:k]]
            assert len(set(values[0].tolist())) == 1
    rows = knn_sweep(train, labels, query, torch.tensor([2]), 3, [1, 2], [0.1], distance)
    assert [row["top1"] for row in rows] == [100.0, 0.0]  # k=2: classes 0 and 2 tie, 0 wins


def test_top5_with_fewer_than_5_classes_is_every_query():
    train, train_labels, test, test_labels = random_problem(3, classes=3)
    rows = knn_sweep(train, train_labels, test, test_labels, 3, [1, 10], [0.1], "cosine")
    assert [row["top5"] for row in rows] == [100.0, 100.0]
    assert all(row["top1"] < 100.0 for row in rows)


def online_knn_accuracy(train, train_labels, test, test_labels, num_classes, k, temperature):
    """The online callback driven through its hooks, with an identity backbone."""
    callback = OnlineKNN(k=k, temperature=temperature, max_bank=len(train))
    module = SimpleNamespace(backbone=nn.Identity(), num_classes=num_classes, logged={})
    module.log_dict = module.logged.update
    trainer = SimpleNamespace(current_epoch=0, max_epochs=1, sanity_checking=False)
    callback.setup(trainer, module, "fit")
    callback.on_train_epoch_start(trainer, module)
    for rows in torch.arange(len(train)).split(64):
        batch = ([train[rows]], train_labels[rows], None)
        callback.on_train_batch_start(trainer, module, batch, 0)
        module.backbone(train[rows])
        callback.on_train_batch_end(trainer, module, None, batch, 0)
    callback.on_validation_epoch_start(trainer, module)
    callback.on_validation_batch_start(trainer, module, (test, test_labels), 0)
    module.backbone(test)
    callback.on_validation_batch_end(trainer, module, None, (test, test_labels), 0)
    callback.on_validation_epoch_end(trainer, module)
    callback.teardown(trainer, module, "fit")
    return module.logged["val/knn_acc1"], module.logged["val/knn_acc5"]


def pretraining_knn_accuracy(train, train_labels, test, test_labels, num_classes, k, temperature):
    """What a pretraining run's summary reports, with an identity backbone."""
    # Imported here: the pretraining entry point pulls in every method and data set.
    from hyperssl.cli.pretrain import knn_of_backbone

    model = SimpleNamespace(device=torch.device("cpu"), backbone=nn.Identity())
    datamodule = SimpleNamespace(
        num_classes=num_classes,
        train_eval_dataloader=lambda: DataLoader(TensorDataset(train, train_labels), 64),
        val_dataloader=lambda: DataLoader(TensorDataset(test, test_labels), 64),
    )
    cfg = OmegaConf.create({"knn": {"k": k, "temperature": temperature}})
    summary = knn_of_backbone(model, datamodule, cfg)
    return summary["knn_top1"], summary["knn_top5"]


@pytest.mark.parametrize("classes", [3, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_pretraining_online_and_main_knn_give_identical_accuracy(seed, classes):
    train, train_labels, test, test_labels = tied_problem(seed, classes)
    ks, temperatures = [1, 5, 20], [0.07, 0.5]
    grid = knn_sweep(
        train, train_labels, test, test_labels, classes, ks, temperatures, "cosine",
        test_chunk_size=7, train_chunk_size=16,
    )  # fmt: skip
    for row in grid:
        expected = (row["top1"], row["top5"])
        problem = (train, train_labels, test, test_labels, classes, row["k"], row["temperature"])
        assert pretraining_knn_accuracy(*problem) == expected
        assert online_knn_accuracy(*problem) == expected
        assert weighted_knn(*problem) == expected


@pytest.mark.parametrize("classes", [3, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_k_of_a_euclidean_grid_equals_its_own_search(seed, classes):
    train, train_labels, test, test_labels = tied_problem(seed, classes)
    grid = knn_sweep(
        train, train_labels, test, test_labels, classes, [1, 5, 20], [0.07], "euclidean",
        test_chunk_size=7, train_chunk_size=16,
    )  # fmt: skip
    for row in grid:
        alone = weighted_knn(
            train, train_labels, test, test_labels, classes, row["k"], distance="euclidean"
        )
        assert alone == (row["top1"], row["top5"])


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_sweep_rows_cover_every_k_and_temperature(distance):
    train, train_labels, test, test_labels = random_problem(0)
    rows = knn_sweep(train, train_labels, test, test_labels, 7, [12, 1, 5], [0.5, 0.05], distance)
    temperatures = [0.05, 0.5] if distance == "cosine" else [None]
    assert [(row["k"], row["temperature"]) for row in rows] == [
        (k, t) for k in (1, 5, 12) for t in temperatures
    ]
    assert all(row["distance"] == distance for row in rows)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_chunked_neighbour_search_equals_one_full_search(distance):
    train, _, test, _ = random_problem(1, n_train=100)
    full = list(nearest_neighbours(train, test, 9, distance, 1000, 1000))
    chunked = list(nearest_neighbours(train, test, 9, distance, 5, 7))
    values = torch.cat([v for _, v, _ in chunked])
    index = torch.cat([i for _, _, i in chunked])
    torch.testing.assert_close(values, full[0][1])
    assert torch.equal(index, full[0][2])


def test_knn_is_perfect_on_separated_clusters():
    centers = torch.eye(4) * 10
    train = centers.repeat_interleave(5, 0) + 0.1 * torch.randn(20, 4)
    labels = torch.arange(4).repeat_interleave(5)
    test = centers + 0.1 * torch.randn(4, 4)
    top1, top5 = weighted_knn(train, labels, test, torch.arange(4), num_classes=4, k=3)
    assert top1 == 100.0 and top5 == 100.0


def test_small_temperature_does_not_overflow():
    train, train_labels, test, test_labels = random_problem(2)
    (row,) = knn_sweep(train, train_labels, test, test_labels, 7, [10], [0.001])
    assert 0.0 <= row["top1"] <= row["top5"] <= 100.0


def test_knn_rejects_k_larger_than_train_set():
    with pytest.raises(ConfigError, match="k: 11 is outside 1..10"):
        weighted_knn(
            torch.randn(10, 3), torch.zeros(10, dtype=torch.long), torch.randn(2, 3),
            torch.zeros(2, dtype=torch.long), 2, k=11,
        )  # fmt: skip


def test_knn_rejects_an_unknown_distance():
    with pytest.raises(ConfigError, match="distance: unknown distance 'manhattan'"):
        next(nearest_neighbours(torch.randn(4, 2), torch.randn(1, 2), 1, "manhattan"))
