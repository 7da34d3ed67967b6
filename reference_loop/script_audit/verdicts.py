"""End-of-run verdicts that need the whole run: leakage, overlap, test-set use, and the
checks that `auditor run` adds to the shared guards (TRN403, TRN404).

Each verdict is a pure function of the State after the last forward was settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from auditor.findings import Finding, Severity
from reference_loop.codes import IDENTITY
from reference_loop.locate import Where
from reference_loop.script_audit.frames import stack_where
from reference_loop.guards import make_finding
from reference_loop.script_audit.ledger import EMPTY, FitRecord, Ledger, Source, Use
from reference_loop.script_audit.state import State

E, W = Severity.ERROR, Severity.WARNING
# Codes of RULES.md that only `auditor run` reports at run time (codes.py has the rest).
EXTRA_IDENTITY = {
    "TRN201": ("preprocessor-fit-on-test-data", E),
    "TRN202": ("preprocessor-fit-before-split", E),
    "TRN403": ("missing-zero-grad", E),
    "TRN404": ("scheduler-step-before-optimizer-step", W),
}

MIN_ROWS = 2  # overlaps and leaks smaller than this are natural coincidences
MIN_SHARE = 0.01  # ... or smaller than this share of the evaluated rows (all training rows known)
SAMPLED_SHARE = 0.05  # ... when the training rows are only known from sampled batches
LEAK_SHARE = 0.05
WHOLE = 0.9
OVERSAMPLED = 0.05  # share of an array's rows that are copies: not natural duplicates any more


def finding(code: str, message: str, where: Optional[Where]) -> Finding:
    name, severity = IDENTITY.get(code) or EXTRA_IDENTITY[code]
    path, line = where or ("<unknown>", 1)
    return Finding(code=code, name=name, severity=severity, path=path, line=line, column=1,
                   end_line=line, end_column=1, message=message, source="runtime")


def _at(where: Optional[Where]) -> str:
    return f"{where[0]}:{where[1]}" if where else "an unknown line"


def _source_label(src: Source) -> str:
    return f"{src.label} {_at(src.where)}{src.via}"


def _without(rows: np.ndarray, drop: np.ndarray) -> np.ndarray:
    return rows[~np.isin(rows, drop)] if len(drop) and len(rows) else rows


def _drop_natural(ledger: Ledger, rows: np.ndarray, natural: np.ndarray) -> np.ndarray:
    """Rows that are (or were transformed from) natural duplicates are left out of every count."""
    if not len(natural) or not len(rows):
        return rows
    return rows[~ledger.covered(ledger.lineage(rows), natural)]


def _share(rows: np.ndarray, ref: np.ndarray) -> float:
    return float(np.isin(rows, ref).mean()) if len(rows) and len(ref) else 0.0


# ----------------------------------------------------------------------------- data verdicts

@dataclass
class Generation:
    """One model generation's data: what it trained on and what it only evaluated."""

    model: Any
    train: list
    evals: list  # (Use, its distinct unambiguous rows)
    train_rows: np.ndarray
    sampled: bool  # training rows known only from sampled batches
    all_evals: list = field(default_factory=list)  # every use that only evaluated, re-scored ones too


def _generations(st: State, ambiguous: np.ndarray) -> list[Generation]:
    by_model: dict[int, list[Use]] = {}
    for src in st.ledger.sources.values():
        for use in src.uses.values():
            by_model.setdefault(use.model.serial, []).append(use)
    out = []
    for uses in by_model.values():
        train = [u for u in uses if u.trained]
        repeated = [u.repeated() for u in uses]
        natural = np.unique(np.concatenate([ambiguous, *repeated]))
        train_rows = _drop_natural(st.ledger, np.unique(np.concatenate([u.rows() for u in train] or [EMPTY])),
                                   natural)
        sampled = any(u.source.complete is None for u in train)
        # The data a model trains on, by identity (the dataset object) or as a whole (every row
        # of it, rebuilt: a second TensorDataset of the same array): scoring it again is
        # training accuracy, not an evaluation split. A part of it is not the whole.
        keys = {u.source.data_key for u in train if u.source.data_key is not None}
        keys |= {_whole(u.source) for u in train if u.source.complete is not None}
        # The training draws split in two halves: how often a draw repeats an earlier one.
        halves = [u.halves() for u in train if u.source.complete is None]
        half_a = np.unique(np.concatenate([h[0] for h in halves] or [EMPTY]))
        half_b = _without(np.unique(np.concatenate([h[1] for h in halves] or [EMPTY])), natural)
        redraw = _share(half_b, half_a)
        evals = []
        for u in uses:
            if u.trained or not u.evaluated:
                continue
            if u.source.data_key in keys or (u.source.complete is not None and _whole(u.source) in keys):
                continue  # the very dataset it trains on, scored again (training accuracy)
            rows = _drop_natural(st.ledger, u.rows(), natural)
            if sampled and u.source.complete is None and _like_training(rows, half_a, redraw):
                continue  # drawn like the training batches are: the training data scored again
            evals.append((u, rows))
        all_evals = [u for u in uses if u.evaluated and not u.trained]
        out.append(Generation(uses[0].model, train, evals, train_rows, sampled, all_evals))
    return out


