"""The online diagnostics of pretraining: k-NN, sphere metrics, pictures."""

import math
import sys
from types import SimpleNamespace

import pytest
import torch
from hydra_runs import compose_pretrain, metric_columns
from pictures import assert_real_png
from torch import nn

from hyperssl import ConfigError
from hyperssl.callbacks.embeddings import positive_pair_views
from hyperssl.callbacks.online_knn import FeatureBank, OnlineKNN
from hyperssl.validation import validate_pretrain

SPHERE_COLUMNS = [
    "val/alignment",
    "val/uniformity",
    "val/wasserstein_uniformity",
    "val/pos_angle_mean",
    "val/pos_angle_std",
    "val/neg_angle_mean",
    "val/neg_angle_std",
    "val/effective_rank",
    "val/rankme",
]


def test_feature_bank_keeps_only_the_newest_rows():
    bank = FeatureBank(capacity=5)
    for start in range(0, 12, 3):
        rows = torch.arange(start, start + 3)
        bank.add(rows[:, None].float(), rows)
    features, labels = bank.tensors()
    assert len(bank) == 5 and labels.tolist() == [7, 8, 9, 10, 11]
    assert features[:, 0].tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]


def test_feature_bank_drops_unlabelled_rows_and_stays_bounded():
    bank = FeatureBank(capacity=4)
    for start in range(0, 30, 3):
        rows = torch.arange(start, start + 3)
        labels = torch.where(rows % 2 == 0, rows, -1)  # odd rows unlabelled
        bank.add(rows[:, None].float(), labels)
        assert len(bank) < 2 * 4  # compacted whenever twice the capacity is held
    features, labels = bank.tensors()
    assert labels.tolist() == [22, 24, 26, 28]
    assert features[:, 0].tolist() == [22.0, 24.0, 26.0, 28.0]
    bank.clear()
    bank.add(torch.zeros(2, 1), torch.tensor([-1, -1]))
    assert bank.tensors() is None


class RecordingModule(nn.Module):
    """Just what the callback touches: a backbone, num_classes and log_dict."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Identity()
        self.num_classes = 3
        self.logged = {}

    def log_dict(self, values, **kwargs):
        self.logged |= values


def test_online_knn_votes_with_the_first_view_of_each_training_batch():
    """Training view 1 carries the class (one-hot), view 2 is noise: k-NN on the captured bank
    is perfect only if the bank holds view 1's rows of the backbone's output."""
    callback, module = OnlineKNN(every_n_epochs=1, k=1, max_bank=100), RecordingModule()
    trainer = SimpleNamespace(current_epoch=0, max_epochs=1, sanity_checking=False)
    callback.setup(trainer, module, "fit")
    callback.on_train_epoch_start(trainer, module)
    labels = torch.tensor([0, 1, 2, 1])
    views = [torch.eye(3)[labels], torch.randn(4, 3)]
    callback.on_train_batch_start(trainer, module, (views, labels, None), 0)
    module.backbone(torch.cat(views))  # the step's forward pass
    callback.on_train_batch_end(trainer, module, None, (views, labels, None), 0)
    assert len(callback.bank) == 4

    val_labels = torch.tensor([2, 0, 1])
    callback.on_validation_epoch_start(trainer, module)
    callback.on_validation_batch_start(trainer, module, (None, val_labels), 0)
    module.backbone(torch.eye(3)[val_labels] + 0.01)
    callback.on_validation_batch_end(trainer, module, None, (None, val_labels), 0)
    callback.on_validation_epoch_end(trainer, module)
    assert module.logged == {"val/knn_acc1": 100.0, "val/knn_acc5": 100.0}
    callback.teardown(trainer, module, "fit")
    assert not module.backbone._forward_hooks


def test_positive_pairs_leave_the_training_random_stream_untouched():
    datamodule = SimpleNamespace(
        val_set=[(torch.rand(3, 8, 8), 0) for _ in range(6)],
        train_transform=lambda image: [image + torch.rand(1), image + torch.rand(1)],
    )
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = positive_pair_views(datamodule, 4, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    second = positive_pair_views(datamodule, 4, seed=0)
    assert torch.equal(first[0], second[0]) and first[0].shape == (4, 3, 8, 8)
    assert not torch.equal(first[0], first[1])  # two different views


def test_pretraining_logs_online_knn_and_sphere_metrics(pretrained_run):
    columns = metric_columns(pretrained_run)
    for name in ["val/knn_acc1", "val/knn_acc5", *SPHERE_COLUMNS]:
        assert len(columns[name]) == 1 and math.isfinite(columns[name][0]), name
    assert 0.0 <= columns["val/knn_acc1"][0] <= columns["val/knn_acc5"][0] <= 100.0
    assert 0.0 <= columns["val/alignment"][0] <= 4.0  # ||x - y||^2 of unit vectors
    assert -4.0 <= columns["val/uniformity"][0] <= 0.0  # log E exp(-2 ||x - y||^2)
    assert 0.0 <= columns["val/pos_angle_mean"][0] <= 180.0
    assert 1.0 <= columns["val/effective_rank"][0] <= 16.0  # projector output_dim
    assert columns["val/wasserstein_uniformity"][0] >= 0.0
    assert columns["val/rankme"][0] >= 1.0


def test_pretraining_leaves_the_pictures_in_the_run_directory(pretrained_run):
    assert_real_png(pretrained_run / "embedding_map.png")
    assert_real_png(pretrained_run / "angle_histograms.png")


@pytest.mark.parametrize(
    "override,message",
    [
        ("diagnostics.plots.embedding_map=pca", "diagnostics.plots.embedding_map: got 'pca'"),
        ("diagnostics.online_knn.k=0", "diagnostics.online_knn.k: got 0; allowed: >= 1"),
        ("diagnostics.sphere_metrics.num_samples=1", "diagnostics.sphere_metrics.num_samples"),
    ],
)
def test_bad_diagnostics_values_are_config_errors(override, message, tmp_path):
    cfg = compose_pretrain([override], tmp_path)
    with pytest.raises(ConfigError, match=message):
        validate_pretrain(cfg)


def test_umap_without_its_package_is_refused_before_training_with_the_install_command(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "umap", None)  # `import umap` raises ImportError
    cfg = compose_pretrain(["diagnostics.plots.embedding_map=umap"], tmp_path)
    with pytest.raises(ConfigError) as refused:
        validate_pretrain(cfg)
    assert str(refused.value) == (
        "diagnostics.plots.embedding_map: umap needs the umap-learn package, which is not "
        'installed; allowed: tsne, or pip install "hyperssl[umap]"'
    )


def test_pictures_go_to_tensorboard_and_wandb_when_selected(tmp_path):
    from unittest.mock import Mock

    from matplotlib.figure import Figure
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger

    from hyperssl.callbacks.plots import log_figure

    tensorboard = TensorBoardLogger.__new__(TensorBoardLogger)  # no tensorboard package needed
    tensorboard._experiment = Mock()
    wandb = WandbLogger.__new__(WandbLogger)
    wandb.log_image = Mock()
    trainer = SimpleNamespace(loggers=[CSVLogger(tmp_path), tensorboard, wandb], global_step=7)
    figure, path = Figure(), tmp_path / "map.png"
    log_figure(trainer, "plots/embedding_map", figure, path)
    tensorboard._experiment.add_figure.assert_called_once_with(
        "plots/embedding_map", figure, global_step=7, close=False
    )
    wandb.log_image.assert_called_once_with(key="plots/embedding_map", images=[str(path)])


CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class TinyMethod(nn.Module):
    """What the pictures touch: a backbone, a projector and the run's config."""

    def __init__(self):
        super().__init__()
        from omegaconf import OmegaConf

        self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 16))
        self.projector = nn.Linear(16, 8)
        self.cfg = OmegaConf.create(
            {
                "method": {"name": "simclr"},
                "geometry": {"name": "geodesic"},
                "heads": {"mhe": {"power": "0"}},
                "data": {"dataset": "cifar10"},
            }
        )


