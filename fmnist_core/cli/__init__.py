"""The command line, python -m fmnist_core: one module per group of commands."""
