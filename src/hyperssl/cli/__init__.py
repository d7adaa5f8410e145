"""Entry-point logic behind main_pretrain.py (and, later, main_linear.py / main_knn.py)."""
