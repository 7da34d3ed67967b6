"""Buggy/fixed twins in the styles users write (issue 20): each planted bug found once, at the
user's line, with its evidence; nothing of error severity on the fixed twin."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch", reason="auditor run needs torch (the runtime extra)")

from tests.script_audit.parallel import SCRIPTS, line_of, run_many

# pair -> (code, file the finding points at (None: the bug script), text on that line, evidence)
PAIRS = {
    # cause 2: rows and fits per model generation; the real leak is the pipeline fitted before the folds
    "kfold_pipeline": ("TRN202", None, "features.fit_transform(X)", r"45 of the 45 .* 100% of the training"),
    # cause 3: `scaler.scale(loss * WEIGHT)` measured at the call, under bf16 autocast
    "amp_accumulation": ("TRN401", None, "scaler.step(opt)", r"accumulated 4 backward calls"),
    # cause 8: GradScaler steps counted once (3 epochs x 9 batches), helper names its caller
    "scheduler_partial": ("TRN404", None, 'state["scheduler"].step()',
                          r"called 3 times, the optimizer stepped 27 times\).*called from pair_scheduler_partial_bug"),
    # causes 1 and 7: a custom sampler's order, loaders freed after each epoch
    "trainer_custom_sampler": ("TRN203", None, "DataLoader(", r"InterleavedSampler yielded the indices in a "
                               r"different order on 3 of 3 .*called from tiny_trainer.py:42"),
    # causes 4 and 6: estimate_loss() scores two splits from one line; a hand-written loss turns NaN
    "char_lm": ("TRN407", None, "loss.backward()", r"reached backward\(\) became nan"),
    # TRN204 through a helper module: the line in the training loop
    "random_split_test": ("TRN204", None, "report(model, monitors, epoch)", r"3 separate passes, 2 of them"),
    # one cause, one finding: oversampling before the split, at the split
    "oversample": ("TRN207", None, "train_test_split(", r"copies of other rows .* landed in more than one part"),
    # cause 1: a new optimizer per trial (ids reused), each judged on its own
    "trials": ("TRN403", None, "opt.step()", r"sampled optimizer steps.*called from pair_trials_bug.py:27"),
    # cause 8: a finding in a helper module names the user's calling line
    "helper_loss": ("TRN301", "zoo.py", "criterion(model(x), y)", r"called from pair_helper_loss_bug.py:21"),
    # cause 5: no "training set re-scored" shortcut: the share is measured
    "val_inside_train": ("TRN207", None, "DataLoader(val_ds", r"300 of 300 distinct rows \(100%"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    jobs = {f"{pair}_{twin}": [f"pair_{pair}_{twin}.py"] for pair in PAIRS for twin in ("bug", "fixed")}
    return run_many(jobs, out)


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_planted_bug_is_found_once_at_the_users_line(results, pair):
    code, file, text, evidence = PAIRS[pair]
    res = results[f"{pair}_bug"]
    assert res.returncode == 0, res.stderr
    assert res.report is not None, res.stderr
    findings = res.report["findings"]
    assert [f["code"] for f in findings] == [code], findings
    f = findings[0]
    assert f["path"] == (file or f"pair_{pair}_bug.py")
    assert text in line_of(SCRIPTS / f["path"], f["line"]), (f["line"], f["message"])
    assert re.search(evidence, f["message"]), f["message"]


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_fixed_twin_is_clean(results, pair):
    res = results[f"{pair}_fixed"]
    assert res.returncode == 0, res.stderr
    assert res.report is not None, res.stderr
    assert res.report["findings"] == [], res.report["findings"]