def _compact(text: str) -> str:
    """Text without whitespace: wrapped lines compare equal to the unwrapped sentence."""
    return "".join(text.split())


def test_embedding_plots_say_which_run_space_and_epoch_and_name_the_classes(tmp_path):
    from hyperssl.callbacks.plots import EmbeddingPlots
    from hyperssl.data.in_memory import TensorImages

    torch.manual_seed(0)
    images = (torch.rand(40, 3, 4, 4) * 255).to(torch.uint8)
    datamodule = SimpleNamespace(
        val_set=TensorImages(images, torch.arange(40) % 10, CIFAR10),
        eval_transform=lambda image: image.float() / 255,
        train_transform=lambda image: [image.float() / 255, torch.rand(image.shape)],
    )
    trainer = SimpleNamespace(
        is_global_zero=True, datamodule=datamodule, current_epoch=7, global_step=70, loggers=[]
    )
    run_dir = tmp_path / "multirun" / "2024-05-01_12-00-00" / "3_geometry=geodesic"
    callback = EmbeddingPlots(run_dir, num_pairs=16)
    figures = {}
    callback._write = lambda trainer, name, figure: figures.setdefault(name, figure)
    callback.on_fit_end(trainer, TinyMethod())

    for name in ("embedding_map", "angle_histograms"):
        details = _compact(figures[name].axes[0].get_title())
        assert _compact("simclr, geodesic geometry, heads: mhe, on cifar10") in details, name
        assert _compact("8-d projector output after 7 epochs (70 steps)") in details, name
        assert _compact(f"run: {run_dir}") in details, name
    legend = figures["embedding_map"].axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == CIFAR10
    entries = [text.get_text() for text in figures["angle_histograms"].axes[0].get_legend().texts]
    assert [entry.split(":")[0] for entry in entries] == [
        "positive pairs (n=16)",
        "positive mean",
        "negative pairs (n=240)",
        "negative mean",
        "90°",
    ]


def test_embeddings_of_a_method_without_projector_are_named_backbone_features():
    from hyperssl.callbacks.embeddings import embedding_space

    assert embedding_space(SimpleNamespace(projector=None)) == "backbone features"
    assert embedding_space(TinyMethod()) == "projector output"
