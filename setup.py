"""Build hook for the one optional C accelerator; everything else is in pyproject.toml.

`auditor.speed._speedups` runs inner loops of a check in C (auditor/speed/speedups.py). It is
optional: without a C compiler or Python's headers the build skips it and auditor runs
the same, only slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("auditor.speed._speedups", ["auditor/speed/_speedups.c"], optional=True)])
