"""Safe fixes that real code showed to be wrong (issue 17, docs/safe-fixes-on-real-code.md).

Each case has the shape seen in a public repository, and the look-alike where the same fix
is right and stays safe.
"""

from __future__ import annotations

from tests.conftest import check_json, write


def _fixes(tmp_path, select: str) -> dict:
    report, _ = check_json("--select", select, "--no-cache", ".", cwd=tmp_path)
    return {(f["path"], f["line"]): f["fix"] for f in report["findings"]}


def test_no_grad_is_not_wrapped_around_a_lambda_definition(tmp_path):
    # The forward runs when the lambda is called, after the `with` has exited.
    write(tmp_path, "lam.py", """
import torch


def evaluate(model, val_loader):
    model.eval()
    predict = lambda x: model(x).argmax(1)
    correct = 0
    for x, y in val_loader:
        correct += (predict(x) == y).sum().item()
    return correct
""")
    write(tmp_path, "plain.py", """
import torch


def evaluate(model, val_loader):
    model.eval()
    correct = 0
    for x, y in val_loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct
""")
    fixes = _fixes(tmp_path, "TRN102")
    lam = [fix for (path, _), fix in fixes.items() if path.endswith("lam.py")]
    plain = [fix for (path, _), fix in fixes.items() if path.endswith("plain.py")]
    assert lam and all(fix is None for fix in lam)
    assert plain and plain[0] is not None and plain[0]["applicability"] == "safe"


UNSCALE = """
import torch


def train(model, disc, loader, opt, disc_opt, scaler, clip):
    for x in loader:
        loss = model(x).mean()
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
        for _ in range(2):
            d_loss = disc(x).mean()
            scaler.scale(d_loss).backward()
            scaler.step(disc_opt)
            scaler.update()
"""


def test_unscale_is_unsafe_when_the_scaler_step_is_elsewhere(tmp_path):
    # The clip runs in the branch without a scaler; the only step it could pair with is another
    # optimizer's, in another loop: `scaler.unscale_(disc_opt)` there could raise or unscale
    # the wrong gradients.
    write(tmp_path, "branch.py", UNSCALE)
    write(tmp_path, "plain.py", """
import torch

scaler = torch.amp.GradScaler("cuda")
for x, y in loader:
    scaler.scale(criterion(model(x), y)).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(opt)
    scaler.update()
""")
    fixes = _fixes(tmp_path, "TRN406")
    branch = [fix for (path, _), fix in fixes.items() if path.endswith("branch.py")]
    plain = [fix for (path, _), fix in fixes.items() if path.endswith("plain.py")]
    assert all(fix is None or fix["applicability"] == "unsafe" for fix in branch)
    assert plain and plain[0]["applicability"] == "safe"



def _no_grad_fix_for(text: str, callee: str):
    """The TRN102 fix builder applied to the call of `callee` in `text`."""
    import libcst as cst

    from auditor.context import FileContext
    from auditor.files import source_from_bytes
    from auditor.fixes.builders import no_grad_fix

    source = source_from_bytes("t.py", text.encode("utf-8"))
    ctx = FileContext(source, cst.parse_module(text))
    call = next(site.node for site in ctx.model.calls if site.callee == callee)
    return no_grad_fix(ctx, call)


def test_no_grad_is_not_offered_inside_a_module_forward():
    # DeepSpeed-Domino's transformer layer: `self.mlp(...)` in a layer's forward was wrapped,
    # which would stop the MLP's gradients whenever the model trains.
    layer = """import torch
import torch.nn as nn


class Block(nn.Module):
    def forward(self, x):
        out = self.mlp(x)
        return x + out
"""
    assert _no_grad_fix_for(layer, "self.mlp") is None
    # The look-alike: the same call in an evaluation function keeps its safe fix.
    evaluate = """import torch


def evaluate(model, x):
    out = model.mlp(x)
    return out.sum().item()
"""
    fix = _no_grad_fix_for(evaluate, "model.mlp")
    assert fix is not None and fix.applicability == "safe"



def test_no_grad_does_not_hide_a_notebook_cells_displayed_value():
    # mrdbourke/pytorch-deep-learning: `conv_layer(test_image)` ends a cell to show its output;
    # wrapped in `with torch.no_grad():` the cell would show nothing. An assignment keeps its fix.
    import json

    import libcst as cst

    from auditor.context import FileContext
    from auditor.files import read_notebook
    from auditor.fixes.builders import no_grad_fix

    cells = ["import torch\n", "conv(image)", "out = conv(image)\nprint(out.shape)"]
    data = json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]}).encode()
    source = read_notebook("demo.ipynb", data)
    ctx = FileContext(source, cst.parse_module(source.text))
    shown, assigned = [site.node for site in ctx.model.calls if site.callee == "conv"]
    assert no_grad_fix(ctx, shown) is None
    fix = no_grad_fix(ctx, assigned)
    assert fix is not None and fix.applicability == "safe"


