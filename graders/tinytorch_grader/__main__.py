"""``python -m tinytorch_grader [--autograder-dir DIR]``: grade one submission."""

import argparse

from tinytorch_grader.run import main

parser = argparse.ArgumentParser(prog="python -m tinytorch_grader", description=__doc__)
parser.add_argument("--autograder-dir", default="/autograder", help="holds source/, submission/, results/")
main(autograder_dir=parser.parse_args().autograder_dir)
