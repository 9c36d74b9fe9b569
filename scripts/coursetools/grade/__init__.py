"""Grading: one submission as Gradescope would, a folder of them in batch (local pool or Dask)."""