def test_no_grad_is_not_offered_for_the_forward_beside_backward_in_a_training_loop():
    # gentaiscool/end2end-asr-pytorch: the training step's own forward was wrapped (its output
    # reaches loss.backward() through a helper), so backward would raise. The look-alike, an
    # evaluation under `if step % k == 0:` in the same loop, keeps its safe fix.
    text = """import torch


def train(model, loader, opt, test_x):
    for step, (x, y) in enumerate(loader):
        opt.zero_grad()
        pred = model.net(x)
        loss = metrics(pred, y)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            test_out = model.head(test_x)
            print(test_out.argmax(1))
"""
    assert _no_grad_fix_for(text, "model.net") is None
    fix = _no_grad_fix_for(text, "model.head")
    assert fix is not None and fix.applicability == "safe"


def test_no_grad_in_a_subclass_method_is_only_unsafe():
    # hirofumi0810/neural_sp: `self.embed(ys_in)` in an RNN-T decoder's `forward_transducer`
    # (the training loss) was wrapped. In a method of a subclass the callers may train through
    # it, so the wrap is offered only as unsafe; the same code in a plain function stays safe.
    method = """import torch
import torch.nn as nn


class Decoder(nn.Module):
    def forward_transducer(self, ys_in):
        ys_emb = self.embed(ys_in)
        return ys_emb.sum().item()
"""
    fix = _no_grad_fix_for(method, "self.embed")
    assert fix is not None and fix.applicability == "unsafe"
    plain = """import torch


def score(decoder, ys_in):
    ys_emb = decoder.embed(ys_in)
    return ys_emb.sum().item()
"""
    fix = _no_grad_fix_for(plain, "decoder.embed")
    assert fix is not None and fix.applicability == "safe"


def test_no_grad_is_not_offered_where_the_output_reaches_backward_in_the_loop():
    # ThilinaRajapakse/simpletransformers: `outputs = model(**inputs)` in the non-fp16 branch of
    # the training loop was wrapped; `loss = outputs[0]` then reaches `loss.backward()`.
    text = """import torch


def train(model, loader, opt, fp16):
    for batch in loader:
        if fp16:
            with torch.autocast("cuda"):
                outputs = model(batch)
        else:
            outputs = model.plain(batch)
        loss = outputs[0]
        loss.backward()
        opt.step()
        if len(batch) == 0:
            shown = model.show(batch)
            print(shown.sum().item())
"""
    assert _no_grad_fix_for(text, "model.plain") is None
    fix = _no_grad_fix_for(text, "model.show")
    assert fix is not None and fix.applicability == "safe"


def test_no_grad_is_not_offered_where_gradients_are_the_point():
    # Y-debug-sys/Diffusion-TS: classifier guidance, `logits = classifier(x_in, t)` under
    # torch.enable_grad() followed by torch.autograd.grad(...), was wrapped: autograd.grad would raise.
    guidance = """import torch
import torch.nn.functional as F


def cond_fn(x, t, classifier, y):
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        logits = classifier(x_in, t)
        selected = F.log_softmax(logits, dim=-1)[range(len(logits)), y]
        return torch.autograd.grad(selected.sum(), x_in)[0]
"""
    assert _no_grad_fix_for(guidance, "classifier") is None
    saliency = """import torch


def saliency(model, x):
    x = x.requires_grad_(True)
    out = model.head(x)
    return torch.autograd.grad(out.sum(), x)[0]
"""
    assert _no_grad_fix_for(saliency, "model.head") is None


def _notebook_no_grad_fix(cells: list, callee: str):
    """The TRN102 fix builder applied to the call of `callee` in a notebook of `cells`."""
    import json

    import libcst as cst

    from auditor.context import FileContext
    from auditor.files import read_notebook
    from auditor.fixes.builders import no_grad_fix

    data = json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]}).encode()
    source = read_notebook("demo.ipynb", data)
    ctx = FileContext(source, cst.parse_module(source.text))
    call = next(site.node for site in ctx.model.calls if site.callee == callee)
    return no_grad_fix(ctx, call)


def test_no_grad_is_not_offered_before_the_cell_that_imports_torch():
    # huggingface/notebooks transformers_doc/en/tensorflow/task_summary.ipynb: a question-answering
    # loop in cell 18 was wrapped in `torch.no_grad()`, but torch is imported only in cell 61:
    # run in order, the cell raises NameError. With the import in an earlier cell the fix is safe.
    evaluation = "for question in questions:\n    outputs = model(encode(question))\n    print(outputs.argmax())\n"
    assert _notebook_no_grad_fix([evaluation, "import torch\nprint(torch.__version__)\n"], "model") is None
    fix = _notebook_no_grad_fix(["import torch\n", evaluation], "model")
    assert fix is not None and fix.applicability == "safe"
    assert "with torch.no_grad():" in fix.edits[0].content


