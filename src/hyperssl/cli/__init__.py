"""Entry-point logic behind main_pretrain.py, main_linear.py and main_knn.py."""
