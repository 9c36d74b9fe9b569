"""Trusted tests, untrusted code, separate processes (docs/DESIGN.md section 11).

In the grader, the pytest process that runs the tests, holds the expected values and decides
pass or fail never imports the submission. ``import tinytorch...`` in a test returns proxies
(``proxy``); the student's code runs in a sandboxed ``server`` process and answers through a
by-value protocol (``wire`` frames of ``codec`` values). Nothing the server sends is unpickled or
evaluated: it is data of a fixed set of types, or an opaque handle to an object that stays on the
student side. ``connection`` is the trusted end; ``pytest_plugin`` wires it into a pytest run.

Pure standard library plus NumPy and msgpack; Python 3.10 syntax (Gradescope's image).
"""
