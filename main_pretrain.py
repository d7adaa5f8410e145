"""Pretrain an encoder: ``python main_pretrain.py [group=option ...] [key=value ...]``, the same
as the installed ``hyperssl-pretrain``."""

from hyperssl.cli.commands import pretrain

if __name__ == "__main__":
    pretrain()
