"""main_linear.py and main_knn.py load the checkpoint before they can check the data; when the data
is refused, the error is still the only line (what loading logged is dropped with it)."""

import pytest
from hydra_runs import run_entry_cases


@pytest.mark.parametrize("script", ["main_linear.py", "main_knn.py"])
def test_refused_data_after_the_checkpoint_loaded_is_the_only_line(
    script, pretrained_run, tmp_path
):
    arguments = [
        f"pretrained_feature_extractor={pretrained_run}",
        "data=cifar10",
        f"data.train_path={tmp_path / 'nowhere'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    result = run_entry_cases(script, {"missing_data": arguments})["missing_data"]
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: data.train_path: "), lines
    assert result.stdout.strip() == ""  # where Hydra's console handler writes the logs
