"""Gradient-trained backends (PyTorch, MLX). Importing a submodule imports its framework; this package
itself imports nothing heavy."""
