"""PretrainDataModule: batch structure, splits and loaders over the on-disk fixtures."""

from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from datasets_on_disk import synthetic_split

from hyperssl import ConfigError
from hyperssl.data.datamodule import PretrainDataModule
from hyperssl.data.schema import AugmentationConfig, DataConfig


def datamodule(
    dataset: str = "cifar10",
    root=None,
    pipelines: list[AugmentationConfig] | None = None,
    batch_size: int = 8,
    seed: int = 0,
    **data,
) -> PretrainDataModule:
    config = DataConfig(
        dataset=dataset, train_path=str(root) if root else None, num_workers=0, **data
    )
    module = PretrainDataModule(config, pipelines or [AugmentationConfig()], batch_size, seed)
    module.setup("fit")
    return module


def first_step_batch(module: PretrainDataModule, epoch: int = 0, batch_idx: int = 0):
    """The first batch a training step gets: the loader's, augmented on the device as
    ``on_after_batch_transfer`` does when the data module augments batches."""
    batch = next(iter(module.train_dataloader()))
    return module.augment_batch(batch, epoch, batch_idx) if module.augments_batches else batch


@pytest.mark.parametrize("augment_on", ["auto", "workers"])
def test_train_batch_is_two_views_labels_and_index(cifar10_root, augment_on):
    module = datamodule(root=cifar10_root, augment_on=augment_on)
    assert module.augments_batches == (augment_on == "auto")
    views, labels, index = first_step_batch(module)
    assert len(views) == 2
    assert all(view.shape == (8, 3, 32, 32) and view.dtype == torch.float32 for view in views)
    assert labels.dtype == index.dtype == torch.long
    assert labels.shape == index.shape == (8,)
    expected_labels = torch.from_numpy(synthetic_split(64, 10, 32, 0)[1])
    assert torch.equal(labels, expected_labels[index])


def test_two_pipelines_of_two_crops_give_four_views(cifar10_root):
    pipelines = [AugmentationConfig(crop_size=32), AugmentationConfig(crop_size=16)]
    module = datamodule(root=cifar10_root, pipelines=pipelines)
    views, _, _ = first_step_batch(module)
    assert module.num_views == 4
    assert [tuple(view.shape) for view in views] == [(8, 3, 32, 32)] * 2 + [(8, 3, 16, 16)] * 2


def test_train_loader_shuffles_by_seed_and_drops_the_last_partial_batch(cifar10_root):
    def epoch_order(seed: int) -> torch.Tensor:
        loader = datamodule(root=cifar10_root, batch_size=10, seed=seed).train_dataloader()
        return torch.cat([index for _, _, index in loader])

    order = epoch_order(0)
    assert len(order) == 60  # 6 full batches of 10 out of 64
    assert len(set(order.tolist())) == 60
    assert torch.equal(order, epoch_order(0))
    assert not torch.equal(order, epoch_order(1))
    assert not torch.equal(order, torch.sort(order).values)


def test_val_and_train_eval_loaders_keep_every_sample_in_order(cifar10_root):
    module = datamodule(root=cifar10_root, batch_size=10)
    val = list(module.val_dataloader())
    bank = list(module.train_eval_dataloader())
    assert [len(labels) for _, labels in val] == [10, 10, 10, 2]
    assert val[0][0].shape == (10, 3, 32, 32)
    assert sum(len(labels) for _, labels in bank) == 64
    val_labels = torch.cat([labels for _, labels in val])
    assert torch.equal(val_labels, torch.from_numpy(synthetic_split(32, 10, 32, 1)[1]))
    assert module.has_validation


def test_eval_images_are_normalised_with_the_configured_stats(cifar10_root):
    module = datamodule(root=cifar10_root, mean=[0.0] * 3, std=[1.0] * 3)
    images, _ = next(iter(module.val_dataloader()))
    expected = torch.from_numpy(synthetic_split(32, 10, 32, 1)[0][:8]).float() / 255
    torch.testing.assert_close(images, expected)


def test_digits_default_config_splits_1437_train_360_val():
    module = datamodule("digits")
    assert (len(module.pretrain_set), len(module.val_set)) == (1437, 360)
    assert module.train_set is module.pretrain_set
    assert module.num_classes == 10


