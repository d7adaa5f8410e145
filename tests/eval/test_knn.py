import pytest
import torch
import torch.nn.functional as F

from hyperssl import ConfigError
from hyperssl.eval.knn import knn_class_scores, topk_accuracy, weighted_knn


def brute_force_scores(train, train_labels, test, num_classes, k, temperature, distance):
    """A row-by-row reference written from the InstDisc / inverse-distance definitions."""
    scores = torch.zeros(len(test), num_classes, dtype=torch.float64)
    for row, query in enumerate(test.double()):
        if distance == "cosine":
            sims = [F.cosine_similarity(query, x.double(), dim=0).item() for x in train]
            order = sorted(range(len(train)), key=lambda i: -sims[i])[:k]
            for i in order:
                scores[row, train_labels[i]] += torch.exp(torch.tensor(sims[i] / temperature))
        else:
            dists = [torch.linalg.norm(query - x.double()).item() for x in train]
            order = sorted(range(len(train)), key=lambda i: dists[i])[:k]
            for i in order:
                scores[row, train_labels[i]] += 1.0 / (dists[i] + 1e-8)
    return scores


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("k,temperature", [(1, 0.1), (5, 0.07), (12, 0.5)])
def test_knn_matches_brute_force(distance, k, temperature):
    generator = torch.Generator().manual_seed(k)
    train = torch.randn(60, 8, generator=generator)
    labels = torch.randint(0, 6, (60,), generator=generator)
    test = torch.randn(17, 8, generator=generator)
    test_labels = torch.randint(0, 6, (17,), generator=generator)
    scores = knn_class_scores(train, labels, test, 6, k, temperature, distance, chunk_size=5)
    reference = brute_force_scores(train, labels, test, 6, k, temperature, distance)
    torch.testing.assert_close(scores.double(), reference, rtol=1e-4, atol=1e-6)
    ours = topk_accuracy(scores, test_labels)
    theirs = topk_accuracy(reference, test_labels)
    assert ours == pytest.approx(theirs)


def test_knn_is_perfect_on_separated_clusters():
    centers = torch.eye(4) * 10
    train = centers.repeat_interleave(5, 0) + 0.1 * torch.randn(20, 4)
    labels = torch.arange(4).repeat_interleave(5)
    test = centers + 0.1 * torch.randn(4, 4)
    top1, top5 = weighted_knn(train, labels, test, torch.arange(4), num_classes=4, k=3)
    assert top1 == 100.0 and top5 == 100.0


def test_knn_rejects_k_larger_than_train_set():
    with pytest.raises(ConfigError, match="k: 11 is outside 1..10"):
        knn_class_scores(
            torch.randn(10, 3), torch.zeros(10, dtype=torch.long), torch.randn(2, 3), 2, k=11
        )
