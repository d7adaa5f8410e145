"""The ``positives`` rule of NT-Xent reaches the loss from the nt_xent head and from SimCLR's
config, and a value outside NT_XENT_POSITIVES is a ConfigError naming the key."""

import pytest
import torch
from hydra_runs import TINY, compose_pretrain

from hyperssl import ConfigError
from hyperssl.heads import StepOutput
from hyperssl.heads.registry import build_head
from hyperssl.losses import nt_xent_views
from hyperssl.losses.contrastive import NT_XENT_POSITIVES
from hyperssl.methods import create_method
from hyperssl.methods.simclr import SimCLRConfig


def _views(num_views: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(4, 6, generator=generator) for _ in range(num_views)]


@pytest.mark.parametrize("positives", NT_XENT_POSITIVES)
def test_nt_xent_head_passes_its_positives_rule_to_the_loss(positives):
    views = _views(3)
    head = build_head("nt_xent", {"positives": positives, "temperature": 0.3}, "geodesic")
    expected = nt_xent_views(views, 0.3, "geodesic", positives=positives)
    assert head(StepOutput(labels=torch.arange(4), z=views)).item() == expected.item()


def test_nt_xent_head_defaults_to_solo_learns_rule():
    assert build_head("nt_xent").config.positives == "log_sum_prob"


def test_nt_xent_head_rejects_an_unknown_positives_rule():
    with pytest.raises(ConfigError) as info:
        build_head("nt_xent", {"positives": "mean_prob"})
    assert info.value.key == "heads.nt_xent.positives"
    assert info.value.allowed == "log_sum_prob, mean_log_prob"


def test_simclr_config_rejects_an_unknown_positives_rule():
    with pytest.raises(ConfigError) as info:
        SimCLRConfig(positives="mean_prob").validate(None, "method")
    assert info.value.key == "method.positives"
    assert info.value.allowed == "log_sum_prob, mean_log_prob"


def test_simclr_objective_gets_the_methods_positives_rule(tmp_path):
    cfg = compose_pretrain([*TINY, "method=simclr", "method.positives=mean_log_prob"], tmp_path)
    assert create_method(cfg).objective().config.positives == "mean_log_prob"
