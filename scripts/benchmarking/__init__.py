"""The parts of ``scripts/benchmark.py`` and ``scripts/gpu_check.py``: one module per section,
plus measuring and reporting.

measure.py     timing, peak memory, the environment
framework.py   the real config, method and ``pl.Trainer.fit`` on pre-made batches
bare.py        the same training step as a plain PyTorch loop
steps.py       one step on both sides, framework and bare
evaluation.py  k-NN, linear probe and feature extraction speed
augmentation.py  views/second of the augmentation pipelines
folder_data.py   views/second of a folder of JPEGs through the data module
cuda_tests.py  the test suite's CUDA tests, counted
report.py      the tables printed on stdout
"""
