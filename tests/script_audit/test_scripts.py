"""Real scripts through `auditor run`: each bug found through indirection, correct styles silent."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch", reason="auditor run needs torch (the runtime extra)")

from tests.script_audit.parallel import SCRIPTS, line_of, run_many

# script -> (code, file the finding points at, text on that line, evidence the message must show)
BUGS = {
    "bug_trn101_callback_eval_in_train_mode": ("TRN101", None, "model(xb).argmax(1)", r"24 of 24 evaluation"),
    "bug_trn102_eval_with_autograd": ("TRN102", None, "f(X)", r"3 of 3 evaluation"),
    "bug_trn103_trainer_never_back_to_train": ("TRN103", None, "self.loss(self.model(xb), yb).backward()",
                                               r"eval mode during \d+ of \d+ training"),
    "bug_trn201_scaler_fitted_on_holdout": ("TRN201", None, "StandardScaler().fit(reference)",
                                            r"fitted here on 540 rows; 540 of the 540"),
    "bug_trn202_scaled_before_split": ("TRN202", None, "make_pipeline(", r"360 of the 360 .* 100% of the training"),
    "bug_trn203_factory_shuffles_val": ("TRN203", "datasets_helper.py", "DataLoader(",
                                        r"RandomSampler.*called from bug_trn203_factory_shuffles_val.py:12"),
    "bug_trn204_test_split_each_epoch": ("TRN204", None, "report(model, epoch)",
                                         r"random_split .* 3 separate passes, 2 of them while training"),
    "bug_trn207_overlapping_split": ("TRN207", "datasets_helper.py", "DataLoader(", r"\b60 of 360 distinct rows"),
    # windows of one text tensor, compared by position (repeated words are not an overlap)
    "bug_trn207_char_lm_val_inside_train_text": ("TRN207", None, "_, loss = model(X, Y)",
                                                 r"evaluated windows \(7\d%\) start inside the stretch"),
    "bug_trn301_softmax_in_layer_list": ("TRN301", None, "criterion(model(xb), yb)",
                                         r"sum to 1 \(max deviation [0-9.e-]+\) in \d+ of \d+ sampled batches"),
    "bug_trn302_sigmoid_into_bce_logits": ("TRN302", None, "criterion(model(xb), yb)",
                                           r"lies in \[0\.\d+, 0\.\d+\] over \d+ sampled batches"),
    "bug_trn401_unscaled_accumulation": ("TRN401", None, "opt.step()", r"accumulated 4 backward calls"),
    "bug_trn402_zero_grad_each_micro_batch": ("TRN402", None, "opt.zero_grad()", r"4 backward calls, gradients cleared 3"),
    "bug_trn403_gradients_never_cleared": ("TRN403", None, "opt.step()", r"each of \d+ sampled optimizer steps"),
    "bug_trn404_scheduler_first": ("TRN404", None, "fn()", r"called 3 times, the optimizer stepped 87 times"),
    "bug_trn407_nan_in_features": ("TRN407", None, "criterion(model(xb).squeeze(1), yb)", r"became nan"),
    "bug_trn408_unused_parameters": ("TRN408", None, "opt.step()", r"heads\.parity\.weight, heads\.parity\.bias"),
}
CLEAN = ["clean_plain_loop", "clean_trainer_class", "clean_phase_loop", "clean_callbacks", "clean_accumulation",
         "clean_gan_two_optimizers"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return run_many({name: [f"{name}.py"] for name in [*BUGS, *CLEAN]}, out)


@pytest.mark.parametrize("script", sorted(BUGS))
def test_bug_is_found_at_the_users_line(results, script):
    code, file, text, evidence = BUGS[script]
    res = results[script]
    assert res.returncode == 0, res.stderr
    assert res.report is not None, res.stderr
    findings = res.report["findings"]
    # The bug, and nothing else: a false alarm next to it would be as bad as a miss.
    assert [f["code"] for f in findings] == [code], findings
    f = findings[0]
    assert f["source"] == "runtime"
    assert f["path"] == (file or f"{script}.py")
    assert text in line_of(SCRIPTS / f["path"], f["line"]), (f["line"], f["message"])
    assert re.search(evidence, f["message"]), f["message"]
    # The script's own output passed through untouched; the report went to the file.
    assert "Found" not in res.stderr


@pytest.mark.parametrize("script", CLEAN)
def test_correct_script_has_no_findings(results, script):
    res = results[script]
    assert res.returncode == 0, res.stderr
    assert res.report is not None, res.stderr
    assert res.report["findings"] == [], res.report["findings"]
    assert res.stdout.strip(), "the script's output must pass through"
