"""TRN303, TRN404-TRN406 and TRN409 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

from tests.rules._cases import check_cases, codes

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"

VAL_TOTAL = """
def train(model, loader, val_loader, criterion, opt):
    for epoch in range(3):
        for x, y in loader:
            opt.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            opt.step()
        val_total = 0
        for x, y in val_loader:
            {forward}
            val_loss = criterion(out, y)
            val_total += val_loss
        print(val_total)
"""

CASES = {
    # TRN303
    "nll_probabilities": HEAD + """
criterion = nn.NLLLoss()
probs = F.softmax(model(x), dim=1)
loss = criterion(probs, y)
loss2 = F.nll_loss(out.softmax(dim=-1), y)
""",
    "nll_logits": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)

model = Net()
head = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
loss = F.nll_loss(model(x), y)
loss2 = F.nll_loss(head(x), y)
""",
    "nll_log_probabilities": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

model = Net()
head = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
criterion = nn.NLLLoss()
loss = criterion(model(x), y)
loss2 = F.nll_loss(head(x), y)
loss3 = F.nll_loss(torch.log(probs), y)
loss4 = F.nll_loss(unknown(x), y)
""",
    # a helper nested in forward returns log-probabilities; forward itself returns logits
    "nll_logits_beside_nested_helper": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        def normalize(y):
            return F.log_softmax(y, dim=1)
        return self.fc(x)

model = Net()
loss = F.nll_loss(model(x), y)
""",
    # TRN404
    "scheduler_first": HEAD + """
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10)
for epoch in range(3):
    scheduler.step()
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
""",
    "scheduler_after_scaler_step": HEAD + """
for x, y in loader:
    scaler.scale(criterion(model(x), y)).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
for epoch in range(3):
    for x, y in loader:
        optimizer.step()
    scheduler.step()
    plateau.step(val_loss)
""",
    # the optimizer steps inside a training helper of this file, called once per epoch
    "scheduler_before_helper_step": HEAD + """
def train_step(model, batch, optimizer, criterion):
    optimizer.zero_grad()
    loss = criterion(model(batch[0]), batch[1])
    loss.backward()
    optimizer.step()

def train_epoch(model, loader, optimizer, criterion):
    for batch in loader:
        train_step(model, batch, optimizer, criterion)

def train(model, loader, optimizer, criterion):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()

def main(model, loader, criterion, epochs):
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50)
    for epoch in range(epochs):
        scheduler.step()
        avg_loss = train(model, loader, optimizer, criterion)
    for epoch in range(epochs):
        scheduler.step()
        train_epoch(model, loader, optimizer, criterion)
""",
    "scheduler_after_helper_step_ok": HEAD + """
def train(model, loader, optimizer, criterion):
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()

def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(model(x).sum().item() for x, _ in loader)

def main(model, loader, val_loader, criterion, epochs):
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50)
    for epoch in range(epochs):
        train(model, loader, optimizer, criterion)
        scheduler.step()
        validate(model, val_loader)
    for epoch in range(epochs):
        validate(model, val_loader)
        scheduler.step()
""",
    # TRN405 through a meter of this file: `update` adds its argument into a total on the object
    "meter_fed_loss_tensor_bad": HEAD + """
class AverageMeter:
    def __init__(self):
        self.sum, self.count = 0.0, 0

    def update(self, val, n=1):
        self.sum += val * n
        self.count += n

class Track:
    def __init__(self):
        self.totals = {"ce": 0.0}

    def add(self, value):
        self.totals["ce"] += value

def train(model, loader, optimizer, criterion):
    meter = AverageMeter()
    track = Track()
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        meter.update(loss, x.size(0))
        track.add(loss)
    return meter.sum / meter.count
""",
    "meter_fed_numbers_ok": HEAD + """
class AverageMeter:
    def __init__(self):
        self.sum, self.count = 0.0, 0

    def update(self, val, n=1):
        self.sum += val * n
        self.count += n

class Detaching:
    def update(self, val):
        self.sum += float(val)

def train(model, loader, optimizer, criterion):
    meter = AverageMeter()
    safe = Detaching()
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        meter.update(loss.item(), x.size(0))
        safe.update(loss)
        per_step = AverageMeter()
        per_step.update(loss)
""",
    # TRN405: a validation loss computed under no_grad (or from outputs computed so) and summed
    # outside the block carries no graph: silent; the same outputs computed with autograd on: the bug.
    "val_loss_from_no_grad_outputs_ok": HEAD + VAL_TOTAL.format(forward="with torch.no_grad():\n                out = model(x)"),
    "val_loss_under_inference_mode_ok": HEAD + VAL_TOTAL.format(
        forward="with torch.inference_mode():\n                out = model(x)\n                val_loss = criterion(out, y)"),
    "val_loss_with_graph_bad": HEAD + VAL_TOTAL.format(forward="out = model(x)"),
    # TRN405
    "loss_summed_with_graph": HEAD + """
criterion = nn.CrossEntropyLoss()
total = 0.0
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    total += loss
    epoch_loss = epoch_loss + loss
""",
    # A nested helper returning a name of the same spelling does not make the outer total a result.
    "loss_sum_beside_nested_return_bad": HEAD + """
def train(model, loader, criterion):
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        total += loss

    def report():
        total = 1.0
        return total
    return report
""",
    # `return` outside a function: CPython refuses it, libcst parses it, and the total it
    # returns (from a loop that does not train: a loss built from terms) is a result as
    # inside a function.
    "loss_sum_returned_at_module_level_ok": HEAD + """
total = 0.0
for x, y in pairs:
    loss = criterion(model(x), y)
    total += loss
return total
""",
    # a training loop's running total stays a statistic when returned, bare or averaged
    "training_total_returned_bad": HEAD + """
def train_epoch(model, loader, optimizer, criterion):
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss
    return total


def train_epoch_avg(model, loader, optimizer, criterion):
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss
    avg = total / len(loader)
    return avg


def train_epoch_item(model, loader, optimizer, criterion):
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        loss = loss.item()
        total += loss
    return total
""",
    # Look-alikes from real code: a token count from a comparison (it has no graph, even when
    # the loss is scaled by it), and a loss built from terms and returned as part of a tuple.
    "count_and_returned_total_ok": HEAD + """
def train(model, loader, optimizer, ignore_index):
    num_tokens = 0
    for batch in loader:
        current_num_tokens = (batch["labels"] != ignore_index).sum()
        num_tokens += current_num_tokens
        num_masked += (batch["mask"] == 0).float().sum()
        current_loss = loss_step(model, batch) * current_num_tokens
        current_loss.backward()
        optimizer.step()


def forward_loss(logits, target):
    loss = logits[0].new(1).zero_()
    for i in range(len(target)):
        loss += F.cross_entropy(logits[i], target[i], reduction="sum")
    return loss, len(target), {"loss": loss.data}
""",
    # #17: integer counters and sizes are never loss tensors, whatever reaches backward
    "int_counters_ok": HEAD + """
def train(model, loader, optimizer, args, world_size):
    total_examples = 0
    consumed_tokens = 0
    for step, batch in enumerate(loader):
        loss = model(**batch).loss / args.gradient_accumulation_steps
        model.backward(loss)
        total_examples += batch.batch_size
        consumed_tokens += args.seq_len * args.per_device_batch_size * world_size
        model.step()
    return total_examples, consumed_tokens
""",
    # #17: an objective assembled in the loop and handed to a helper that back-propagates
    "objective_to_backward_helpers_ok": HEAD + """
def train(model, loader, optimizer, criterion, loss_scaler, scaler, accelerator, fabric, heads):
    for x, y in loader:
        loss = 0.0
        for head in heads:
            loss += criterion(head(model(x)), y)
        loss_scaler(loss, optimizer, parameters=model.parameters())
        amp_loss = 0.0
        for head in heads:
            amp_loss += criterion(head(model(x)), y)
        scaler.scale(amp_loss).backward()
        acc_loss = 0.0
        for head in heads:
            acc_loss += criterion(head(model(x)), y)
        accelerator.backward(acc_loss)
        fab_loss = 0.0
        for head in heads:
            fab_loss = fab_loss + criterion(head(model(x)), y)
        fabric.backward(fab_loss)
""",
    # #17: per-term losses summed in a loss function and returned (in a list, or divided)
    "loss_function_sums_terms_ok": HEAD + """
mse = nn.MSELoss()


def distill_loss(student_reps, teacher_reps, student_atts, teacher_atts, logits, targets):
    att_loss = 0.0
    rep_loss = 0.0
    for s, t in zip(student_atts, teacher_atts):
        tmp_loss = mse(s, t)
        att_loss += tmp_loss
    for s, t in zip(student_reps, teacher_reps):
        rep_loss += mse(s, t)
    loss = F.cross_entropy(logits, targets)
    loss += att_loss + rep_loss
    return [loss, rep_loss.item(), att_loss.item()]


def mean_loss(outputs, targets):
    total = 0.0
    for out, y in zip(outputs, targets):
        total += F.cross_entropy(out, y)
    return total / len(outputs)
""",
    # the running total of a training epoch, read after the loop as a tensor
    "epoch_total_read_after_bad": HEAD + """
def train(model, loader, optimizer):
    criterion = nn.CrossEntropyLoss()
    epoch_loss = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        epoch_loss += loss
    print(epoch_loss.item() / len(loader))
""",
    # an unknown criterion: the value may not be a tensor, so its fix is unsafe
    "unknown_criterion_total_bad": HEAD + """
def train(model, loader, optimizer, criterion):
    running = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        running += criterion(out, y)
        F.cross_entropy(out, y).backward()
        optimizer.step()
    print(running)
""",
    # a checkpoint helper handed the optimizer and the epoch's total does not back-propagate it
    "epoch_total_saved_with_optimizer_bad": HEAD + """
for epoch in range(epochs):
    train_loss = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        batch_loss = criterion(net(x), y)
        batch_loss.backward()
        optimizer.step()
        train_loss += batch_loss
    save_checkpoint(net, epoch, optimizer, train_loss / len(loader))
""",
    # a sum rebuilt at the top of every training iteration outlives nothing (the same sum
    # started before the loop is a running total)
    "per_iteration_sum_ok": HEAD + """
def train(model, heads, loader, optimizer, criterion):
    for x, y in loader:
        optimizer.zero_grad()
        aux = 0.0
        for head in heads:
            aux += F.cross_entropy(head(x), y)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        print(aux)
""",
    "per_epoch_sum_bad": HEAD + """
def train(model, heads, loader, optimizer, criterion):
    aux = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        for head in heads:
            aux += F.cross_entropy(head(x), y)
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    print(aux)
""",
    # An evaluation pass nested in the epoch loop: the total is reset once per epoch, but
    # it sums a loss tensor per validation batch, each with the graph of its own forward pass.
    "val_pass_in_epoch_loop_bad": HEAD + """
def fit(model, train_loader, val_loader, optimizer, epochs):
    loss_func = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for xb, yb in train_loader:
            loss = loss_func(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val_loss = 0.0
        for i, (vx, vy) in enumerate(val_loader):
            x = vx[:, :4].to("cpu")
            out = model(x)
            val_loss += loss_func(out, vy)
        print(val_loss / len(val_loader))
""",
    # Look-alikes: numbers summed, the pass under no_grad, a total reset per validation batch,
    # and a loop whose model input comes from the training iteration (terms of one batch).
    "val_pass_in_epoch_loop_ok": HEAD + """
def fit(model, train_loader, val_loader, optimizer, epochs, heads):
    loss_func = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for xb, yb in train_loader:
            loss = loss_func(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val_loss = 0.0
        for vx, vy in val_loader:
            val_loss += loss_func(model(vx), vy).item()
        nograd_loss = 0.0
        with torch.no_grad():
            for vx, vy in val_loader:
                nograd_loss += loss_func(model(vx), vy)
        for vx, vy in val_loader:
            batch_loss = 0.0
            batch_loss += loss_func(model(vx), vy)
            print(batch_loss)
        head_terms = 0.0
        for head in heads:
            head_terms += loss_func(head(model(xb)), yb)
        print(val_loss, nograd_loss, head_terms)
""",
    "count_summed_next_to_loss_bad": HEAD + """
def train(model, loader, optimizer, criterion, ignore_index):
    running_loss = 0.0
    for batch in loader:
        num_tokens += (batch["labels"] != ignore_index).sum()
        loss = criterion(model(batch["x"]), batch["labels"])
        running_loss += loss
        loss.backward()
        optimizer.step()
    return running_loss.item(), num_tokens
""",
    "loss_summed_correctly": HEAD + """
criterion = nn.CrossEntropyLoss()
running = 0.0
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    running += loss.item()
    detached += loss.detach()
    count += 1


def objective(outputs, targets):
    total = 0
    for out, y in zip(outputs, targets):
        total += criterion(out, y)
    return total


def multi_task(batch):
    combined = 0
    for head in heads:
        combined += F.mse_loss(head(batch), batch)
    combined.backward()


def style_transfer(y, targets):
    content_loss = F.mse_loss(y, targets[0])
    style_loss = 0.0
    for t in targets[1:]:
        style_loss += F.mse_loss(y, t)
    total_loss = content_loss + 10 * style_loss
    total_loss.backward()


def validate(model, loader):
    val_total = 0.0
    with torch.no_grad():
        for x, y in loader:
            val_loss = criterion(model(x), y)
            val_total += val_loss / len(loader)
    return val_total.item()


def accumulate_scaled(model, loader, opt, accum=4):
    epoch_total = 0.0
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            opt.step()
            opt.zero_grad()
        epoch_total += loss.item() * accum
        epoch_total += accum * float(loss)
""",
    # TRN406
    "clip_scaled": HEAD + """
scaler = torch.cuda.amp.GradScaler()
for x, y in loader:
    scaler.scale(criterion(model(x), y)).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
""",
    "clip_unscaled_or_no_scaler": HEAD + """
scaler = torch.amp.GradScaler("cuda")
for x, y in loader:
    scaler.scale(criterion(model(x), y)).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()


def plain_step():
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def either(use_amp):
    if use_amp:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
    else:
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
""",
    # TRN409
    "amp_deprecated": """
import torch
from torch.cuda.amp import GradScaler, autocast

scaler = GradScaler()
with autocast():
    pass
with torch.cuda.amp.autocast(True, torch.bfloat16):
    pass
""",
    "amp_current": """
import torch

scaler = torch.amp.GradScaler("cuda")
with torch.amp.autocast("cuda", dtype=torch.bfloat16):
    pass
with torch.autocast(device_type="cuda"):
    pass
""",
    # The old API kept in the branch of a torch-version check is deliberate; under another
    # condition it is not.
    "amp_version_branch": """
import torch

def get_grad_scaler(**kwargs):
    if is_torch_version(">=", "2.3"):
        return torch.amp.GradScaler("cuda", **kwargs)
    else:
        return torch.cuda.amp.GradScaler(**kwargs)

scaler = torch.amp.GradScaler() if _TORCH_GREATER_EQUAL_2_4 else torch.cuda.amp.GradScaler()
""",
    "amp_other_branch": """
import torch

def get_grad_scaler(enabled, **kwargs):
    if enabled:
        return torch.cuda.amp.GradScaler(**kwargs)
    return None
""",
    # TRN410
    "checkpoint_implicit": """
import torch.utils.checkpoint as cp
from torch.utils.checkpoint import checkpoint_sequential

y = cp.checkpoint(block, x)
z = checkpoint_sequential(layers, 2, x)
""",
    # TRN405: totals kept in a dict, keyed by loss name (`+=` on an item, or the dict rebuilt
    # from itself each batch), fed the loss tensors of a training loop.
    "dict_totals_with_graph_bad": HEAD + """
from collections import defaultdict


def train(model, loader, optimizer, criterion):
    totals = defaultdict(float)
    for x, y in loader:
        optimizer.zero_grad()
        losses = criterion(model(x), y)
        loss = sum(losses.values())
        loss.backward()
        optimizer.step()
        for name, value in losses.items():
            totals[name] += value * x.size(0)
    return totals


def train_single(model, loader, optimizer):
    totals = {"ce": 0.0}
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        totals["ce"] += loss


def train_rebuilt(model, loader, optimizer, criterion):
    totals = {k: torch.tensor(0.0) for k in ("ce", "l1")}
    for x, y in loader:
        optimizer.zero_grad()
        parts = criterion(model(x), y)
        parts["total"].backward()
        optimizer.step()
        totals = {k: totals[k] + parts[k] * x.size(0) for k in totals}
    return totals
""",
    # The same shapes fed numbers, summing the terms of the objective itself, under no_grad,
    # or counting: nothing with a graph outlives the iteration.
    "dict_totals_ok": HEAD + """
from collections import defaultdict


def train(model, loader, optimizer, criterion):
    totals = defaultdict(float)
    counts = defaultdict(int)
    for x, y in loader:
        optimizer.zero_grad()
        losses = criterion(model(x), y)
        loss = sum(losses.values())
        loss.backward()
        optimizer.step()
        for name, value in losses.items():
            totals[name] += value.item() * x.size(0)
        counts[int(y[0])] += 1
    return totals


def train_heads(model, loader, optimizer, criterion):
    for x, y in loader:
        optimizer.zero_grad()
        parts = {"heads": 0.0}
        for head in model.heads:
            parts["heads"] += criterion(head(x), y)
        sum(parts.values()).backward()
        optimizer.step()


def evaluate(model, loader, criterion):
    totals = {"ce": 0.0}
    with torch.no_grad():
        for x, y in loader:
            totals["ce"] += criterion(model(x), y)
    return totals


def train_rebuilt(model, loader, optimizer, criterion):
    totals = {k: 0.0 for k in ("ce", "l1")}
    for x, y in loader:
        optimizer.zero_grad()
        parts = criterion(model(x), y)
        parts["total"].backward()
        optimizer.step()
        totals = {k: totals[k] + parts[k].item() for k in totals}
    return totals
""",
    # TRN405: the loss a model returns when handed `labels=` (first element, or `.loss`),
    # summed over an evaluation pass that never disables autograd.
    "model_loss_summed_without_no_grad_bad": HEAD + """
def evaluate(model, samples):
    total_loss = 0
    for batch in samples:
        outputs = model.forward(input_ids=batch, labels=batch)
        loss, logits = outputs[:2]
        loss = loss.mean()
        total_loss += loss
    print(total_loss / len(samples))


def evaluate_attr(model, loader):
    eval_loss = 0.0
    for batch in loader:
        outputs = model(input_ids=batch["x"], labels=batch["y"])
        eval_loss += outputs.loss
    print(eval_loss)
""",
    # ... under no_grad, as a number, or a model output that is not its loss.
    # ... and the loss computed under no_grad, summed after the `with` block closed (the
    # Hugging Face perplexity recipe, at a notebook's top level): no graph to keep.
    "model_loss_from_no_grad_summed_later_ok": HEAD + """
nll_sum = 0.0
for begin in range(0, seq_len, stride):
    input_ids = encodings.input_ids[:, begin:begin + window].to(device)
    with torch.no_grad():
        outputs = model(input_ids, labels=input_ids.clone())
        neg_log_likelihood = outputs.loss
    nll_sum += neg_log_likelihood * window
ppl = torch.exp(nll_sum / seq_len)
""",
    "model_loss_summed_ok": HEAD + """
def evaluate(model, loader):
    eval_loss = 0.0
    with torch.no_grad():
        for batch in loader:
            outputs = model(input_ids=batch["x"], labels=batch["y"])
            eval_loss += outputs.loss
    print(eval_loss)


def evaluate_numbers(model, loader):
    eval_loss = 0.0
    for batch in loader:
        outputs = model(input_ids=batch["x"], labels=batch["y"])
        eval_loss += outputs.loss.item()
    print(eval_loss)


def count_tokens(model, loader):
    total = 0
    for batch in loader:
        outputs = model(input_ids=batch["x"])
        total += outputs[0].shape[0]
    print(total)
""",
    "checkpoint_explicit": """
import torch.utils.checkpoint as cp

y = cp.checkpoint(block, x, use_reentrant=False)
z = cp.checkpoint(block, x, use_reentrant=True)
w = activation_checkpoint(block, x)
""",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return check_cases(tmp_path_factory.mktemp("optim"), CASES, "TRN303,TRN404,TRN405,TRN406,TRN409,TRN410")


