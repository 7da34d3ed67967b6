"""Click commands that live outside cli.py because they belong to the runtime half.

Each module imports only click at import time; torch and scikit-learn are imported
inside the command body so that `auditor check` never pays for them.
"""
