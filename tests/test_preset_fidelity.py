"""The presets copied from solo-learn and the GCL fork compose to the reference's settings.

The expected values are transcribed from the reference files (solo-learn at 9187ea3, the GCL fork
YeskendirK/geometric-contrastive-learning at 581f5f2): ``scripts/pretrain/<data>/<method>.yaml``
and ``scripts/pretrain/<data>/augmentations/<recipe>.yaml``, and the defaults of solo-learn's code
that those files leave implicit (warm-up from 3e-5 over 10 epochs, SGD/LARS momentum 0.9, LARS
eta 0.02 with clipping, the CIFAR stem's padding 2, projectors of SimCLR and MoCo v2+ without
BatchNorm, MoCo v3's ResNet heads).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hydra_runs import REPO, compose_pretrain
from omegaconf import OmegaConf

from hyperssl.methods.base import backbone_from_config, pretrain_crop_size
from hyperssl.validation import validate_pretrain

# solo-learn's augmentation recipes: (crop min scale, jitter p, b, c, s, h, grayscale p, blur p,
# solarization p, flip p, crops) per pipeline.
SYMMETRIC = [(0.08, 0.8, 0.8, 0.8, 0.8, 0.2, 0.2, 0.5, 0.0, 0.5, 2)]
SYMMETRIC_WEAK = [(0.08, 0.8, 0.4, 0.4, 0.4, 0.1, 0.2, 0.5, 0.0, 0.5, 2)]
ASYMMETRIC_CIFAR = [
    (0.08, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 0.0, 0.0, 0.5, 1),
    (0.08, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 0.0, 0.2, 0.5, 1),
]
ASYMMETRIC_IMAGENET = [
    (0.08, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 1.0, 0.0, 0.5, 1),
    (0.08, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 0.1, 0.2, 0.5, 1),
]

# What every solo-learn/GCL run has, whatever the method.
COMMON = {
    "backbone.name": "resnet18",
    "method.views_in_one_batch": False,
    "scheduler.name": "warmup_cosine",
    "scheduler.warmup_epochs": 10,
    "scheduler.warmup_start_lr": 3e-5,
    "scheduler.min_lr": 0.0,
    "optimizer.reference_batch_size": 256,
    "optimizer.scale_lr_by_batch": True,
    "optimizer.momentum": 0.9,
    "seed": 5,
}
CIFAR = {**COMMON, "data.dataset": "cifar10"}
CIFAR_STEM = {"backbone.kwargs.small_stem_padding": 2}
IMAGENET_100 = {
    **COMMON,
    "data.dataset": "imagefolder",
    "data.num_classes": 100,
    "data.image_size": 224,
    "data.eval_resize": 256,
    "trainer.max_epochs": 400,
    "trainer.precision": "16-mixed",
    "optimizer.batch_size": 256,  # solo-learn: 2 GPUs x 128 with SyncBatchNorm
}
LARS = {
    "optimizer.name": "lars",
    "optimizer.trust_coefficient": 0.02,
    "optimizer.exclude_bias_n_norm": True,
}
SGD = {"optimizer.name": "sgd", "optimizer.exclude_bias_n_norm": False}
GCL_CIFAR = {"trainer.max_epochs": 1000, "trainer.precision": "32-true"}
SOLO_CIFAR = {"trainer.max_epochs": 1000, "trainer.precision": "16-mixed"}

# Preset -> (expected keys, augmentation recipe).
REFERENCES: dict[str, tuple[dict[str, Any], list[tuple]]] = {
    # GCL fork, scripts/pretrain/cifar/simclr.yaml
    "cifar/simclr.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **GCL_CIFAR,
            "method.name": "simclr",
            "method.temperature": 0.05,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 128,
            "method.projector.num_layers": 2,
            "method.projector.hidden_batch_norm": False,
            "optimizer.lr": 0.4,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 512,
            "optimizer.weight_decay": 1e-4,
        },
        SYMMETRIC,
    ),
    # solo-learn, scripts/pretrain/cifar/simclr.yaml
    "cifar/simclr_solo_learn.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "simclr",
            "method.temperature": 0.2,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 256,
            "method.projector.hidden_batch_norm": False,
            "optimizer.lr": 0.4,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-4,
        },
        SYMMETRIC,
    ),
    # GCL fork, scripts/pretrain/cifar/mocov2plus.yaml
    "cifar/mocov2plus.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **SGD, **GCL_CIFAR,
            "method.name": "mocov2plus",
            "method.temperature": 0.05,
            "method.queue_size": 4096,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 128,
            "method.projector.hidden_batch_norm": False,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 0.999,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.3,
            "optimizer.batch_size": 512,
            "optimizer.weight_decay": 1e-4,
        },
        SYMMETRIC_WEAK,
    ),
    # solo-learn, scripts/pretrain/cifar/mocov2plus.yaml
    "cifar/mocov2plus_solo_learn.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **SGD, **SOLO_CIFAR,
            "method.name": "mocov2plus",
            "method.temperature": 0.2,
            "method.queue_size": 32768,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 256,
            "method.projector.hidden_batch_norm": False,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 0.999,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.3,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-4,
        },
        SYMMETRIC_WEAK,
    ),
    # GCL fork, scripts/pretrain/cifar/byol.yaml
    "cifar/byol.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **GCL_CIFAR,
            "method.name": "byol",
            "method.projector.hidden_dim": 4096,
            "method.projector.output_dim": 128,
            "method.projector.hidden_batch_norm": True,
            "method.predictor.hidden_dim": 4096,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 1.0,
            "optimizer.lr": 1.0,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 2048,
            "optimizer.weight_decay": 1e-5,
        },
        ASYMMETRIC_CIFAR,
    ),
    # solo-learn, scripts/pretrain/cifar/byol.yaml
    "cifar/byol_solo_learn.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "byol",
            "method.projector.hidden_dim": 4096,
            "method.projector.output_dim": 256,
            "method.predictor.hidden_dim": 4096,
            "optimizer.lr": 1.0,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-5,
        },
        ASYMMETRIC_CIFAR,
    ),
    # solo-learn (and the GCL fork), scripts/pretrain/cifar/mocov3.yaml; ResNet heads from
    # solo/methods/mocov3.py
    "cifar/mocov3.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "mocov3",
            "method.temperature": 0.2,
            "method.projector.hidden_dim": 4096,
            "method.projector.output_dim": 256,
            "method.projector.num_layers": 2,
            "method.projector.last_batch_norm": True,
            "method.predictor.hidden_dim": 4096,
            "method.predictor.last_batch_norm": False,
            "method.predictor.last_bias": False,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 1.0,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.3,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-6,
        },
        ASYMMETRIC_CIFAR,
    ),
    # solo-learn, scripts/pretrain/imagenet-100/simclr.yaml
    "imagenet-100/simclr.yaml": (
        {
            **IMAGENET_100, **LARS,
            "method.name": "simclr",
            "method.temperature": 0.2,
            "method.projector.hidden_dim": 4096,
            "method.projector.output_dim": 512,
            "method.projector.hidden_batch_norm": False,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.1,
            "optimizer.weight_decay": 1e-4,
        },
        SYMMETRIC,
    ),
    # solo-learn, scripts/pretrain/imagenet-100/mocov2plus.yaml
    "imagenet-100/mocov2plus.yaml": (
        {
            **IMAGENET_100, **SGD,
            "method.name": "mocov2plus",
            "method.temperature": 0.2,
            "method.queue_size": 65536,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 256,
            "method.projector.hidden_batch_norm": False,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 0.999,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.3,
            "optimizer.weight_decay": 1e-4,
        },
        SYMMETRIC_WEAK,
    ),
    # solo-learn, scripts/pretrain/imagenet-100/mocov3.yaml
    "imagenet-100/mocov3.yaml": (
        {
            **IMAGENET_100, **LARS,
            "method.name": "mocov3",
            "method.temperature": 0.2,
            "method.projector.hidden_dim": 4096,
            "method.projector.output_dim": 256,
            "method.projector.num_layers": 2,
            "method.projector.last_batch_norm": True,
            "method.predictor.hidden_dim": 4096,
            "method.predictor.last_batch_norm": False,
            "method.predictor.last_bias": False,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 1.0,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.3,
            "optimizer.weight_decay": 1e-6,
        },
        ASYMMETRIC_IMAGENET,
    ),
    # solo-learn, scripts/pretrain/imagenet-100/byol.yaml
    "imagenet-100/byol.yaml": (
        {
            **IMAGENET_100, **LARS,
            "method.name": "byol",
            "method.projector.hidden_dim": 4096,
            "method.projector.output_dim": 256,
            "method.predictor.hidden_dim": 8192,
            "method.momentum.base_tau": 0.99,
            "method.momentum.final_tau": 1.0,
            "optimizer.lr": 0.5,
            "optimizer.classifier_lr": 0.1,
            "optimizer.weight_decay": 1e-6,
        },
        ASYMMETRIC_IMAGENET,
    ),
    # solo-learn, scripts/pretrain/cifar/nnclr.yaml; projector/predictor from solo/methods/nnclr.py
    "cifar/nnclr.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "nnclr",
            "method.temperature": 0.2,
            "method.queue_size": 65536,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 256,
            "method.projector.num_layers": 3,
            "method.projector.last_batch_norm": True,
            "method.projector.last_batch_norm_affine": True,
            "method.predictor.hidden_dim": 4096,
            "optimizer.lr": 0.4,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-5,
        },
        ASYMMETRIC_CIFAR,
    ),
    # solo-learn, scripts/pretrain/cifar/dino.yaml; the head, temperatures, center momentum,
    # freezing and clipping from the defaults of solo/methods/dino.py and solo/losses/dino.py
    "cifar/dino.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "dino",
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 256,
            "method.projector.num_layers": 3,
            "method.projector.hidden_batch_norm": False,
            "method.num_prototypes": 4096,
            "method.norm_last_layer": True,
            "method.student_temperature": 0.1,
            "method.teacher_temperature": 0.07,
            "method.warmup_teacher_temperature": 0.04,
            "method.warmup_teacher_temperature_epochs": 0,
            "method.center_momentum": 0.9,
            "method.freeze_last_layer": 1,
            "method.clip_grad": 0.0,
            "method.momentum.base_tau": 0.9995,
            "method.momentum.final_tau": 1.0,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-6,
        },
        ASYMMETRIC_CIFAR,
    ),
    # solo-learn, scripts/pretrain/cifar/barlow.yaml; λ from solo/methods/barlow_twins.py
    "cifar/barlow_twins.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "barlow_twins",
            "method.lam": 0.0051,
            "method.scale_loss": 0.1,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 2048,
            "method.projector.num_layers": 3,
            "method.projector.hidden_batch_norm": True,
            "method.projector.last_batch_norm": False,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-4,
        },
        ASYMMETRIC_CIFAR,
    ),
    # solo-learn, scripts/pretrain/cifar/vicreg.yaml (its augmentations inline)
    "cifar/vicreg.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "vicreg",
            "method.lam": 25.0,
            "method.mu": 25.0,
            "method.nu": 1.0,
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 2048,
            "method.projector.num_layers": 3,
            "method.projector.hidden_batch_norm": True,
            "method.projector.last_batch_norm": False,
            "optimizer.lr": 0.3,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-4,
        },
        [(0.2, 0.8, 0.4, 0.4, 0.2, 0.1, 0.2, 0.0, 0.1, 0.5, 2)],
    ),
    # solo-learn, scripts/pretrain/cifar/swav.yaml; sk_epsilon, sk_iters from solo/methods/swav.py
    "cifar/swav.yaml": (
        {
            **CIFAR, **CIFAR_STEM, **LARS, **SOLO_CIFAR,
            "method.name": "swav",
            "method.projector.hidden_dim": 2048,
            "method.projector.output_dim": 128,
            "method.projector.num_layers": 2,
            "method.projector.hidden_batch_norm": True,
            "method.num_prototypes": 3000,
            "method.temperature": 0.1,
            "method.sk_epsilon": 0.05,
            "method.sk_iters": 3,
            "method.queue_size": 3840,
            "method.epoch_queue_starts": 50,
            "method.freeze_prototypes_epochs": 2,
            "optimizer.lr": 0.6,
            "optimizer.classifier_lr": 0.1,
            "optimizer.batch_size": 256,
            "optimizer.weight_decay": 1e-6,
        },
        SYMMETRIC,
    ),
}  # fmt: skip


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch):
    # Presets find configs/ through `hydra.searchpath: [file://configs]`, relative to the cwd.
    monkeypatch.chdir(REPO)


def _compose(preset: str, tmp_path):
    path = REPO / "scripts" / "pretrain" / preset
    cfg = compose_pretrain(
        ["data.train_path=/data/somewhere"], tmp_path, config_dir=path.parent, config_name=path.name
    )
    validate_pretrain(cfg)
    return cfg


def _recipe(cfg) -> list[tuple]:
    return [
        (
            aug.rrc.crop_min_scale,
            aug.color_jitter.prob,
            aug.color_jitter.brightness,
            aug.color_jitter.contrast,
            aug.color_jitter.saturation,
            aug.color_jitter.hue,
            aug.grayscale.prob,
            aug.gaussian_blur.prob,
            aug.solarization.prob,
            aug.horizontal_flip.prob,
            aug.num_crops,
        )
        for aug in cfg.augmentations
    ]


@pytest.mark.parametrize("preset", sorted(REFERENCES))
def test_preset_has_the_references_settings(preset, tmp_path):
    cfg = _compose(preset, tmp_path)
    expected, recipe = REFERENCES[preset]
    actual = {key: OmegaConf.select(cfg, key, throw_on_missing=True) for key in expected}
    assert actual == expected
    assert _recipe(cfg) == recipe
    crop = cfg.data.image_size
    assert all(aug.crop_size == crop and aug.rrc.crop_max_scale == 1.0 for aug in cfg.augmentations)


@pytest.mark.parametrize("preset", sorted(p for p in REFERENCES if "simclr" in p))
def test_simclr_presets_take_minus_the_log_of_the_summed_positive_probability(preset, tmp_path):
    assert _compose(preset, tmp_path).method.positives == "log_sum_prob"


@pytest.mark.parametrize("preset", sorted(p for p in REFERENCES if p.startswith("cifar/")))
def test_cifar_presets_build_solo_learns_stem(preset, tmp_path):
    """solo-learn's CIFAR ResNet: conv1 = Conv2d(3, 64, 3, stride 1, padding 2), no max-pool."""
    cfg = _compose(preset, tmp_path)
    backbone = backbone_from_config(cfg, pretrain_crop_size(cfg))
    conv = backbone.conv1
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (1, 1), (2, 2))
    assert isinstance(backbone.maxpool, torch.nn.Identity)
