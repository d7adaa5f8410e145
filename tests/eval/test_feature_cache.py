import os

import torch

from hyperssl.eval.feature_cache import FeatureCache, cache_key, file_fingerprint


def counting(features, labels):
    calls = []

    def compute():
        calls.append(1)
        return features, labels

    return compute, calls


def test_second_request_is_served_from_disk(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    compute, calls = counting(torch.randn(5, 3), torch.arange(5))
    first = cache.get_or_compute({"data": "digits"}, compute)
    second = cache.get_or_compute({"data": "digits"}, compute)
    assert calls == [1] and (first[2], second[2]) == (False, True)
    torch.testing.assert_close(second[0], first[0])
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".pt"]  # no temporary left


def test_key_follows_the_checkpoint_file_and_the_data(tmp_path):
    checkpoint = tmp_path / "last.ckpt"
    checkpoint.write_bytes(b"weights")
    before = cache_key({"checkpoint": file_fingerprint(checkpoint), "data": {"dataset": "a"}})
    assert before != cache_key(
        {"checkpoint": file_fingerprint(checkpoint), "data": {"dataset": "b"}}
    )
    checkpoint.write_bytes(b"retrained weights")
    os.utime(checkpoint, ns=(1, 10**18))
    assert before != cache_key(
        {"checkpoint": file_fingerprint(checkpoint), "data": {"dataset": "a"}}
    )


def test_a_damaged_entry_is_recomputed(tmp_path):
    cache = FeatureCache(tmp_path)
    parts = {"data": "digits"}
    cache.path(cache_key(parts)).write_bytes(b"not a torch file")
    compute, calls = counting(torch.ones(2, 2), torch.zeros(2))
    features, _, hit = cache.get_or_compute(parts, compute)
    assert not hit and calls == [1] and features.sum() == 4


def test_disabled_cache_writes_nothing(tmp_path):
    cache = FeatureCache(tmp_path / "cache", enabled=False)
    compute, calls = counting(torch.ones(2, 2), torch.zeros(2))
    cache.get_or_compute({}, compute)
    cache.get_or_compute({}, compute)
    assert calls == [1, 1] and not (tmp_path / "cache").exists()
