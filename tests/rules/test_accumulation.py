"""TRN401-TRN403 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

STEP_HELPER = """
import torch


def train_step(model, opt, criterion, x, y):
    {clear}
    loss = criterion(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def fit(model, loader, opt, criterion, epochs=3):
    for epoch in range(epochs):
        for x, y in loader:
            {before}
            print(train_step(model, opt, criterion, x, y))
"""

SUMMED_TERMS = """
import torch


def train(model, heads, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        outs = [h(model(x)) for h in heads]
        loss = sum({terms})
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
"""

YOLO_LOSS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class YoloLoss(nn.Module):
    def forward(self, output, target):
        batchsize = output.shape[0]
        loss_xy, loss_wh, loss_obj = 0, 0, 0
        for scale in range(3):
            loss_xy += F.binary_cross_entropy(output[..., :2], target[..., :2], reduction="sum")
            loss_wh += F.mse_loss(output[..., 2:4], target[..., 2:4], reduction="sum")
            loss_obj += F.binary_cross_entropy(output[..., 4], target[..., 4], reduction="sum")
        loss = {total}
        return loss, loss_xy, loss_wh, loss_obj


def train(model, loader, optimizer, subdivisions):
    criterion = YoloLoss()
    step = 0
    for images, boxes in loader:
        step += 1
        loss, loss_xy, loss_wh, loss_obj = criterion(model(images), boxes)
        loss.backward()
        if step % subdivisions == 0:
            optimizer.step()
            model.zero_grad()
"""

CASES = {
    "modulo_unscaled.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "divided_copy_unscaled.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        reported = loss / k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "counter_unscaled.py": """
import torch

def train(model, stream, opt, crit, micro_batches=8):
    seen = 0
    while True:
        x, y = next(stream)
        crit(model(x), y).backward()
        seen += 1
        if seen == micro_batches:
            opt.step()
            opt.zero_grad()
            seen = 0
""",
    "scaled_forms_ok.py": """
import torch

class Loop:
    def run(self, model, loader, optimizer, scaler, criterion):
        for i, (x, y) in enumerate(loader):
            loss = criterion(model(x), y) / self.accum
            scaler.scale(loss).backward()
            if (i + 1) % self.accum == 0:
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad()

def other(model, loader, optimizer, criterion, k):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss /= k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "inner_range_unscaled.py": """
import torch

def train(model, get_batch, optimizer, steps, accum):
    for it in range(steps):
        for micro in range(accum):
            x, y = get_batch()
            loss = model(x, y).loss
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
""",
    "accelerate_ok.py": """
import torch

def train(model, loader, optimizer, accelerator):
    for x, y in loader:
        with accelerator.accumulate(model):
            loss = model(x, y).loss
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
""",
    # Accelerate skips the prepared optimizer's zero_grad between synchronisations, not the
    # module's own: `model.zero_grad()` under `accumulate(model)` wipes the window each batch.
    "accelerate_module_zero_grad.py": """
import torch

def train(policy, loader, optimizer, accelerator, compute_loss):
    for batch in loader:
        with accelerator.accumulate(policy):
            loss = compute_loss(policy, batch)
            accelerator.backward(loss)
            optimizer.step()
            policy.zero_grad(set_to_none=True)
""",
    # ... only after a synchronised step, or on a module the window does not accumulate.
    "accelerate_module_zero_grad_ok.py": """
import torch

def train(policy, critic, loader, optimizer, accelerator, compute_loss):
    for batch in loader:
        with accelerator.accumulate(policy):
            loss = compute_loss(policy, batch)
            accelerator.backward(loss)
            optimizer.step()
            if accelerator.sync_gradients:
                policy.zero_grad(set_to_none=True)
            critic.zero_grad()
""",
    # A loss summed over the batch (reduction="sum") accumulates to the full batch's sum: the
    # same scale as one big batch, nothing to divide. The mean-reduced twin is still the bug.
    "sum_reduced_ok.py": """
import torch
import torch.nn as nn
import torch.nn.functional as F

def train(model, loader, optimizer, k=4):
    loss_fn = nn.BCELoss(reduction="sum").cuda()
    for x, y in loader:
        optimizer.zero_grad()
        for j in range(k):
            loss = loss_fn(model(x[j]), y[j])
            loss.backward()
        optimizer.step()

def train_functional(model, loader, optimizer, k=4):
    for i, (x, y) in enumerate(loader):
        loss = F.mse_loss(model(x), y, reduction="sum")
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    # The file's own loss module (a YOLO loss) adds up `reduction="sum"` terms and returns
    # the total first in a tuple: summed over the batch, nothing to divide over the
    # subdivisions. The twin divides its total by the batch size: a mean, the bug.
    "module_sum_loss_ok.py": YOLO_LOSS.format(total="loss_xy + loss_wh / 2 + loss_obj"),
    "module_mean_loss_unscaled.py": YOLO_LOSS.format(total="(loss_xy + loss_wh / 2 + loss_obj) / batchsize"),
    # `sum(...)` over the heads' loss terms is a sum like `l1 + l2`: plain terms, undivided
    # (the bug); every term divided by k, divided.
    "summed_terms_unscaled.py": SUMMED_TERMS.format(terms="[criterion(o, y) for o in outs]"),
    "summed_terms_ok.py": SUMMED_TERMS.format(terms="criterion(o, y) / k for o in outs"),
    # A helper that back-propagates and steps on every call and never clears, called once
    # per iteration of a loop that clears nothing: the bug, at the call. The same helper in a
    # loop that clears first, or a helper that clears itself: silent.
    "step_helper_no_clear.py": STEP_HELPER.format(clear="pass", before=""),
    "step_helper_loop_clears_ok.py": STEP_HELPER.format(clear="pass", before="opt.zero_grad()"),
    "step_helper_clears_ok.py": STEP_HELPER.format(clear="opt.zero_grad()", before=""),
    # Divided in place (`loss.div_(k)`) before backward: silent.
    "divided_in_place_ok.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        loss.div_(k)
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "mean_reduced_unscaled.py": """
import torch
import torch.nn as nn

def train(model, loader, optimizer, k=4):
    loss_fn = nn.BCELoss().cuda()
    for x, y in loader:
        optimizer.zero_grad()
        for j in range(k):
            loss = loss_fn(model(x[j]), y[j])
            loss.backward()
        optimizer.step()
""",
    # A method the caller runs once per micro-batch: backward on every call, the step under a
    # counter test on an attribute. Undivided: the bug; divided: silent; a counter that only
    # gates logging is no window; a clear on every call of such a function wipes the window.
    "method_window_unscaled.py": """
import torch

class Trainer:
    def update(self, x, y):
        loss = self.criterion(self.net(x), y)
        loss.backward()
        self.updates += 1
        if self.updates % self.k == 0:
            self.optimizer.step()
            self.optimizer.zero_grad()

def train_step(model, optimizer, criterion, x, y, step, k):
    optimizer.zero_grad()
    loss = criterion(model(x), y) / k
    loss.backward()
    if (step + 1) % k == 0:
        optimizer.step()
""",
    "method_window_ok.py": """
import torch

class Trainer:
    def update(self, x, y):
        loss = self.criterion(self.net(x), y)
        loss = loss / self.k
        loss.backward()
        self.updates += 1
        if self.updates % self.k == 0:
            self.optimizer.step()
            self.optimizer.zero_grad()

    def logged_update(self, x, y, step):
        self.optimizer.zero_grad()
        loss = self.criterion(self.net(x), y)
        loss.backward()
        self.optimizer.step()
        if step % 100 == 0:
            print(loss.item())
""",
    "zero_grad_every_micro.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
        optimizer.zero_grad()
""",
    "zero_grad_window_start_ok.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        if i % k == 0:
            optimizer.zero_grad()
        loss = criterion(model(x), y) / k
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
""",
    "no_zero_grad.py": """
import torch

def train(model, loader, optimizer, criterion):
    optimizer.zero_grad()
    for x, y in loader:
        criterion(model(x), y).backward()
        optimizer.step()
""",
    "zero_grad_helper_ok.py": """
import torch

def clear(optimizer):
    optimizer.zero_grad(set_to_none=True)

def train(model, loader, optimizer, criterion):
    for x, y in loader:
        criterion(model(x), y).backward()
        optimizer.step()
        clear(optimizer)

def train2(model, loader, optimizer, criterion):
    for x, y in loader:
        for p in model.parameters():
            p.grad = None
        criterion(model(x), y).backward()
        optimizer.step()
""",
    # -- per optimizer (GANs): #17 critic loops, #16 "any zero_grad satisfies every optimizer" --
    "gan_n_critic_ok.py": """
import torch

def train(generator, discriminator, loader, opt, n_critic=5):
    optimizer_G = torch.optim.RMSprop(generator.parameters(), lr=opt.lr)
    optimizer_D = torch.optim.RMSprop(discriminator.parameters(), lr=opt.lr)
    for epoch in range(opt.n_epochs):
        for i, (imgs, _) in enumerate(loader):
            optimizer_D.zero_grad()
            fake = generator(torch.randn(imgs.size(0), 100)).detach()
            loss_D = -torch.mean(discriminator(imgs)) + torch.mean(discriminator(fake))
            loss_D.backward()
            optimizer_D.step()
            if i % n_critic == 0:
                optimizer_G.zero_grad()
                loss_G = -torch.mean(discriminator(generator(torch.randn(imgs.size(0), 100))))
                loss_G.backward()
                optimizer_G.step()
""",
    "gan_generator_never_cleared.py": """
import torch

def train(generator, discriminator, loader):
    optimizer_G = torch.optim.Adam(generator.parameters())
    optimizer_D = torch.optim.Adam(discriminator.parameters())
    for imgs in loader:
        optimizer_D.zero_grad()
        fake = generator(torch.randn(imgs.size(0), 100))
        d_loss = discriminator(imgs).mean() - discriminator(fake.detach()).mean()
        d_loss.backward()
        optimizer_D.step()
        g_loss = -discriminator(fake).mean()
        g_loss.backward()
        optimizer_G.step()
""",
    "gan_model_zero_grad_ok.py": """
import torch

def train(generator, discriminator, loader):
    opt_g = torch.optim.Adam(generator.parameters())
    opt_d = torch.optim.Adam(discriminator.parameters())
    for imgs in loader:
        discriminator.zero_grad()
        fake = generator(torch.randn(imgs.size(0), 100))
        d_loss = discriminator(imgs).mean() - discriminator(fake.detach()).mean()
        d_loss.backward()
        opt_d.step()
        generator.zero_grad()
        g_loss = -discriminator(fake).mean()
        g_loss.backward()
        opt_g.step()
""",
    "gan_other_model_zero_grad.py": """
import torch

def train(generator, discriminator, loader):
    opt_g = torch.optim.Adam(generator.parameters())
    opt_d = torch.optim.Adam(discriminator.parameters())
    for imgs in loader:
        discriminator.zero_grad()
        fake = generator(torch.randn(imgs.size(0), 100))
        d_loss = discriminator(imgs).mean() - discriminator(fake.detach()).mean()
        d_loss.backward()
        opt_d.step()
        g_loss = -discriminator(fake).mean()
        g_loss.backward()
        opt_g.step()
""",
    # accumulation of one optimizer; the other optimizer's zero_grad every micro-batch is harmless
    "accumulation_other_optimizer_zero_grad_ok.py": """
import torch

def train(encoder, head, loader, criterion, k=4):
    opt_enc = torch.optim.Adam(encoder.parameters())
    opt_head = torch.optim.Adam(head.parameters())
    for i, (x, y) in enumerate(loader):
        opt_head.zero_grad()
        loss = criterion(head(encoder(x)), y) / k
        loss.backward()
        opt_head.step()
        if (i + 1) % k == 0:
            opt_enc.step()
            opt_enc.zero_grad()
""",
    # the optimizer reads a parameter list built from two modules: clearing both modules clears it
    "params_list_model_zero_grad_ok.py": """
import torch

def train(encoder, decoder, loader, criterion):
    params = list(decoder.parameters()) + list(encoder.linear.parameters())
    optimizer = torch.optim.Adam(params)
    for images, captions in loader:
        loss = criterion(decoder(encoder(images), captions), captions)
        decoder.zero_grad()
        encoder.zero_grad()
        loss.backward()
        optimizer.step()
""",
    # one backward feeds two optimizers stepping together; only the first is ever cleared
    "two_optimizers_one_backward.py": """
import torch

def train(model, embed, loader, criterion):
    optimizer = torch.optim.Adam(model.parameters())
    sparse_optimizer = torch.optim.SparseAdam(embed.parameters())
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(embed(x)), y)
        loss.backward()
        optimizer.step()
        sparse_optimizer.step()
""",
    # -- per path: zero_grad on the AMP branch only ------------------------------------------------
    "amp_branch_only_clears.py": """
import torch

def train(model, loader, optimizer, criterion, scaler, use_amp):
    for x, y in loader:
        if use_amp:
            optimizer.zero_grad()
            with torch.autocast("cuda"):
                loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
""",
    "amp_branches_cleared_ok.py": """
import torch

def train(model, loader, optimizer, criterion, scaler, use_amp):
    for x, y in loader:
        optimizer.zero_grad()
        if use_amp:
            with torch.autocast("cuda"):
                loss = criterion(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
""",
    # -- the divisor must be the window size, not the running counter -----------------------------
    "counter_divisor.py": """
import torch

def train(model, loader, optimizer, criterion, accum_steps=4):
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        (loss / (step + 1)).backward()
        if (step + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "window_divisor_ok.py": """
import torch

def train(model, loader, optimizer, criterion, accum_steps=4):
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        (loss / accum_steps).backward()
        if (step + 1) % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()

def train_const(model, loader, optimizer, criterion):
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / 8
        loss.backward()
        if (step + 1) % 8 == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    # -- Accelerate scales only inside accumulate() or with gradient_accumulation_steps -----------
    "accelerate_manual_gate.py": """
import torch
from accelerate import Accelerator

def train(model, loader, optimizer, k=4):
    accelerator = Accelerator(mixed_precision="bf16")
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for step, batch in enumerate(loader):
        loss = model(**batch).loss
        accelerator.backward(loss)
        if (step + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    # Accelerate's own nlp_example shape: a local `gradient_accumulation_steps` (not the
    # Accelerator's setting) and the loss divided by hand: silent; not divided: flagged
    "accelerate_local_setting.py": """
import torch
from accelerate import Accelerator

def train(model, loader, optimizer, batch_size):
    accelerator = Accelerator(cpu=False)
    gradient_accumulation_steps = batch_size // 16
    for step, batch in enumerate(loader):
        loss = model(**batch).loss
        divided = loss / gradient_accumulation_steps
        accelerator.backward(divided)
        if step % gradient_accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
    for step, batch in enumerate(loader):
        loss = model(**batch).loss
        accelerator.backward(loss)
        if step % gradient_accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "accelerate_configured_ok.py": """
import torch
from accelerate import Accelerator

def train(model, loader, optimizer, k=4):
    accelerator = Accelerator(gradient_accumulation_steps=k)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for step, batch in enumerate(loader):
        loss = model(**batch).loss
        accelerator.backward(loss)
        if (step + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    # -- backward and step gated together, forward and zero_grad every micro-batch ----------------
    "gated_backward_drops_batches.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        if (i + 1) % k == 0:
            loss.backward()
            optimizer.step()
""",
    "gated_on_data_ok.py": """
import torch

def train(model, loader, optimizer, criterion):
    for i, (x, y) in enumerate(loader):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        if torch.isfinite(loss):
            loss.backward()
            optimizer.step()
""",
    # -- Lightning manual optimisation: training_step is one micro-batch --------------------------
    "lightning_manual_bad.py": """
import torch
import lightning as L

class Model(L.LightningModule):
    def __init__(self, k=4):
        super().__init__()
        self.automatic_optimization = False
        self.k = k

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        opt.zero_grad()
        loss = self.compute_loss(batch)
        self.manual_backward(loss)
        if (batch_idx + 1) % self.k == 0:
            opt.step()
""",
    "lightning_manual_ok.py": """
import torch
import lightning as L

class Model(L.LightningModule):
    def __init__(self, k=4):
        super().__init__()
        self.automatic_optimization = False
        self.k = k

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        loss = self.compute_loss(batch)
        self.manual_backward(loss / self.k)
        if (batch_idx + 1) % self.k == 0:
            opt.step()
            opt.zero_grad()
""",
    # -- the loss unpacked from a tuple (`logits, loss = model(x, y)`), nanoGPT's micro-step loop --
    "tuple_loss_micro_steps.py": """
import torch

def train(model, get_batch, optimizer, scaler, gradient_accumulation_steps):
    for it in range(1000):
        for micro_step in range(gradient_accumulation_steps):
            logits, loss = model(*get_batch())
            scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
""",
    "tuple_loss_divided_ok.py": """
import torch

def train(model, get_batch, optimizer, scaler, gradient_accumulation_steps):
    for it in range(1000):
        for micro_step in range(gradient_accumulation_steps):
            logits, loss = model(*get_batch())
            loss = loss / gradient_accumulation_steps
            scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
""",
    # a helper of the file returns (outputs, loss): its loss is read at the unpacked place
    "tuple_from_helper.py": """
import torch
import torch.nn.functional as F

def plain(model, x, y):
    out = model(x)
    return out, F.cross_entropy(out, y)

def divided(model, x, y, k):
    out = model(x)
    return out, F.cross_entropy(out, y) / k

def train(model, loader, optimizer, k=4):
    for i, (x, y) in enumerate(loader):
        out, loss = plain(model, x, y)
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()

def train_divided(model, loader, optimizer, k=4):
    for i, (x, y) in enumerate(loader):
        out, loss = divided(model, x, y, k)
        loss.backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    # -- a weighted sum of losses: an undivided term is summed over the window whatever the weight --
    "weighted_sum_unscaled.py": """
import torch

def train(encoder, decoder, loader, optimizer, distill_loss, proj_loss, pars, accumulation_steps=2):
    for i, (img, noisy) in enumerate(loader):
        feats = encoder(img)
        L_proj = proj_loss(feats, encoder(noisy))
        L_distill = distill_loss(feats, decoder(feats))
        loss = L_distill + pars.weight_proj * L_proj
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "weighted_sum_divided_ok.py": """
import torch

def train(encoder, decoder, loader, optimizer, distill_loss, proj_loss, pars, accumulation_steps=2):
    for i, (img, noisy) in enumerate(loader):
        feats = encoder(img)
        L_proj = proj_loss(feats, encoder(noisy))
        L_distill = distill_loss(feats, decoder(feats))
        loss = (L_distill + pars.weight_proj * L_proj) / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()

def train_terms_divided(encoder, decoder, loader, optimizer, distill_loss, proj_loss, pars, accumulation_steps=2):
    for i, (img, noisy) in enumerate(loader):
        feats = encoder(img)
        loss = distill_loss(feats, decoder(feats)) / accumulation_steps \
            - pars.weight_proj * proj_loss(feats, encoder(noisy)) / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    # -- #17: loops that time forward/backward/step on a module nobody reads afterwards ---------
    "speed_benchmark.py": """
import time
import torch

def bench(layer_cls, args, n=1000):
    layer = layer_cls(args).to(args.device)
    optimizer = torch.optim.Adam(layer.parameters(), 1e-4)
    optimizer.zero_grad()
    x = torch.ones(4, 100, args.d_model, device=args.device)
    target = torch.zeros(4, 100, args.d_model, device=args.device)
    used = 0
    start = time.time()
    for i in range(n):
        out = layer(x)
        used += torch.cuda.memory_allocated() / 1024 ** 3
        loss = ((target - out) ** 2).mean()
        loss.backward()
        optimizer.step()
    print("time per step", (time.time() - start) / n, "memory", used / n)
""",
    # the same shapes whose results are read: the module returned, the loss printed or kept,
    # the module evaluated or saved, a closure reading it
    "trained_results_read.py": """
import torch

def fit(net_cls, loader, criterion):
    net = net_cls()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
    return net

def fit_printing(net_cls, loader, criterion):
    net = net_cls()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        print(loss.item())

def fit_history(net_cls, loader, criterion, history):
    net = net_cls()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        out = net(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.step()
        history["loss"] = loss.detach()

def fit_then_save(net_cls, loader, criterion, path):
    net = net_cls()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        criterion(net(x), y).backward()
        optimizer.step()
    torch.save(net.state_dict(), path)

def fit_then_score(net_cls, loader, criterion, evaluate):
    net = net_cls()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        criterion(net(x), y).backward()
        optimizer.step()
        if criterion(net(x), y) < 0.1:
            break
    def predict(x):
        return net(x)
    return predict

def fit_wrapped(net_cls, loader, criterion, path):
    net = net_cls()
    model = torch.nn.DataParallel(net)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        criterion(model(x), y).backward()
        optimizer.step()
    torch.save(net.state_dict(), path)
""",
    # -- windows split across functions of the file: the step or the backward in a helper ------
    "step_in_helper_unscaled.py": """
import torch

class Trainer:
    def optimizer_step(self):
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad()

    def train(self, loader):
        for i, (x, y) in enumerate(loader):
            loss = self.criterion(self.model(x), y)
            loss.backward()
            if (i + 1) % self.accum == 0:
                self.optimizer_step()
""",
    "step_in_helper_ok.py": """
import torch

class Trainer:
    def optimizer_step(self):
        self.optimizer.step()
        self.optimizer.zero_grad()

    def log(self, loss):
        print(loss.item())

    def train(self, loader):
        for i, (x, y) in enumerate(loader):
            loss = self.criterion(self.model(x), y) / self.accum
            loss.backward()
            if (i + 1) % self.accum == 0:
                self.optimizer_step()

    def train_every_batch(self, loader):
        for i, (x, y) in enumerate(loader):
            loss = self.criterion(self.model(x), y)
            loss.backward()
            self.optimizer_step()
            if (i + 1) % 100 == 0:
                self.log(loss)
""",
    "backward_in_helper_unscaled.py": """
import torch

def backward_step(model, batch, criterion):
    x, y = batch
    loss = criterion(model(x), y)
    loss.backward()
    return loss.item()

def train(model, loader, optimizer, criterion, k=4):
    for i, batch in enumerate(loader):
        backward_step(model, batch, criterion)
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
""",
    "backward_in_helper_ok.py": """
import torch

def backward_step(model, batch, criterion, k):
    x, y = batch
    loss = criterion(model(x), y) / k
    loss.backward()

def update_generator(G, D, opt_g, z):
    opt_g.zero_grad()
    loss = -D(G(z)).mean()
    loss.backward()
    opt_g.step()

def train(model, loader, optimizer, criterion, k=4):
    for i, batch in enumerate(loader):
        backward_step(model, batch, criterion, k)
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()

def train_gan(G, D, loader, opt_d, opt_g, n_critic=5):
    for i, imgs in enumerate(loader):
        opt_d.zero_grad()
        z = torch.randn(imgs.size(0), 100)
        d_loss = D(G(z).detach()).mean() - D(imgs).mean()
        d_loss.backward()
        opt_d.step()
        if i % n_critic == 0:
            update_generator(G, D, opt_g, z)
""",
    # -- DDP accumulation: `no_sync()` on the micro-batches that do not step, a gate held in a name --
    "no_sync_branches_unscaled.py": """
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        if (i + 1) % k != 0:
            with model.no_sync():
                loss = criterion(model(x), y)
                loss.backward()
        else:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
""",
    "named_gate_unscaled.py": """
import contextlib
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        sync = (i + 1) % k == 0
        with (contextlib.nullcontext() if sync else model.no_sync()):
            loss = criterion(model(x), y)
            loss.backward()
        if sync:
            optimizer.step()
            optimizer.zero_grad()
""",
    "no_sync_and_named_gate_ok.py": """
import contextlib
import torch

def train(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        if (i + 1) % k != 0:
            with model.no_sync():
                loss = criterion(model(x), y) / k
                loss.backward()
        else:
            loss = criterion(model(x), y) / k
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

def train_named(model, loader, optimizer, criterion, k=4):
    for i, (x, y) in enumerate(loader):
        sync = (i + 1) % k == 0
        with (contextlib.nullcontext() if sync else model.no_sync()):
            loss = criterion(model(x), y) / k
            loss.backward()
        if sync:
            optimizer.step()
            optimizer.zero_grad()

def train_finite(model, loader, optimizer, criterion):
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        finite = torch.isfinite(loss)
        loss.backward()
        if finite:
            optimizer.step()
        optimizer.zero_grad()

def train_window_penalty(model, loader, optimizer, criterion, k=4):
    # the penalty is back-propagated once per window, beside the step: not one of the k
    for i, (x, y) in enumerate(loader):
        loss = criterion(model(x), y) / k
        loss.backward()
        if (i + 1) % k == 0:
            penalty = model.weight_penalty()
            penalty.backward()
            optimizer.step()
            optimizer.zero_grad()
""",
}


EXPECTED = {
    "modulo_unscaled.py": [("TRN401", 6)],
    "divided_copy_unscaled.py": [("TRN401", 7)],
    "counter_unscaled.py": [("TRN401", 7)],
    "scaled_forms_ok.py": [],
    "inner_range_unscaled.py": [("TRN401", 8)],
    "accelerate_ok.py": [],
    "zero_grad_every_micro.py": [("TRN402", 9)],
    "zero_grad_window_start_ok.py": [],
    "no_zero_grad.py": [("TRN403", 7)],
    "zero_grad_helper_ok.py": [],
    "gan_n_critic_ok.py": [],
    "gan_generator_never_cleared.py": [("TRN403", 14)],
    "gan_model_zero_grad_ok.py": [],
    "params_list_model_zero_grad_ok.py": [],
    "two_optimizers_one_backward.py": [("TRN403", 11)],
    "gan_other_model_zero_grad.py": [("TRN403", 14)],
    "accumulation_other_optimizer_zero_grad_ok.py": [],
    "amp_branch_only_clears.py": [("TRN403", 15)],
    "amp_branches_cleared_ok.py": [],
    "counter_divisor.py": [("TRN401", 6)],
    "window_divisor_ok.py": [],
    "accelerate_manual_gate.py": [("TRN401", 9)],
    "accelerate_configured_ok.py": [],
    "accelerate_local_setting.py": [("TRN401", 16)],
    "gated_backward_drops_batches.py": [("TRN402", 8)],
    "accelerate_module_zero_grad.py": [("TRN402", 9)],
    "accelerate_module_zero_grad_ok.py": [],
    "sum_reduced_ok.py": [],
    "method_window_unscaled.py": [("TRN401", 6), ("TRN402", 13)],
    "method_window_ok.py": [],
    "mean_reduced_unscaled.py": [("TRN401", 10)],
    "module_sum_loss_ok.py": [],
    "summed_terms_unscaled.py": [("TRN401", 8)],
    "summed_terms_ok.py": [],
    "divided_in_place_ok.py": [],
    "step_helper_no_clear.py": [("TRN403", 16)],
    "step_helper_loop_clears_ok.py": [],
    "step_helper_clears_ok.py": [],
    "module_mean_loss_unscaled.py": [("TRN401", 24)],
    "gated_on_data_ok.py": [],
    # zero_grad on every micro-batch: nothing is summed over the window, so no TRN401 (the step
    # sees one micro-batch, which is TRN402's finding).
    "lightning_manual_bad.py": [("TRN402", 12)],
    "lightning_manual_ok.py": [],
    "tuple_loss_micro_steps.py": [("TRN401", 7)],
    "tuple_loss_divided_ok.py": [],
    "tuple_from_helper.py": [("TRN401", 15)],
    "weighted_sum_unscaled.py": [("TRN401", 9)],
    "weighted_sum_divided_ok.py": [],
    "speed_benchmark.py": [("TRN403", 17)],
    "no_sync_branches_unscaled.py": [("TRN401", 8), ("TRN401", 11)],
    "named_gate_unscaled.py": [("TRN401", 9)],
    "no_sync_and_named_gate_ok.py": [],
    "step_in_helper_unscaled.py": [("TRN401", 12)],
    "step_in_helper_ok.py": [],
    "backward_in_helper_unscaled.py": [("TRN401", 11)],
    "backward_in_helper_ok.py": [],
    "trained_results_read.py": [("TRN403", 9), ("TRN403", 18), ("TRN403", 28), ("TRN403", 36), ("TRN403", 44), ("TRN403", 57)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("accumulation"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_rules_query_the_one_accumulation_finder():
    # #19: the TRN401-TRN403 rules ask auditor/analysis/accumulation.py; they walk no loops,
    # conditions or call sites of their own.
    import ast
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "rules" / "accumulation.py").read_text()
    called = {node.func.attr for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not called & {"loops_of", "sites_in", "ancestors", "calls_in", "is_zero_grad", "is_backward"}


def test_counter_divisor_says_so_and_offers_no_edit(found):
    (finding,) = found["counter_divisor.py"]
    assert "micro-batch counter" in finding["message"] and finding["fix"] is None
    (plain,) = found["modulo_unscaled.py"]
    assert plain["fix"] is not None and plain["fix"]["applicability"] == "unsafe"


def test_benchmark_loop_is_info_and_says_why(found):
    (finding,) = found["speed_benchmark.py"]
    assert finding["severity"] == "info" and "no reported number depends on it" in finding["message"]
    assert {f["severity"] for f in found["trained_results_read.py"]} == {"error"}