@pytest.mark.parametrize("case, expected", [
    ("nll_probabilities", ["TRN303", "TRN303"]),
    ("nll_logits", ["TRN303", "TRN303"]),
    ("nll_log_probabilities", []),
    ("nll_logits_beside_nested_helper", ["TRN303"]),
    ("scheduler_first", ["TRN404"]),
    ("scheduler_after_scaler_step", []),
    ("scheduler_before_helper_step", ["TRN404", "TRN404"]),
    ("scheduler_after_helper_step_ok", []),
    ("loss_summed_with_graph", ["TRN405", "TRN405"]),
    ("val_loss_from_no_grad_outputs_ok", []),
    ("val_loss_under_inference_mode_ok", []),
    ("val_loss_with_graph_bad", ["TRN405"]),
    ("meter_fed_loss_tensor_bad", ["TRN405", "TRN405"]),
    ("meter_fed_numbers_ok", []),
    ("loss_summed_correctly", []),
    ("count_and_returned_total_ok", []),
    ("loss_sum_beside_nested_return_bad", ["TRN405"]),
    ("loss_sum_returned_at_module_level_ok", []),
    ("training_total_returned_bad", ["TRN405", "TRN405"]),
    ("count_summed_next_to_loss_bad", ["TRN405"]),
    ("int_counters_ok", []),
    ("per_iteration_sum_ok", []),
    ("per_epoch_sum_bad", ["TRN405"]),
    ("val_pass_in_epoch_loop_bad", ["TRN405"]),
    ("val_pass_in_epoch_loop_ok", []),
    ("epoch_total_saved_with_optimizer_bad", ["TRN405"]),
    ("objective_to_backward_helpers_ok", []),
    ("loss_function_sums_terms_ok", []),
    ("epoch_total_read_after_bad", ["TRN405"]),
    ("unknown_criterion_total_bad", ["TRN405"]),
    ("dict_totals_with_graph_bad", ["TRN405"] * 3),
    ("dict_totals_ok", []),
    ("model_loss_summed_without_no_grad_bad", ["TRN405"] * 2),
    ("model_loss_summed_ok", []),
    ("model_loss_from_no_grad_summed_later_ok", []),
    ("clip_scaled", ["TRN406", "TRN409"]),
    ("clip_unscaled_or_no_scaler", []),
    ("amp_deprecated", ["TRN409"] * 3),
    ("amp_current", []),
    ("amp_version_branch", []),
    ("amp_other_branch", ["TRN409"]),
    ("checkpoint_implicit", ["TRN410", "TRN410"]),
    ("checkpoint_explicit", []),
])
def test_findings(found, case, expected):
    assert sorted(codes(found[case])) == expected, found[case]