def _whole(src: Source) -> tuple:
    return ("rows", len(src.complete), hash(src.complete.tobytes()))


def _like_training(rows: np.ndarray, half_a: np.ndarray, redraw: float) -> bool:
    """Are these sampled rows found among half of the training draws as often as the other
    half of the training draws is (within two standard deviations)? Then they are draws
    from the training data itself, scored again (estimate_loss() on the "train" split)."""
    n = len(rows)
    if not n or not len(half_a) or redraw <= 0:
        return False
    found = float(np.isin(rows, half_a).sum())
    expected = n * redraw
    return found >= expected - 2.0 * (expected * (1.0 - redraw)) ** 0.5


def data_verdicts(st: State) -> list[Finding]:
    ledger = st.ledger
    findings, crossed = _oversampled_splits(ledger)
    ambiguous = np.unique(np.concatenate([ledger.ambiguous(), crossed]))
    for gen in _generations(st, ambiguous):
        findings += _overlap(gen)
        findings += _window_overlap(gen)
        findings += _leaks(ledger, gen)
        findings += _test_in_loop(st, gen)
    return findings


def _oversampled_splits(ledger: Ledger) -> tuple[list[Finding], np.ndarray]:
    """Rows copied before a split (oversampling, augmentation) land on both sides of it: one
    cause, reported once, at the split; the copies are then left out of every other count."""
    out, crossed = [], []
    for split in ledger.splits:
        if split.dups is None or not len(split.dups) or split.whole < 1:
            continue
        copies = split.copies / split.whole
        if copies < OVERSAMPLED:
            continue
        sides = [np.isin(split.dups, p) for p in split.parts if len(p)]
        both = int((np.sum(sides, axis=0) >= 2).sum()) if sides else 0
        if both < MIN_ROWS:
            continue
        crossed.append(split.dups)
        out.append(finding("TRN207", f"{split.copies} of the {split.whole} rows split here are copies of other rows "
                           f"({copies:.0%}: oversampled or augmented before the split), and {both} of the copied "
                           f"rows landed in more than one part of {split.label}: the held-out part contains training "
                           "rows, so metrics on it measure memory; split first, then oversample the training part "
                           "only", split.where))
    return out, (np.unique(np.concatenate(crossed)) if crossed else EMPTY)


def _overlap(gen: Generation) -> list[Finding]:
    out = []
    floor = SAMPLED_SHARE if gen.sampled else MIN_SHARE
    for use, rows in gen.evals:
        if not len(rows) or not len(gen.train_rows):
            continue
        shared = int(np.isin(rows, gen.train_rows).sum())
        if shared >= MIN_ROWS and shared >= floor * len(rows):
            src = use.source
            known = "sampled training batches" if gen.sampled else "all training rows"
            out.append(finding("TRN207", f"{shared} of {len(rows)} distinct rows ({shared / len(rows):.0%}, measured "
                               f"against {known} of the same model) that reached the model only as evaluation input "
                               f"(from {_source_label(src)}: forward passes whose output never reached backward()) "
                               "were also training inputs: the splits overlap, and metrics on those rows measure "
                               "memory; split once, without overlap", src.where))
    return out