def test_no_grad_uses_only_an_import_of_torch_that_runs_first():
    # An `import torch` inside another function binds nothing here; one in the same function
    # before the loop does, under its alias.
    elsewhere = """def setup():
    import torch
    torch.manual_seed(0)


def evaluate(model, loader):
    model.eval()
    for x in loader:
        print(model.head(x).argmax(1))
"""
    assert _no_grad_fix_for(elsewhere, "model.head") is None
    local = """def evaluate(model, loader):
    import torch as th
    model.eval()
    for x in loader:
        print(model.head(x).argmax(1))
"""
    fix = _no_grad_fix_for(local, "model.head")
    assert fix is not None and fix.applicability == "safe"
    assert "with th.no_grad():" in fix.edits[0].content


def test_autocast_fix_needs_torch_imported_before_the_call(tmp_path):
    # TRN409 writes `torch.amp.autocast("cuda")`: in a notebook importing torch only in a later
    # cell that would raise NameError, so nothing is rewritten; importing it first, the fix applies.
    import json

    from tests.conftest import run_auditor

    amp_cell = "from torch.cuda.amp import autocast\nwith autocast():\n    out = model(x)\n"

    def notebook(name: str, cells: list) -> None:
        cells_json = [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None}
                      for c in cells]
        (tmp_path / name).write_text(json.dumps({"cells": cells_json, "metadata": {}, "nbformat": 4,
                                                 "nbformat_minor": 5}), encoding="utf-8")

    notebook("late.ipynb", [amp_cell, "import torch\n"])
    notebook("early.ipynb", ["import torch\n", amp_cell])
    late_before = (tmp_path / "late.ipynb").read_text(encoding="utf-8")
    proc = run_auditor("check", "--select", "TRN409", "--no-cache", "--exit-zero", "--fix", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "late.ipynb").read_text(encoding="utf-8") == late_before
    early = "".join("".join(c["source"]) for c in
                    json.loads((tmp_path / "early.ipynb").read_text(encoding="utf-8"))["cells"])
    assert 'torch.amp.autocast("cuda")' in early and "torch.cuda.amp" not in early


def test_no_grad_is_not_wrapped_around_tensorflow_code():
    # huggingface/notebooks transformers_doc/task_summary.ipynb: the TensorFlow variant of the
    # question-answering loop (`tf.argmax` on the outputs) was wrapped in `torch.no_grad()`: no
    # effect on a Keras model, and a NameError where only TensorFlow is installed. The PyTorch
    # variant of the same loop keeps its safe fix.
    loop = """import torch
import tensorflow as tf


def answer(model, questions, encode):
    for question in questions:
        outputs = model.qa(encode(question))
        print(ARGMAX(outputs.start_logits))
"""
    assert _no_grad_fix_for(loop.replace("ARGMAX", "tf.argmax"), "model.qa") is None
    fix = _no_grad_fix_for(loop.replace("ARGMAX", "torch.argmax"), "model.qa")
    assert fix is not None and fix.applicability == "safe"


def test_no_grad_is_not_wrapped_around_a_helper_that_trains_by_a_flag(tmp_path):
    # One episode function trains or evaluates by `train`; the evaluation path alone is a
    # finding, but a no_grad wrap of the shared forward would make `loss.backward()` raise on
    # the training path (seen in a few-shot learning repository).
    write(tmp_path, "episode.py", """
import torch


def episode(model, optimiser, loss_fn, x, y, train):
    if train:
        model.train()
        optimiser.zero_grad()
    else:
        model.eval()
    embeddings = model(x)
    loss = loss_fn(embeddings, y)
    if train:
        loss.backward()
        optimiser.step()
    return loss


def evaluate(model, optimiser, loss_fn, batches):
    return [episode(model, optimiser, loss_fn, x, y, train=False).item() for x, y in batches]


def fit(model, optimiser, loss_fn, batches):
    for x, y in batches:
        episode(model, optimiser, loss_fn, x, y, train=True)
""")
    write(tmp_path, "evaluate_only.py", """
import torch


def score(model, loss_fn, x, y):
    model.eval()
    embeddings = model(x)
    return loss_fn(embeddings, y).item()
""")
    fixes = _fixes(tmp_path, "TRN102")
    shared = [fix for (path, _), fix in fixes.items() if path.endswith("episode.py")]
    plain = [fix for (path, _), fix in fixes.items() if path.endswith("evaluate_only.py")]
    assert shared and all(fix is None for fix in shared)
    assert plain and plain[0] is not None and plain[0]["applicability"] == "safe"