def test_scheduler_before_a_stepping_helper_names_it(found):
    messages = sorted(f["message"] for f in found["scheduler_before_helper_step"])
    assert "inside `train(...)`" in messages[0] and "inside `train_epoch(...)`" in messages[1]


def test_meter_update_names_the_total(found):
    meter, track = sorted(found["meter_fed_loss_tensor_bad"], key=lambda f: f["line"])
    assert "`self.sum`" in meter["message"] and "meter.update(loss, x.size(0))" in meter["message"]
    assert '`self.totals["ce"]`' in track["message"]


def test_nll_messages_say_what_was_fed(found):
    assert all("probabilities" in f["message"] for f in found["nll_probabilities"])
    assert all("logits" in f["message"] for f in found["nll_logits"])


def test_autocast_fix_turns_positional_arguments_into_keywords(found):
    (positional,) = [f for f in found["amp_deprecated"] if f["line"] == 7]
    assert positional["fix"]["applicability"] == "safe"
    content = positional["fix"]["edits"][0]["content"]
    assert "amp.autocast(\"cuda\", enabled=" in content and "dtype=" in content
    scaler = [f for f in found["amp_deprecated"] if f["line"] == 4][0]
    assert scaler["fix"]["applicability"] == "unsafe"  # torch.amp.GradScaler needs torch >= 2.3