def test_digits_without_val_fraction_has_no_validation():
    module = datamodule("digits", val_fraction=0.0)
    assert not module.has_validation
    assert module.val_dataloader() == []


def test_stl10_pretrains_on_train_plus_unlabeled_and_banks_the_labelled_train(stl10_root):
    module = datamodule(
        "stl10", stl10_root, [AugmentationConfig(crop_size=48)], batch_size=16, image_size=96
    )
    assert (len(module.pretrain_set), len(module.train_set), len(module.val_set)) == (48, 32, 16)
    views, _, _ = first_step_batch(module)
    images, labels = next(iter(module.train_eval_dataloader()))
    assert views[0].shape == (16, 3, 48, 48)
    assert images.shape == (16, 3, 96, 96)
    assert (labels >= 0).all()


def test_stl10_can_skip_the_unlabelled_images(stl10_root):
    module = datamodule("stl10", stl10_root, stl10_unlabeled=False, image_size=96)
    assert len(module.pretrain_set) == 32


def test_folder_has_unlabelled_training_and_no_validation(flat_folder_root):
    module = datamodule("folder", flat_folder_root)
    # Folders are augmented per image in workers on a CPU, batched where CUDA is.
    assert module.augments_batches == torch.cuda.is_available()
    _, labels, _ = next(iter(module.train_dataloader()))
    assert (labels == -1).all()
    assert module.val_dataloader() == []
    assert not module.has_validation


def test_imagefolder_validates_on_val_path(image_folder_root):
    module = datamodule(
        "imagefolder",
        image_folder_root,
        val_path=str(image_folder_root),
        num_classes=2,
        image_size=32,
    )
    images, labels = next(iter(module.val_dataloader()))
    assert images.shape == (8, 3, 32, 32)
    assert labels.tolist() == [0] * 8


def test_num_classes_not_matching_the_data_names_the_key(cifar100_root):
    with pytest.raises(ConfigError) as error:
        datamodule("cifar100", cifar100_root, num_classes=10)
    assert error.value.key == "data.num_classes"
    assert error.value.allowed == "100"


def test_batch_larger_than_the_train_set_is_a_config_error(image_folder_root):
    with pytest.raises(ConfigError, match="exceeds the 16 training images"):
        datamodule("imagefolder", image_folder_root, batch_size=32, num_classes=2)


def test_workers_load_the_same_batch_structure(cifar10_root):
    config = DataConfig(
        dataset="cifar10", train_path=str(cifar10_root), num_workers=2, augment_on="workers"
    )
    module = PretrainDataModule(config, [AugmentationConfig()], 16, 0)
    module.setup()
    loader = module.train_dataloader()
    views, labels, index = next(iter(loader))
    assert loader.num_workers == 2
    assert [view.shape for view in views] == [(16, 3, 32, 32)] * 2
    assert labels.shape == index.shape == (16,)


def test_shuffle_order_is_a_function_of_seed_and_epoch(cifar10_root):
    config = DataConfig(dataset="cifar10", train_path=str(cifar10_root), num_workers=0)
    module = PretrainDataModule(config, [AugmentationConfig()], 16, seed=3)
    module.setup()
    sampler = module.train_dataloader().sampler
    orders = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert sorted(orders[0]) == list(range(64))
    assert orders[0] == orders[2] != orders[1]


def test_worker_augmentations_are_a_function_of_seed_and_epoch_not_the_global_generator(
    cifar10_root,
):
    """A run resumed mid-epoch makes the epoch's iterator again from other global random states:
    its workers must still draw the same views."""
    config = DataConfig(
        dataset="cifar10", train_path=str(cifar10_root), num_workers=2, augment_on="workers"
    )
    module = PretrainDataModule(config, [AugmentationConfig()], 16, seed=3)
    module.setup()
    loader = module.train_dataloader()
    views = []
    for epoch, global_seed in ((1, 0), (1, 99), (2, 0)):
        loader.sampler.set_epoch(epoch)
        torch.manual_seed(global_seed)
        views.append(next(iter(loader))[0][0])
    assert torch.equal(views[0], views[1])
    assert not torch.equal(views[0], views[2])


