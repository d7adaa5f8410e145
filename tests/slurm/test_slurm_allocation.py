"""Inside a SLURM job (its environment variables, without a cluster): the trainer must run one
Lightning process per task, and Lightning's own SLURM requeue stays off."""

import pytest
from lightning_fabric.plugins.environments import SLURMEnvironment
from omegaconf import OmegaConf

from hyperssl import ConfigError
from hyperssl.cli.trainer import check_slurm_allocation, cluster_plugins


@pytest.fixture
def slurm_job(monkeypatch):
    """A batch job's variables, the way srun sets them for each task."""

    def tasks(ntasks: int, nodes: int) -> None:
        monkeypatch.setenv("SLURM_NTASKS", str(ntasks))
        monkeypatch.setenv("SLURM_JOB_NUM_NODES", str(nodes))
        monkeypatch.setenv("SLURM_JOB_NAME", "main_pretrain")
        monkeypatch.setenv("SLURM_NODELIST", "n1")

    return tasks


def trainer(devices: object = 1, num_nodes: int = 1):
    return OmegaConf.create({"devices": devices, "num_nodes": num_nodes})


def test_outside_slurm_nothing_is_checked_and_no_plugin_added(monkeypatch):
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    check_slurm_allocation(trainer(devices=8, num_nodes=4))
    assert cluster_plugins() == []


@pytest.mark.parametrize(("ntasks", "nodes", "devices", "num_nodes"), [(1, 1, 1, 1), (8, 2, 4, 2)])
def test_one_task_per_process_on_every_node_passes(slurm_job, ntasks, nodes, devices, num_nodes):
    slurm_job(ntasks, nodes)
    check_slurm_allocation(trainer(devices, num_nodes))


def test_two_tasks_for_one_process_name_the_count_of_tasks(slurm_job):
    slurm_job(2, 1)
    with pytest.raises(ConfigError) as error:
        check_slurm_allocation(trainer(devices=1))
    assert str(error.value) == (
        "trainer.devices: got 1; allowed: 2 (this job's tasks per node, "
        "hydra.launcher.tasks_per_node)"
    )


def test_every_gpu_is_no_count_under_slurm(slurm_job):
    slurm_job(4, 1)
    with pytest.raises(ConfigError, match=r"^trainer.devices: got -1; allowed: a count"):
        check_slurm_allocation(trainer(devices=-1))


def test_nodes_must_match_the_jobs(slurm_job):
    slurm_job(2, 2)
    with pytest.raises(ConfigError, match=r"^trainer.num_nodes: got 1; allowed: 2, the nodes"):
        check_slurm_allocation(trainer(devices=1, num_nodes=1))


def test_in_a_job_lightnings_slurm_environment_is_used_without_its_auto_requeue(slurm_job):
    slurm_job(1, 1)
    (plugin,) = cluster_plugins()
    assert isinstance(plugin, SLURMEnvironment)
    assert not plugin.auto_requeue


def test_an_interactive_allocation_is_no_job_to_check(slurm_job, monkeypatch):
    """``srun --job-name=interactive``: Lightning does not treat it as a SLURM job either."""
    slurm_job(2, 1)
    monkeypatch.setenv("SLURM_JOB_NAME", "interactive")
    check_slurm_allocation(trainer(devices=1))
    assert cluster_plugins() == []


def test_outside_a_job_nothing_is_printed_where_srun_exists(monkeypatch, recwarn):
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    check_slurm_allocation(trainer())
    cluster_plugins()
    assert [str(warning.message) for warning in recwarn] == []


def test_outside_a_job_the_trainer_prints_no_srun_hint_where_srun_exists(
    monkeypatch, recwarn, tmp_path
):
    from hyperssl.cli.compose import compose_config
    from hyperssl.cli.trainer import build_trainer

    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    cfg = compose_config("pretrain", ["trainer=cpu"])
    build_trainer(cfg, tmp_path, has_validation=False)
    # fit() asks again, when it looks for a checkpoint to start from.
    assert not SLURMEnvironment.detect()
    assert not [w for w in recwarn if "srun" in str(w.message)]