def test_trn405_fix_is_safe_only_on_certain_tensors(found):
    # `loss` was back-propagated (a tensor): `.detach()` is safe; a `criterion(...)` whose type
    # is not known gets an unsafe fix; nothing in a count ever gets one (nothing is reported).
    (certain,) = found["epoch_total_read_after_bad"]
    assert certain["fix"]["applicability"] == "safe"
    assert certain["fix"]["edits"][0]["content"] == ".detach()"
    (unknown,) = found["unknown_criterion_total_bad"]
    assert unknown["fix"] is None or unknown["fix"]["applicability"] == "unsafe"


def test_trn405_message_does_not_respell_a_call(found):
    (finding,) = found["val_pass_in_epoch_loop_bad"]
    assert "accumulate its `.item()` (or `.detach()`)" in finding["message"], finding["message"]
    assert ".item()`" not in finding["message"].split("accumulate", 1)[1].replace("its `.item()`", "")


def test_trn405_dict_totals_name_the_item_and_offer_no_safe_edit(found):
    # A total kept in a dict may be read anywhere the dict goes: the `.detach()` edit is unsafe.
    by_line = {f["line"]: f for f in found["dict_totals_with_graph_bad"]}
    assert "`totals[name]` sums `value`" in by_line[18]["message"]
    assert '`totals["ce"]` sums `loss`' in by_line[29]["message"]
    assert "`totals` sums `parts[k]`" in by_line[39]["message"]
    assert all(f["fix"] is None or f["fix"]["applicability"] == "unsafe" for f in by_line.values())
