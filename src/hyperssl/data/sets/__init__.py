"""Data sets, one registered file each (``data=<name>``)."""
