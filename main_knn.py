"""Weighted k-NN evaluation of a pretrained encoder: ``python main_knn.py [key=value ...]``, or
with GCL/solo-learn's flags (``--dataset cifar100 --k 1 10 --temperature 0.2 ...``); the same as
the installed ``hyperssl-knn``."""

from hyperssl.cli.commands import knn

if __name__ == "__main__":
    knn()
