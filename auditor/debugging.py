"""`AUDITOR_DEBUG=1`: let analysis crashes surface instead of degrading quietly.

Users get a degraded answer when part of the analysis fails (a module summary that cannot be
built costs only cross-file knowledge; a fix builder that fails costs only the fix; a rule
that crashes becomes a TRN999 finding). For the people working on the rules, a quiet
degradation hides the bug: with the variable set, these places re-raise with the traceback.
"""

from __future__ import annotations

import os


def debugging() -> bool:
    """Whether analysis failures should raise rather than degrade."""
    return bool(os.environ.get("AUDITOR_DEBUG"))