def test_batched_path_gathers_uint8_batches_from_memory_without_workers(cifar10_root):
    config = DataConfig(dataset="cifar10", train_path=str(cifar10_root), num_workers=2)
    module = PretrainDataModule(config, [AugmentationConfig()], 8)
    loader = module.train_dataloader()
    images, labels, index = next(iter(loader))
    assert loader.num_workers == 0
    assert images.dtype == torch.uint8 and images.shape == (8, 3, 32, 32)
    assert torch.equal(images, module.pretrain_set.images[index])
    assert torch.equal(labels, module.pretrain_set.labels[index])


@pytest.mark.parametrize(
    ("dataset", "root"), [("cifar10", "cifar10_root"), ("folder", "flat_folder_root")]
)
def test_batched_views_are_a_function_of_seed_epoch_and_batch(dataset, root, request):
    """What resuming needs: the same views for the same (seed, epoch, batch, rank), for images
    held in memory and for files decoded on the device."""
    module = datamodule(dataset, request.getfixturevalue(root), augment_on="batch")
    batch = next(iter(module.train_dataloader()))

    def first_view(epoch: int, batch_idx: int, rank: int = 0) -> torch.Tensor:
        return module.augment_batch(batch, epoch, batch_idx, rank)[0][0]

    reference = first_view(1, 2)
    assert torch.equal(reference, first_view(1, 2))
    for other in (first_view(2, 2), first_view(1, 3), first_view(1, 2, rank=1)):
        assert not torch.equal(reference, other)
    module.seed = 1
    assert not torch.equal(reference, first_view(1, 2))


def fake_trainer(training: bool, epoch: int, loop_batch_idx: int) -> SimpleNamespace:
    """What on_after_batch_transfer reads of a Trainer."""
    epoch_loop = SimpleNamespace(batch_idx=loop_batch_idx)
    return SimpleNamespace(
        training=training,
        current_epoch=epoch,
        global_rank=0,
        fit_loop=SimpleNamespace(epoch_loop=epoch_loop),
    )


def test_batch_transfer_hook_augments_training_batches_only(cifar10_root):
    module = datamodule(root=cifar10_root)
    batch = next(iter(module.train_dataloader()))
    module.trainer = fake_trainer(training=False, epoch=3, loop_batch_idx=4)
    assert module.on_after_batch_transfer(batch, 0) is batch
    module.trainer = fake_trainer(training=True, epoch=3, loop_batch_idx=4)
    views, labels, index = module.on_after_batch_transfer(batch, 0)
    # The loop counts the batch as ready after moving it: it is batch 5 of the epoch.
    expected, _, _ = module.augment_batch(batch, epoch=3, batch_idx=5)
    assert all(torch.equal(view, other) for view, other in zip(views, expected, strict=True))
    assert labels is batch[1] and index is batch[2]


def test_workers_path_leaves_training_batches_to_the_loader(cifar10_root):
    module = datamodule(root=cifar10_root, augment_on="workers")
    batch = next(iter(module.train_dataloader()))
    module.trainer = fake_trainer(training=True, epoch=0, loop_batch_idx=-1)
    assert module.on_after_batch_transfer(batch, 0) is batch


def test_unknown_augment_on_names_the_key_and_the_choices():
    with pytest.raises(ConfigError) as error:
        PretrainDataModule(
            DataConfig(dataset="digits", augment_on="gpu"), [AugmentationConfig()], 8
        )
    assert error.value.key == "data.augment_on"
    assert "'gpu'" in str(error.value) and "workers" in error.value.allowed


class _RecordsBatches(pl.LightningModule):
    """Trains nothing; checks what training steps receive."""

    def __init__(self, augmented: list) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.augmented = augmented

    def training_step(self, batch, batch_idx):
        views, _, _ = batch
        assert [view.dtype for view in views] == [torch.float32] * 2
        assert self.augmented[-1][:2] == (self.current_epoch, batch_idx)
        return self.weight * views[0].mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_training_steps_get_views_seeded_by_epoch_and_their_batch_index(cifar10_root):
    module = datamodule(root=cifar10_root, batch_size=16)
    augmented = []
    augment = module.augment_batch

    def recording(batch, epoch, batch_idx, rank=0):
        augmented.append((epoch, batch_idx, rank))
        return augment(batch, epoch, batch_idx, rank)

    module.augment_batch = recording
    trainer = pl.Trainer(
        max_epochs=2,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(_RecordsBatches(augmented), datamodule=module)
    assert augmented == [(epoch, batch, 0) for epoch in range(2) for batch in range(4)]