def _window_overlap(gen: Generation) -> list[Finding]:
    """Windows gathered from one tensor are compared by position: an evaluated window that
    starts inside the stretch the training windows were drawn from is training text. An
    evaluation whose windows span that same stretch is the training data scored again."""
    trained: dict = {}
    for use in gen.train:
        for base, (lo, hi, _, _) in use.spans.items():
            old = trained.get(base)
            trained[base] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)
    out: list[Finding] = []
    for use in gen.all_evals:
        for base, (lo, hi, width, starts) in use.spans.items():
            if base not in trained or not starts:
                continue
            t_lo, t_hi = trained[base]
            s = np.concatenate(starts)
            inside = (s >= t_lo) & (s + width <= t_hi)
            shared, total = int(inside.sum()), len(s)
            covers = (min(hi, t_hi) - max(lo, t_lo)) / max(t_hi - t_lo, 1)
            if inside.mean() >= WHOLE and covers >= WHOLE:
                continue  # the same stretch of text: the training split scored again
            if shared >= MIN_ROWS and shared >= MIN_SHARE * total:
                src = use.source
                out.append(finding("TRN207", f"{shared} of {total} evaluated windows ({shared / total:.0%}) start inside "
                                   f"the stretch of the tensor the training windows were drawn from (positions "
                                   f"{t_lo}-{t_hi}; these windows span {lo}-{hi}), from {_source_label(src)}: the "
                                   "evaluation text overlaps the training text, so its loss measures memory; cut the "
                                   "splits at one point", src.where))
    return out


def _split_before(ledger: Ledger, fit: FitRecord) -> bool:
    """Was the data split before this fit, and did the fit mix rows of several parts of it?
    (Then it was fitted on a mixture, TRN201, rather than before the split, TRN202.)"""
    for split in ledger.splits:
        if split.order < fit.order and sum(bool(len(p)) and bool(np.isin(p, fit.hashes).any())
                                           for p in split.parts) >= 2:
            return True
    return False


def _leaks(ledger: Ledger, gen: Generation) -> list[Finding]:
    out: list[Finding] = []
    fits = [f for f in ledger.fits if f.used]
    if not fits or not gen.evals:
        return out
    train_lineage = ledger.lineage(gen.train_rows) if len(gen.train_rows) else None
    eval_lineages = [(use, ledger.lineage(rows)) for use, rows in gen.evals if len(rows)]
    for fit in fits:
        leaked, total, first = 0, 0, None
        for use, lineage in eval_lineages:
            hit = fit.leaked(lineage)
            if hit.sum() >= MIN_ROWS and hit.mean() >= LEAK_SHARE:
                leaked += int(hit.sum())
                total += len(lineage)
                first = first or use.source
        if not leaked or first is None:
            continue
        train_share = float(fit.leaked(train_lineage).mean()) if train_lineage is not None else 0.0
        whole = train_share >= WHOLE and leaked >= WHOLE * total
        evidence = (f"{fit.label} was fitted here on {fit.rows} rows; {leaked} of the {total} distinct rows that later "
                    f"reached the model as evaluation input (from {_source_label(first)}) were among them, "
                    "transformed by this very fit")
        if whole and not _split_before(ledger, fit):
            out.append(finding("TRN202", evidence + f", and so were {train_share:.0%} of the training rows: it was "
                               "fitted on the whole dataset before the split, so evaluation statistics leaked into "
                               "training; split first, then fit on the training split only", fit.where))
        else:
            out.append(finding("TRN201", evidence + ": evaluation data leaked into the preprocessing; fit it on "
                               "the training split only and only transform validation/test data", fit.where))
    return out


def _test_rows(ledger: Ledger, evals: list) -> tuple[np.ndarray, list]:
    """Rows designated test by the splits' behaviour, and split parts known to be test."""
    chunks, parts = [], []
    for split in ledger.splits:
        if len(split.parts) >= 3:
            chunks.append(split.parts[-1])
            parts.append((split, len(split.parts) - 1))
        elif len(split.parts) == 2:
            train_part = split.parts[0]
            # A second held-out set carved from this split's training part (a later split of it,
            # or an evaluated source inside it) makes this split's held-out part the test set.
            carved = any(other is not split and other.order > split.order and len(other.parts[-1])
                         and ledger.covered(ledger.lineage(other.parts[-1]), train_part).mean() >= WHOLE
                         for other in ledger.splits)
            if not carved:
                for use, rows in evals:
                    if len(rows) and ledger.covered(ledger.lineage(rows), train_part).mean() >= WHOLE:
                        carved = True
                        break
            if carved:
                chunks.append(split.parts[1])
                parts.append((split, 1))
    rows = np.unique(np.concatenate(chunks)) if chunks else EMPTY
    return rows, parts


