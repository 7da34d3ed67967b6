"""End-of-run verdicts that need the whole run: leakage, overlap, test-set use, and the
checks that `auditor run` adds to the shared guards (TRN403, TRN404).

Each verdict is a pure function of the State after the last forward was settled.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from auditor.findings import Finding, Severity
from reference_loop.codes import IDENTITY
from reference_loop.locate import Where
from reference_loop.script_audit.frames import stack_where
from reference_loop.script_audit.ledger import EMPTY, FitRecord, Ledger, Source
from reference_loop.script_audit.state import State

E, W = Severity.ERROR, Severity.WARNING
# Codes of RULES.md that only `auditor run` reports at run time (codes.py has the rest).
EXTRA_IDENTITY = {
    "TRN201": ("preprocessor-fit-on-test-data", E),
    "TRN202": ("preprocessor-fit-before-split", E),
    "TRN403": ("missing-zero-grad", E),
    "TRN404": ("scheduler-step-before-optimizer-step", W),
}

TRAIN_REUSE = 0.8  # an "evaluation" source this much inside the training rows is the training set itself
MIN_ROWS = 2  # overlaps and leaks smaller than this are natural coincidences
MIN_SHARE = 0.01
LEAK_SHARE = 0.05
WHOLE = 0.9


def finding(code: str, message: str, where: Optional[Where]) -> Finding:
    name, severity = IDENTITY.get(code) or EXTRA_IDENTITY[code]
    path, line = where or ("<unknown>", 1)
    return Finding(code=code, name=name, severity=severity, path=path, line=line, column=1,
                   end_line=line, end_column=1, message=message, source="runtime")


def _at(where: Optional[Where]) -> str:
    return f"{where[0]}:{where[1]}" if where else "an unknown line"


def _source_label(src: Source) -> str:
    return f"{src.label} {_at(src.where)}{src.via}"


# ----------------------------------------------------------------------------- data verdicts

def _eval_sources(st: State, train_rows: np.ndarray, ambiguous: np.ndarray) -> list[tuple[Source, np.ndarray]]:
    """Sources that only ever fed evaluation, with their (unambiguous) rows; not re-evaluated training data."""
    out = []
    for src in st.ledger.sources.values():
        if src.trained or not src.evaluated:
            continue
        rows = src.rows()
        if len(ambiguous):
            rows = rows[~np.isin(rows, ambiguous)]
        if len(rows) and len(train_rows) and np.isin(rows, train_rows).mean() >= TRAIN_REUSE:
            continue  # e.g. accuracy measured on the training loader
        out.append((src, rows))
    return out


def data_verdicts(st: State) -> list[Finding]:
    ledger = st.ledger
    ambiguous = ledger.ambiguous()
    train_sources = [s for s in ledger.sources.values() if s.trained]
    chunks = [s.rows() for s in train_sources]
    train_rows = np.unique(np.concatenate(chunks)) if chunks else EMPTY
    if len(ambiguous):
        train_rows = train_rows[~np.isin(train_rows, ambiguous)]
    evals = _eval_sources(st, train_rows, ambiguous)
    findings: list[Finding] = []
    findings += _overlap(evals, train_rows)
    findings += _leaks(ledger, evals, train_rows)
    findings += _test_in_loop(st, evals)
    return findings


def _overlap(evals: list, train_rows: np.ndarray) -> list[Finding]:
    out = []
    for src, rows in evals:
        if not len(rows) or not len(train_rows):
            continue
        shared = int(np.isin(rows, train_rows).sum())
        if shared >= MIN_ROWS and shared >= MIN_SHARE * len(rows):
            out.append(finding("TRN207", f"{shared} of {len(rows)} distinct rows that reached the model only as "
                               f"evaluation input (from {_source_label(src)}: forward passes whose output never "
                               "reached backward()) were also training inputs: the splits overlap, and metrics on "
                               "those rows measure memory; split once, without overlap", src.where))
    return out


def _split_before(ledger: Ledger, fit: FitRecord) -> bool:
    """Was the data split before this fit, and did the fit mix rows of several parts of it?
    (Then it was fitted on a mixture, TRN201, rather than before the split, TRN202.)"""
    for split in ledger.splits:
        if split.order < fit.order and sum(bool(len(p)) and bool(np.isin(p, fit.hashes).any())
                                           for p in split.parts) >= 2:
            return True
    return False


def _leaks(ledger: Ledger, evals: list, train_rows: np.ndarray) -> list[Finding]:
    out = []
    fits = [f for f in ledger.fits.values() if f.used]
    if not fits or not evals:
        return out
    train_lineage = ledger.lineage(train_rows) if len(train_rows) else None
    for fit in fits:
        leaked, total, first = 0, 0, None
        for src, rows in evals:
            if not len(rows):
                continue
            hit = ledger.covered(ledger.lineage(rows), fit.hashes)
            if hit.sum() >= MIN_ROWS and hit.mean() >= LEAK_SHARE:
                leaked += int(hit.sum())
                total += len(rows)
                first = first or src
        if not leaked or first is None:
            continue
        train_share = float(ledger.covered(train_lineage, fit.hashes).mean()) if train_lineage is not None else 0.0
        whole = train_share >= WHOLE and leaked >= WHOLE * total
        evidence = (f"{fit.label} was fitted here on {fit.rows} rows; {leaked} of the {total} distinct rows that later "
                    f"reached the model as evaluation input (from {_source_label(first)}) were among them")
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
                for src, rows in evals:
                    if len(rows) and ledger.covered(ledger.lineage(rows), train_part).mean() >= WHOLE:
                        carved = True
                        break
            if carved:
                chunks.append(split.parts[1])
                parts.append((split, 1))
    rows = np.unique(np.concatenate(chunks)) if chunks else EMPTY
    return rows, parts


def _test_in_loop(st: State, evals: list) -> list[Finding]:
    test_rows, test_parts = _test_rows(st.ledger, evals)
    if not len(test_rows) and not test_parts:
        return []
    out = []
    for src, rows in evals:
        is_test = src.split_part is not None and any(src.split_part[0] is s and src.split_part[1] == i
                                                     for s, i in test_parts)
        if not is_test and len(rows) and len(test_rows):
            is_test = st.ledger.covered(st.ledger.lineage(rows), test_rows).mean() >= WHOLE
        if not is_test:
            continue
        during = [s for s in src.eval_steps if s < st.steps]
        if not during:
            continue
        where = _loop_frame(st, src) or src.where
        out.append(finding("TRN204", f"the test split (rows held out by {_split_labels(test_parts)}) was evaluated "
                           f"in {len(src.eval_steps)} separate passes, {len(during)} of them while training was "
                           f"still going on (after optimizer step {during[0]} of {st.steps}): choosing or tuning by "
                           "test results makes them optimistic; evaluate the test split once, after training",
                           where))
    return out


def _split_labels(parts: list) -> str:
    labels = sorted({f"{s.label} at {_at(s.where)}" for s, _ in parts})
    return ", ".join(labels) or "the split"


def _loop_frame(st: State, src: Source) -> Optional[Where]:
    """The line of the test evaluation inside the training loop: the frame of the test
    forward's call chain that runs in the same function as optimizer.step()."""
    step_codes = {info.step_code for info in st.optimizers.values() if info.step_code is not None}
    for entry in src.eval_stack:
        if entry[0] in step_codes:
            return stack_where(entry)
    return None


