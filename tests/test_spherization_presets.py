"""The spherization paper's presets compose to its reference code's settings.

Expected values are transcribed from GIST-IRR/spherization_layer: the README's command lines,
the defaults of mnist.py, fmnist.py, cifar10.py and cifar100.py, their transforms and lr rules,
and the networks of models/basic.py and models/vgg.py. Each lr rule is restated here in the
reference's own 1-based epochs and compared with the schedule the preset builds.
"""

from __future__ import annotations

import pytest
from hydra_runs import REPO, compose_pretrain
from lr_schedules import lrs_over
from omegaconf import OmegaConf
from torch import nn

from hyperssl import ConfigError
from hyperssl.data.augment import build_pipeline
from hyperssl.methods.base import backbone_from_config, pretrain_crop_size
from hyperssl.validation import validate_pretrain

SPHERIZED = {
    "method.name": "supervised",
    "method.classifier": "spheric",
    "method.spherization.scaling": 5.0,
    "method.spherization.radius": 5.0,
    "method.spherization.lrable": "TF",
    "method.spherization.delta": 1e-6,
    "scheduler.warmup_epochs": 0,
    "optimizer.exclude_bias_n_norm": False,  # torch's optimizers on net.parameters()
    "optimizer.scale_lr_by_batch": False,
    "backbone.kwargs.last_relu": False,
}
ADAM = {**SPHERIZED, "optimizer.name": "adam", "optimizer.lr": 0.001, "scheduler.name": "none"}
SGD = {**SPHERIZED, "optimizer.name": "sgd", "optimizer.momentum": 0.9, "scheduler.name": "step"}
VGG_MLP = {"backbone.name": "vgg11", "backbone.kwargs.hidden": [4096, 4096]}
MNIST_LIKE = {"data.image_size": 28, "data.mean": [0.0] * 3, "data.std": [1.0] * 3}
FNN = {**ADAM, **MNIST_LIKE, "backbone.name": "simple_fnn", "backbone.kwargs.in_channels": 1}
FNN.update({"optimizer.batch_size": 256, "optimizer.weight_decay": 5e-5})
FNN["trainer.max_epochs"] = 100
LENET5 = {**ADAM, **MNIST_LIKE, "backbone.name": "lenet5", "backbone.kwargs.in_channels": 1}
LENET5.update({"optimizer.batch_size": 128, "optimizer.weight_decay": 0.0})
LENET5["trainer.max_epochs"] = 20


def step_rule(epoch: int, every: int, rate: float) -> float:
    """fmnist.py (`if epoch % args.step == 0: lr *= decay_rate`, before the epoch) and
    cifar10.py (`lr * 0.5 ** (epoch // 30)`): both lr x rate^(epoch // every)."""
    return rate ** (epoch // every)


def cifar100_rule(epoch: int) -> float:
    """cifar100.py: `if epoch in [60, 120, 160]: lr *= decay_rate` before the epoch, rate 0.2."""
    return 0.2 ** sum(epoch >= milestone for milestone in (60, 120, 160))


# preset -> (settings, the lr factor of each 1-based epoch, rotation degrees of the training view)
REFERENCES = {
    "mnist/spherization_fnn.yaml": (
        {**FNN, "data.dataset": "mnist"}, lambda epoch: 1.0, 0.0
    ),
    "mnist/spherization_lenet5.yaml": (
        {**LENET5, "data.dataset": "mnist"}, lambda epoch: 1.0, 0.0
    ),
    "fashion_mnist/spherization_fnn.yaml": (
        {**FNN, "data.dataset": "fashion_mnist"}, lambda epoch: 1.0, 0.0
    ),
    "fashion_mnist/spherization_lenet5.yaml": (
        {**LENET5, "data.dataset": "fashion_mnist"}, lambda epoch: 1.0, 0.0
    ),
    "fashion_mnist/spherization_vgg11.yaml": (
        {
            **SGD, **VGG_MLP,
            "data.dataset": "fashion_mnist", "data.image_size": 32,
            "data.mean": [0.286] * 3, "data.std": [0.353] * 3,
            "backbone.kwargs.in_channels": 1, "backbone.kwargs.pool": "avg",
            "optimizer.lr": 0.01, "optimizer.batch_size": 128, "optimizer.weight_decay": 5e-4,
            "trainer.max_epochs": 100,
        },
        lambda epoch: step_rule(epoch, every=20, rate=0.5),
        0.0,
    ),
    "cifar10/spherization_vgg11.yaml": (
        {
            **SGD, **VGG_MLP,
            "data.dataset": "cifar10", "data.image_size": 32,
            "data.mean": [0.485, 0.456, 0.406], "data.std": [0.229, 0.224, 0.225],
            "backbone.kwargs.in_channels": 3, "backbone.kwargs.pool": "max",
            "optimizer.lr": 0.05, "optimizer.batch_size": 128, "optimizer.weight_decay": 5e-4,
            "trainer.max_epochs": 300,
        },
        lambda epoch: step_rule(epoch, every=30, rate=0.5),
        0.0,
    ),
    "cifar100/spherization_vgg11.yaml": (
        {
            **SGD, **VGG_MLP,
            "data.dataset": "cifar100", "data.image_size": 32,
            "data.mean": [0.5071, 0.4865, 0.4409], "data.std": [0.2673, 0.2564, 0.2762],
            "backbone.kwargs.in_channels": 3, "backbone.kwargs.pool": "max",
            "optimizer.lr": 0.1, "optimizer.batch_size": 128, "optimizer.weight_decay": 5e-4,
            "trainer.max_epochs": 200,
        },
        cifar100_rule,
        15.0,
    ),
}  # fmt: skip


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)


