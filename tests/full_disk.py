"""An entry point whose every ``torch.save`` writes to /dev/full, where each write fails with
ENOSPC: a full disk for the checkpoints and caches a run saves, and nothing else."""

from pathlib import Path

FULL_DISK_AVAILABLE = Path("/dev/full").exists()

_ENTRY = '''"""{script}, with every torch.save writing to /dev/full (ENOSPC)."""
import runpy
import sys

import torch

original = torch.save


def save_to_full_disk(obj, file, *args, **kwargs):
    with open("/dev/full", "wb") as full:
        original(obj, full, *args, **kwargs)


torch.save = save_to_full_disk
sys.argv[0] = "{script}"
runpy.run_path("{script}", run_name="__main__")
'''


def on_a_full_disk(script: Path, folder: Path) -> Path:
    """A script in ``folder`` that runs ``script`` with torch.save sent to /dev/full."""
    wrapper = folder / f"{script.stem}_on_full_disk.py"
    wrapper.write_text(_ENTRY.format(script=script))
    return wrapper
