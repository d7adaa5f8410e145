"""The entry points' Hydra configs (``pretrain.yaml``, ``linear.yaml``, ``knn.yaml`` and their
preset groups), shipped inside the package so that the console commands find them without a
checkout; Hydra reads them as ``pkg://hyperssl.configs``. The checkout's top-level ``configs``
links here."""
