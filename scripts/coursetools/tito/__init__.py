"""``tito``: the student command line of the TinyTorch course.

One file per command group (``module``, ``milestone``, ``system``, ``data``, ``grade``,
``benchmark``), a thin argparse front in ``main.py`` and ``output.py`` for rich, plain or JSON
output. It runs in the course repository (reading ``reference/course.toml``) and in every
student repository (reading the manifest slice ``.tito/course.json`` that the release wrote).
"""



def main(argv: list[str] | None = None) -> int:
    """The ``tito`` console script."""
    from coursetools.tito.main import main as run

    return run(argv)
