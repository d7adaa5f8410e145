"""Linear evaluation of a pretrained backbone: ``python main_linear.py [key=value ...]``, the same
as the installed ``hyperssl-linear``."""

from hyperssl.cli.commands import linear

if __name__ == "__main__":
    linear()
