"""Build hook for the one optional C accelerator; everything else is in pyproject.toml.

`auditor._nodebuild` builds libcst nodes in C while auditor parses (auditor/node_build.py).
It is optional: without a C compiler or Python's headers the build skips it and auditor
runs the same, about a twentieth slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("auditor._nodebuild", ["auditor/_nodebuild.c"], optional=True)])
