"""DataLoaders and torch's random_split: where batches come from, and which rows they hold.

A DataLoader is remembered where it was built (the user's line), with whether it
shuffles and, when its dataset is a TensorDataset (or a Subset of one), the fingerprints
of all its rows. Each batch it yields marks it as the current source, so the next
forward pass of a model knows which loader fed it.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from reference_loop.guards import is_shuffled
from reference_loop.script_audit.frames import stack_where, user_stack, user_where
from reference_loop.script_audit.patching import Patches
from reference_loop.script_audit.rows import fingerprint
from reference_loop.script_audit.state import LoaderInfo, State

ORDER_PREFIX = 256  # indices kept per pass over a loader


def dataset_rows(dataset: Any) -> Optional[np.ndarray]:
    """Fingerprints of every input row of a TensorDataset or a Subset of one (else None)."""
    if isinstance(dataset, TensorDataset) and dataset.tensors:
        return fingerprint(dataset.tensors[0])
    if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset) and dataset.dataset.tensors:
        X = dataset.dataset.tensors[0]
        if X.device.type != "cpu":
            return None
        return fingerprint(X[torch.as_tensor(list(dataset.indices), dtype=torch.long)])
    return None


def install(st: State, patches: Patches) -> None:
    ledger = st.ledger
    from torch.utils.data import dataloader as dl_module

    original_init = DataLoader.__init__

    @functools.wraps(original_init)
    def init(self: DataLoader, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not st.active or st.loaders.get(self) is not None:
            return
        try:
            _register(self)
        except Exception:  # never break the user's script over bookkeeping
            pass

    def _register(loader: DataLoader) -> None:
        chain = []
        for entry in user_stack(3, 4):
            w = stack_where(entry)
            if w not in chain:  # a comprehension is a frame of its own, on the same line
                chain.append(w)
        where = chain[0] if chain else None
        serial = st.serial()
        src = ledger.source(("loader", serial), "the DataLoader built at", where)
        src.via = "".join(f", called from {w[0]}:{w[1]}" for w in chain[1:2])
        if len(chain) > 1 and where is not None:
            st.callers.setdefault(where, chain[1])
        dataset = loader.dataset
        rows = dataset_rows(dataset)
        if rows is not None:
            ledger.note_full(rows)
            src.complete = np.unique(rows)
        if _weakrefable(dataset):
            src.data_key = ("dataset", st.tensor_serial(dataset))
            part = st.subset_parts.get(dataset)
            if part is not None:
                src.split_part = part
        sampler = getattr(loader, "batch_sampler", None)
        inner = getattr(sampler, "sampler", None)
        ordering = inner if inner is not None else (sampler if sampler is not None else loader.sampler)
        st.loaders.add(loader, LoaderInfo(serial, where, type(ordering).__name__, is_shuffled(loader), src))

    original_iter_init = dl_module._BaseDataLoaderIter.__init__

    @functools.wraps(original_iter_init)
    def iter_init(self: Any, loader: Any, *args: Any, **kwargs: Any) -> None:
        original_iter_init(self, loader, *args, **kwargs)
        info = st.loaders.get(loader) if st.active else None
        self._auditor_info = info
        self._auditor_order = info.new_pass() if info is not None else None

    original_next = dl_module._BaseDataLoaderIter.__next__

    @functools.wraps(original_next)
    def next_batch(self: Any) -> Any:
        data = original_next(self)
        if st.active:
            st.batch_seq += 1
            st.current_loader = getattr(self, "_auditor_info", None)
        return data

    # Shuffling is judged by the order of the indices the sampler yields (custom samplers
    # included): the first ORDER_PREFIX indices of each pass are kept.
    original_next_index = dl_module._BaseDataLoaderIter._next_index

    @functools.wraps(original_next_index)
    def next_index(self: Any) -> Any:
        index = original_next_index(self)
        order = getattr(self, "_auditor_order", None)
        if order is not None:
            if isinstance(index, (list, tuple)):
                order.extend(index[:ORDER_PREFIX])
            else:
                order.append(index)
            if len(order) >= ORDER_PREFIX:
                self._auditor_order = None
        return index

    patches.replace(DataLoader, "__init__", init)
    patches.replace(dl_module._BaseDataLoaderIter, "__init__", iter_init)
    patches.replace(dl_module._BaseDataLoaderIter, "__next__", next_batch)
    patches.replace(dl_module._BaseDataLoaderIter, "_next_index", next_index)
    _install_random_split(st, patches)
    _install_stack(st, patches)


def _install_stack(st: State, patches: Patches) -> None:
    """`torch.stack([data[i:i + T] for i in ix])` (nanoGPT's get_batch, rows picked from a
    matrix): remember which tensor the rows are views of and where they start, so that the
    batch's rows are identified by position, not by content (repetitive text repeats windows)."""
    original = torch.stack

    @functools.wraps(original)
    def stack(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(tensors, *args, **kwargs)
        along_rows = args in ((), (0,)) and (not kwargs or kwargs == {"dim": 0})
        if st.active and along_rows and type(tensors) in (list, tuple) and len(tensors) >= 2:
            try:
                first, last = tensors[0], tensors[-1]
                base = getattr(first, "_base", None)
                if base is not None and getattr(last, "_base", None) is base and first.dim() == 1:
                    if len(st.gathered) > 64:
                        st.gathered.clear()
                    offsets = np.fromiter((t.storage_offset() for t in tensors), dtype=np.int64, count=len(tensors))
                    st.gathered[id(result)] = (weakref.ref(result), st.tensor_serial(base), offsets, first.numel())
            except Exception:
                pass
        return result

    patches.replace(torch, "stack", stack)


def _weakrefable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False


def _install_random_split(st: State, patches: Patches) -> None:
    import torch.utils.data as data_pkg
    from torch.utils.data import dataset as dataset_module

    original = dataset_module.random_split

    @functools.wraps(original)
    def random_split(dataset: Any, lengths: Any, *args: Any, **kwargs: Any) -> Any:
        parts = original(dataset, lengths, *args, **kwargs)
        if st.active:
            try:
                hashes = [dataset_rows(p) for p in parts]
                record = st.ledger.split("random_split", user_where(3),
                                         [h if h is not None else np.zeros(0, np.uint64) for h in hashes],
                                         whole=dataset_rows(dataset))
                for i, p in enumerate(parts):
                    if _weakrefable(p):
                        st.subset_parts[p] = (record, i)
            except Exception:
                pass
        return parts

    patches.replace(dataset_module, "random_split", random_split)
    patches.replace(data_pkg, "random_split", random_split)
