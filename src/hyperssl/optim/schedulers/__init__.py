"""Learning-rate schedules, one file each, registered in :data:`hyperssl.optim.SCHEDULERS`."""
