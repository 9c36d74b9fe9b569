"""Module 18's measured speedup table: the same arithmetic, fewer and bigger steps.

    python benchmarks/acceleration.py [--scale 2]

Each row times a slow and a fast version on the same inputs (medians) and checks they agree.
Run with OPENBLAS_NUM_THREADS=1 for figures comparable across machines (the Makefile does).
"""

import argparse

import numpy as np

from tinytorch.perf.acceleration import speedup_table, standard_comparisons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="grow the matmul and GELU sizes")
    args = parser.parse_args()
    print(f"NumPy {np.__version__}; sizes scale {args.scale}")
    print(speedup_table(standard_comparisons(np.random.default_rng(0), scale=args.scale)))


if __name__ == "__main__":
    main()
