"""The SLURM launcher presets ask SLURM for what the trainer will run: one task per Lightning
process, trainer.devices per node on trainer.num_nodes nodes, GPUs only with slurm_gpu. Composed
without a cluster (tests/slurm/test_local_cluster.py submits them)."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from hyperssl.cli.compose import CONFIGS
from hyperssl.config import register_configs

SBATCH_KEYS = (
    "nodes",
    "tasks_per_node",
    "gpus_per_node",
    "cpus_per_task",
    "cpus_per_gpu",
    "mem_gb",
    "mem_per_gpu",
)


def launcher(config_name: str, overrides: list[str]) -> dict[str, object]:
    """The sbatch-facing keys of ``hydra.launcher``, resolved against the composed config."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg: DictConfig = compose(config_name, overrides, return_hydra_config=True)
    return {key: cfg.hydra.launcher[key] for key in SBATCH_KEYS}


def test_cpu_preset_asks_for_no_gpu_and_one_small_task_per_trainer_process():
    assert launcher("pretrain", ["hydra/launcher=slurm", "trainer=cpu"]) == {
        "nodes": 1,
        "tasks_per_node": 1,
        "gpus_per_node": None,
        "cpus_per_task": 1,
        "cpus_per_gpu": None,
        "mem_gb": 4,
        "mem_per_gpu": None,
    }


def test_cpu_preset_follows_trainer_devices_and_num_nodes():
    overrides = ["hydra/launcher=slurm", "trainer=cpu", "trainer.devices=2", "trainer.num_nodes=3"]
    settings = launcher("pretrain", overrides)
    assert (settings["nodes"], settings["tasks_per_node"]) == (3, 2)


def test_gpu_preset_asks_for_one_gpu_per_task_and_resources_per_gpu():
    overrides = ["hydra/launcher=slurm_gpu", "trainer=ddp", "trainer.devices=8"]
    overrides.append("trainer.num_nodes=4")
    assert launcher("pretrain", overrides) == {
        "nodes": 4,
        "tasks_per_node": 8,
        "gpus_per_node": 8,
        "cpus_per_task": None,
        "cpus_per_gpu": 10,
        "mem_gb": None,
        "mem_per_gpu": "50G",
    }


@pytest.mark.parametrize("preset,gpus", [("slurm", None), ("slurm_gpu", 1)])
def test_knn_entry_point_without_a_trainer_gets_one_task_on_one_node(preset, gpus):
    settings = launcher("knn", [f"hydra/launcher={preset}"])
    assert (settings["nodes"], settings["tasks_per_node"], settings["gpus_per_node"]) == (
        1,
        1,
        gpus,
    )