def compose(preset: str, tmp_path, *overrides: str):
    path = REPO / "scripts" / "supervised" / preset
    cfg = compose_pretrain(
        ["data.train_path=/data/somewhere", *overrides],
        tmp_path,
        config_dir=path.parent,
        config_name=path.name,
    )
    validate_pretrain(cfg)
    return cfg


@pytest.fixture(scope="module")
def composed(tmp_path_factory):
    """Each preset composed once for the tests that only read it (composing takes a second)."""
    configs: dict[str, object] = {}

    def preset_config(preset: str):
        if preset not in configs:
            configs[preset] = compose(preset, tmp_path_factory.mktemp("compose"))
        return configs[preset]

    return preset_config


@pytest.mark.parametrize("preset", sorted(REFERENCES))
def test_preset_has_the_references_settings(preset, composed):
    cfg = composed(preset)
    expected, _, _ = REFERENCES[preset]
    actual = OmegaConf.to_container(
        OmegaConf.create(
            {key: OmegaConf.select(cfg, key, throw_on_missing=True) for key in expected}
        )
    )
    assert actual == expected


@pytest.mark.parametrize("preset", sorted(REFERENCES))
def test_preset_lr_follows_the_references_rule_epoch_by_epoch(preset, composed):
    cfg = composed(preset)
    _, rule, _ = REFERENCES[preset]
    epochs = cfg.trainer.max_epochs
    lrs = lrs_over(cfg.scheduler, total_steps=epochs, steps_per_epoch=1)
    assert lrs == pytest.approx([rule(epoch) for epoch in range(1, epochs + 1)])


@pytest.mark.parametrize("preset", sorted(REFERENCES))
def test_preset_training_view_is_the_references_transform(preset, composed):
    cfg = composed(preset)
    _, _, degrees = REFERENCES[preset]
    (aug,) = cfg.augmentations
    pipeline = build_pipeline(aug, cfg.data.mean, cfg.data.std)
    steps = [type(step).__name__ for step in pipeline.transforms]
    assert ("RandomRotation" in steps) == (degrees > 0) and aug.rotation_degrees == degrees
    shifted = "vgg11" in preset  # pad 4, random crop, flip; the MNIST recipes use the image as is
    assert (aug.random_crop_padding, aug.horizontal_flip.prob) == ((4, 0.5) if shifted else (0, 0))
    assert not aug.rrc.enabled and aug.color_jitter.prob == 0 and aug.num_crops == 1


@pytest.mark.parametrize("preset", sorted(p for p in REFERENCES if "vgg11" in p))
def test_vgg_presets_build_the_references_mlp_before_the_spherization(preset, tmp_path, composed):
    """models/vgg.py: Linear(512, 4096), ReLU, Dropout, Linear(4096, 4096), then SphericLinear;
    the plain network keeps the second ReLU and Dropout before its Linear(4096, classes)."""
    spherized = backbone_from_config(cfg := composed(preset), pretrain_crop_size(cfg))
    assert [type(m) for m in spherized.head] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert spherized.head[0].in_features == 512 and spherized.num_features == 4096
    pools = {type(m) for m in spherized.features if isinstance(m, nn.AvgPool2d | nn.MaxPool2d)}
    assert pools == ({nn.AvgPool2d} if "fashion" in preset else {nn.MaxPool2d})
    assert spherized.features[0].in_channels == cfg.backbone.kwargs.in_channels

    plain_cfg = compose(
        preset, tmp_path, "method.classifier=linear", "backbone.kwargs.last_relu=true"
    )
    plain = backbone_from_config(plain_cfg, pretrain_crop_size(plain_cfg))
    assert [type(m) for m in plain.head] == [nn.Linear, nn.ReLU, nn.Dropout] * 2


@pytest.mark.parametrize("preset", sorted(REFERENCES))
def test_plain_network_without_its_last_relu_is_refused(preset, tmp_path):
    with pytest.raises(ConfigError) as error:
        compose(preset, tmp_path, "method.classifier=linear")
    assert error.value.key == "backbone.kwargs.last_relu"