# ----------------------------------------------------------------------------- loop verdicts

def loop_verdicts(st: State) -> list[Finding]:
    out = []
    for info in st.optimizers.values():
        flags = [bool(f) if not isinstance(f, bool) else f for f in info.uncleared]
        if info.steps >= 2 and len(flags) >= 2 and all(flags):
            out.append(finding("TRN403", f"gradients were never cleared: at the first backward() after each of "
                               f"{len(flags)} sampled optimizer steps, the previous step's gradient was still there "
                               "(non-zero, no zero_grad() in between), so every update adds up all earlier "
                               "gradients; call optimizer.zero_grad() once per step", info.where))
    for record in st.schedulers.values():
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
    return any(info.windows and info.windows_batched * 2 >= info.windows for info in st.optimizers.values())


def loader_events(st: State) -> dict:
    """Feed the shared guards with the loaders that only fed evaluation (TRN203); return the
    evidence per location, to be added to the guards' message."""
    evidence = {}
    for info in st.loaders.values():
        src = info.source
        if info.batches and not src.trained and src.evaluated and info.shuffled:
            loader: Any = info.ref()
            if loader is not None:
                st.guards.on_loader(loader, "eval", info.where)
                evidence[info.where] = (f" (observed: built at {_at(info.where)}{src.via}; its batches fed "
                                        f"{src.evaluated} forward passes and none of them reached backward(), so "
                                        "it is an evaluation loader)")
    return evidence


def add_evidence(findings: list, evidence: dict) -> None:
    for f in findings:
        extra = evidence.get((f.path, f.line)) if f.code == "TRN203" else None
        if extra:
            f.message = f.message.rstrip(".") + extra
