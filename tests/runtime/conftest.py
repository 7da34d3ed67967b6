"""Runtime tests share a 2-core machine: one intra-op thread avoids oversubscription stalls."""

try:
    import torch
except ImportError:  # the linter's own Pythons have no torch: each module here skips (importorskip)
    torch = None

if torch is not None:
    torch.set_num_threads(1)