def _test_in_loop(st: State, gen: Generation) -> list[Finding]:
    test_rows, test_parts = _test_rows(st.ledger, gen.evals)
    if not len(test_rows) and not test_parts:
        return []
    out = []
    for use, rows in gen.evals:
        src = use.source
        is_test = src.split_part is not None and any(src.split_part[0] is s and src.split_part[1] == i
                                                     for s, i in test_parts)
        if not is_test and len(rows) and len(test_rows):
            is_test = st.ledger.covered(st.ledger.lineage(rows), test_rows).mean() >= WHOLE
        if not is_test:
            continue
        # Training of *this* model went on after the evaluation (another fold's model does not count).
        during = [s for s in use.eval_steps if s < gen.model.trained_until]
        if not during:
            continue
        where = _loop_frame(st, use) or src.where
        out.append(finding("TRN204", f"the test split (rows held out by {_split_labels(test_parts)}) was evaluated "
                           f"in {len(use.eval_steps)} separate passes, {len(during)} of them while training was "
                           f"still going on (after optimizer step {during[0]} of {gen.model.trained_until}): "
                           "choosing or tuning by test results makes them optimistic; evaluate the test split "
                           "once, after training", where))
    return out


def _split_labels(parts: list) -> str:
    labels = sorted({f"{s.label} at {_at(s.where)}" for s, _ in parts})
    return ", ".join(labels) or "the split"


def _loop_frame(st: State, use: Use) -> Optional[Where]:
    """The line of the test evaluation inside the training loop: the frame of the test
    forward's call chain that runs in the same function as optimizer.step()."""
    step_codes = {info.step_code for info in st.optimizers.all if info.step_code is not None}
    for entry in use.eval_stack:
        if entry[0] in step_codes:
            return stack_where(entry)
    return None


# ----------------------------------------------------------------------------- loop verdicts

def loop_verdicts(st: State) -> list[Finding]:
    out = []
    for info in st.optimizers.all:
        flags = [bool(f) if not isinstance(f, bool) else f for f in info.uncleared]
        if info.steps >= 2 and len(flags) >= 2 and all(flags):
            out.append(finding("TRN403", f"gradients were never cleared: at the first backward() after each of "
                               f"{len(flags)} sampled optimizer steps, the previous step's gradient was still there "
                               "(non-zero, no zero_grad() in between), so every update adds up all earlier "
                               "gradients; call optimizer.zero_grad() once per step", info.where))
    for record in st.schedulers.all:
        info = record["optimizer"]
        if record["before_first_step"] and info is not None and info.attempts > 0:
            out.append(finding("TRN404", f"{record['label']}.step() ran before the optimizer had taken any step "
                               f"(it was called {record['calls']} times, the optimizer stepped {info.attempts} "
                               "times): the first value of the schedule is skipped; call scheduler.step() after "
                               "optimizer.step()", record["where"]))
    return out


def keep_guard_finding(st: State, f: Finding) -> bool:
    """Drop a TRN401 from the shared guards when the windows never drew one batch per backward:
    several losses of one batch (multi-task, GAN) are summed on purpose."""
    if f.code != "TRN401" or not st.batch_seq:
        return True
    return any(info.windows and info.windows_batched * 2 >= info.windows for info in st.optimizers.all)


def _order(indices: list) -> list:
    try:
        return [int(i) for i in indices]
    except (TypeError, ValueError):
        return [repr(i) for i in indices]


def _data_signature(src: Source) -> Any:
    if src.complete is not None:
        return hash(src.complete.tobytes())
    return src.data_key


def shuffled_eval_loaders(st: State) -> list[Finding]:
    """TRN203, judged by the order of the indices an evaluation loader's sampler yielded:
    two passes over the same data in different orders shuffle (custom samplers too; a
    factory that builds a new loader per epoch counts as one loader); with one pass only,
    the sampler's type decides. Loaders freed before the end keep their record."""
    groups: dict = {}
    for info in st.loaders.all:
        src = info.source
        if not info.batches or src.trained or not src.evaluated:
            continue
        groups.setdefault((info.where, info.sampler, _data_signature(src)), []).append(info)
    out = []
    for infos in groups.values():
        info = infos[0]
        orders = [_order(o) for i in infos for o in i.orders if o]
        if len(orders) >= 2:
            n = min(len(o) for o in orders)
            differ = sum(o[:n] != orders[0][:n] for o in orders[1:])
            if not differ:
                continue
            how = (f"{info.sampler} yielded the indices in a different order on {differ + 1} of {len(orders)} "
                   f"observed passes")
        elif info.typed_random:
            how = info.sampler
        else:
            continue
        evaluated = sum(i.source.evaluated for i in infos)
        out.append(make_finding("TRN203", f"the eval DataLoader visits its samples in random order ({how}); "
                                "evaluation batches should be deterministic: use shuffle=False or a sequential "
                                f"sampler (observed: built at {_at(info.where)}{info.source.via}; its batches fed "
                                f"{evaluated} forward passes and none of them reached backward(), so it is an "
                                "evaluation loader)", info.where or ("<unknown>", 1)))
    return out
