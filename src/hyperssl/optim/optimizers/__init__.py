"""Optimizers, one file each, registered in :data:`hyperssl.optim.OPTIMIZERS`."""
