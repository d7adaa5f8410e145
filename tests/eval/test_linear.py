import pytorch_lightning as pl
import torch
from torch import nn

from hyperssl.cli.compose import compose_config
from hyperssl.eval.linear import LinearProbe, feature_loader

# Composed as main_linear.py composes them, so the options' keys come from their schemas.
PROBE = compose_config(
    "linear",
    [
        "optimizer=sgd",
        "optimizer.lr=0.5",
        "optimizer.batch_size=256",  # the reference batch: lr unscaled
        "optimizer.weight_decay=0.0",
        "scheduler=warmup_cosine",
        "scheduler.warmup_epochs=0",
    ],
)
OPTIMIZER, SCHEDULER = PROBE.optimizer, PROBE.scheduler


def trainer(epochs):
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def separable_features(n, classes=4, dim=16, seed=0):
    """Class c lies on the far side of its own hyperplane: x = 3 w_c + noise, w_c orthonormal."""
    directions = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(0)))[
        0
    ]
    directions = directions[:classes]
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    features = 3.0 * directions[labels] + 0.5 * torch.randn(n, dim, generator=generator)
    return features, labels


def test_probe_reaches_high_accuracy_on_linearly_separable_features():
    pl.seed_everything(0, verbose=False)
    train_x, train_y = separable_features(400)
    val_x, val_y = separable_features(200, seed=1)
    probe = LinearProbe(nn.Identity(), 16, 4, OPTIMIZER, SCHEDULER)
    fit = trainer(6)
    fit.fit(
        probe, feature_loader(train_x, train_y, 50, shuffle=True), feature_loader(val_x, val_y, 200)
    )
    assert fit.callback_metrics["val/acc1"] >= 98.0
    assert fit.callback_metrics["val/acc5"] == 100.0  # 4 classes: top-5 covers them all


def test_frozen_backbone_stays_in_eval_mode_and_unchanged():
    pl.seed_everything(0, verbose=False)
    backbone = nn.Sequential(nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU())
    before = {name: t.clone() for name, t in backbone.state_dict().items()}
    probe = LinearProbe(backbone, 8, 4, OPTIMIZER, SCHEDULER)
    x, y = separable_features(64)
    trainer(2).fit(probe, feature_loader(x, y, 16, shuffle=True))
    assert not backbone.training
    for name, value in backbone.state_dict().items():  # weights and BatchNorm statistics
        torch.testing.assert_close(value, before[name], msg=name)


def test_finetuning_trains_the_backbone():
    pl.seed_everything(0, verbose=False)
    backbone = nn.Linear(16, 8)
    before = backbone.weight.clone()
    probe = LinearProbe(backbone, 8, 4, OPTIMIZER, SCHEDULER, finetune=True)
    x, y = separable_features(64)
    trainer(1).fit(probe, feature_loader(x, y, 16, shuffle=True))
    assert not torch.equal(backbone.weight, before)


def test_feature_batches_are_a_new_permutation_each_epoch_drawn_from_seed_and_epoch():
    x, y = torch.arange(40.0).unsqueeze(1), torch.arange(40)

    def epoch_order(loader, epoch: int) -> list[int]:
        loader.sampler.set_epoch(epoch)  # what Lightning calls at each epoch's start
        return torch.cat([labels for _, labels in loader]).tolist()

    loader = feature_loader(x, y, 16, shuffle=True, seed=3)
    first, second = epoch_order(loader, 0), epoch_order(loader, 1)
    assert sorted(first) == sorted(second) == list(range(40))
    assert first != second
    # A new loader (a resumed run's) set to epoch 1 draws epoch 1's order, not epoch 0's.
    assert epoch_order(feature_loader(x, y, 16, shuffle=True, seed=3), 1) == second
    assert epoch_order(feature_loader(x, y, 16, shuffle=True, seed=4), 1) != second
