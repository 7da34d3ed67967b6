"""TRN401-TRN403: gradient accumulation and clearing gradients."""

from __future__ import annotations

from auditor.analysis.accumulation import (accumulation_loops, backward_in_helper, backward_operand, clears_otherwise,
                                           dropped_micro_batches, module_clears_under_accumulate, optimizer_of_step,
                                           optimizer_steps, periodic_clear,
                                           iteration_of, runs_every_iteration, scaled, unclearing_step_helpers)
from auditor.analysis.grad_rescale import gradients_rescaled
from auditor.analysis.imported_step_helpers import imported_unclearing_calls
from auditor.analysis.project_names import project_has_table
from auditor.analysis.manual_updates import uncleared_manual_updates
from auditor.analysis.unobserved import training_unobserved
from auditor.findings import Severity
from auditor.fixes.builders import accumulation_steps, divide_loss_fix
from auditor.rule import Rule
from rules._helpers import program, shorten


class UnscaledGradAccumulation(Rule):
    code = "TRN401"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "unscaled-grad-accumulation"
    severity = Severity.ERROR
    summary = "Gradients are accumulated over micro-batches without dividing the loss."
    what = """
        Finds accumulation windows: a step of ONE optimizer that consumes several backward
        calls (backward on every micro-batch, that optimizer's step only every k under a
        counter/modulo condition, past a guard that leaves the iteration on the others
        (`if (i + 1) % k != 0: continue`, `return` in a per-micro-batch method), a name bound
        to one (`sync = (i + 1) % k == 0`), or after an
        inner `range(k)` loop or a loop over the pieces of one batch (`for xs, ys in
        zip(x.chunk(k), y.chunk(k))`, `x.split(mb)`); DDP's `if not last: with model.no_sync(): backward` /
        `else: backward; step` alternates across micro-batches), and flags the backward
        when the loss it differentiates is never divided by the window size (`loss / k`,
        `loss /= k`, `loss.div_(k)`, `loss * (1 / k)`, `criterion(...) / self.k`,
        `scaler.scale(loss / k)`).
        A divided copy that backward never sees does not count, nor does a divisor that
        reads the micro-batch counter (`loss / (i + 1)` weighs micro-batches 1, 1/2, 1/3...).
        A window averaged at the gradients instead (`p.grad.data.mul_(1.0 / k)`, `p.grad /= k`,
        an optimizer's `multiply_grads(...)` before the step: MAML meta-batches) is scaled. A
        literal weight on one term of a sum (`ce + 0.1 * reg`) is not the window's division.
        A window whose optimizer is cleared on every micro-batch (`opt.zero_grad()` before each
        backward) sums nothing: the step sees one micro-batch, which is TRN402's finding.
        Optimizers stepped in a loop over a list or dict of them (`for opt in self.optimizers:
        scaler.step(opt)`) are stepped once per iteration of the loop around it. A loss handed
        as a parameter to a per-micro-batch step method is judged by what this file's callers
        pass (another module's callers are not read).
        A loss summed over the batch (`reduction="sum"`, legacy `size_average=False`, on the
        call or on the criterion it calls, or in the `forward` of this file's own loss module:
        a YOLO loss adding up summed terms, unpacked from the tuple it returns) needs no
        division: the window's sums add up to the full batch's sum.
        A backward feeds the step(s) that follow it up to the first one that runs whenever
        it runs: a GAN generator updated every n_critic batches with its own backward is a
        schedule, not a window. `accelerator.backward` inside `accelerator.accumulate(...)`,
        or with an `Accelerator(gradient_accumulation_steps=...)`, and DeepSpeed's
        `engine.backward` scale for you; `accelerator.backward` under a manual `step % k`
        gate with an Accelerator built here without that setting is checked.
        Across boundaries: a Lightning `training_step` that calls `self.manual_backward` is
        one micro-batch of the trainer's loop (`(batch_idx + 1) % k == 0`), and so is any
        function that back-propagates unconditionally on every call and steps only under a
        micro-batch counter test (`def update(self, batch): ... if self.updates % k == 0:`);
        a loss returned by a helper in the same file is followed into it, and so is a tuple
        element
        (`logits, loss = model(x, y)`, a helper's `return out, loss` or `return (loss,
        *outputs[1:])` unpacked as `loss, *_`, `lm_loss, mc_loss = outputs[:2]`), and so is an indexed
        element (`model(**inputs)[0]`, `loss = outputs[0]`, refreshed by `loss = loss.mean()`
        for DataParallel); a sum with an undivided
        loss term (`l1 + w * l2`, `sum(crit(o, y) for o in outs)`, `sum([l1, l2])`, terms weighted
        by configuration: `lm * args.lm_coef + mc * args.mc_coef`) is undivided. A window split across functions of the same
        file is seen: the step in a helper called under the counter
        (`if (i + 1) % k == 0: self.optimizer_step()`, a helper that steps and never
        back-propagates), or the backward in a helper called every micro-batch (reported at
        the call, without an edit). It cannot see such helpers in another module, or an
        Accelerator built in another module (then `accelerator.backward` is trusted).
        Severity error: the step applies k times the gradient, the numbers are wrong.
        """
    why = """
        Gradients add up: the step sees k times the gradient of one batch, so the effective
        learning rate is k times larger than intended and changing k changes training.
        """
    instead = "Divide each micro-batch loss by the number of micro-batches before `backward()`."
    bad_examples = (
        """
        import torch

        def train(model, loader, optimizer, criterion, accum_steps=4):
            for i, (x, y) in enumerate(loader):
                loss = criterion(model(x), y)
                loss.backward()
                if (i + 1) % accum_steps == 0:
                    optimizer.step()
                    optimizer.zero_grad()
        """,
    )
    good_examples = (
        """
        import torch

        def train(model, loader, optimizer, criterion, accum_steps=4):
            for i, (x, y) in enumerate(loader):
                loss = criterion(model(x), y) / accum_steps
                loss.backward()
                if (i + 1) % accum_steps == 0:
                    optimizer.step()
                    optimizer.zero_grad()
        """,
    )

    def check(self, ctx) -> None:
        prog = program(ctx)
        reported = set()
        uses = {id(use.step.node): use for use in optimizer_steps(prog)}
        for acc in accumulation_loops(prog):
            iteration = iteration_of(prog, acc.step) or acc.loop
            if gradients_rescaled(prog, acc.step, iteration, acc.counters):
                continue  # averaged at the gradients (`p.grad.mul_(1 / k)` before the step)
            if _clears_every_micro_batch(prog, acc, uses.get(id(acc.step.node))):
                continue  # nothing is summed over the window: the step sees one micro-batch (TRN402)
            for backward in acc.backwards:
                operand = backward_operand(backward)
                if backward.node in reported or \
                        scaled(prog, operand, backward.function, counters=acc.counters) is not False:
                    continue
                reported.add(backward.node)
                shown = shorten(ctx.model.code(operand)) if operand is not None else "the loss"
                window = f"per accumulation window (`{shorten(ctx.model.code(acc.step.node))}`)"
                helper = acc.via.get(id(backward.node))
                if helper is not None:
                    # back-propagated inside a helper: report where the loop calls it; the window
                    # size is the caller's, so no edit inside the helper can name it
                    ctx.report(helper.node,
                               f"`{shorten(ctx.model.code(helper.node))}` back-propagates `{shown}` "
                               f"(line {ctx.position(backward.node).start.line}) on every micro-batch "
                               f"but the optimizer steps only once {window}, and the loss is never "
                               f"divided by the number of micro-batches: the step sees their sum; divide "
                               f"the loss by the accumulation steps before backward")
                    continue
                if scaled(prog, operand, backward.function) is True:
                    # divided, but by the running micro-batch counter: no edit can know the window
                    ctx.report(backward.node,
                               f"backward on `{shown}` runs every micro-batch but the optimizer steps only once "
                               f"{window}, and the loss is divided by the micro-batch counter, not the "
                               f"window size: micro-batches are weighed 1, 1/2, 1/3... and still summed; "
                               f"divide by the accumulation steps instead")
                    continue
                ctx.report(backward.node,
                           f"backward on `{shown}` runs every micro-batch but the optimizer steps only once "
                           f"{window}, and the loss is never divided by the number of micro-batches: the "
                           f"step sees their sum; divide the loss by the accumulation steps before backward",
                           fix=divide_loss_fix(ctx, operand, accumulation_steps(acc.loop, acc.condition)))


class ZeroGradInsideAccumulation(Rule):
    code = "TRN402"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "zero-grad-inside-accumulation"
    severity = Severity.ERROR
    summary = "zero_grad() runs on every micro-batch of an accumulation loop."
    what = """
        In an accumulation window (one optimizer steps once every k micro-batches), flags a
        `zero_grad()` that clears THAT optimizer's gradients on every micro-batch:
        unconditionally in the micro-batch loop rather than together with the step. Clears
        are paired per optimizer: `opt.zero_grad()` on the same receiver, or
        `model.zero_grad()` on a module the optimizer was built over (read through
        `Adam(model.parameters())` and local parameter lists); another optimizer's
        `zero_grad()` (a GAN critic's) is not this one's.
        Also flags the backward when backward and step sit together under the micro-batch
        counter while the loss is computed, and the gradients cleared, on every micro-batch:
        the other micro-batches' forward passes are thrown away (meant as accumulation). A
        gated update whose own forward and zero_grad are inside the gate (GAN n_critic) and
        gates on data (`if torch.isfinite(loss):`) are left alone.
        Inside `with accelerator.accumulate(model):` (Accelerate skips the prepared optimizer's
        `step()`/`zero_grad()` until the window's last micro-batch), flags `model.zero_grad()`
        on that same module run unconditionally: the module's own method is not skipped.
        Across boundaries: Lightning `training_step` with `self.manual_backward` is one
        micro-batch. It cannot see a zero_grad done by a callback or hook, nor the owner of an
        optimizer built in another module (then `model.zero_grad()` counts only when the
        function steps one optimizer).
        Severity error: the step sees one micro-batch instead of k, the numbers are wrong.
        """
    why = """
        Each micro-batch wipes the gradients accumulated so far: the step uses only the last
        micro-batch, so the effective batch is k times smaller than intended and most of the
        data contributes nothing.
        """
    instead = "Call `zero_grad()` right after `optimizer.step()`, inside the same condition."
    bad_examples = (
        """
        import torch

        def train(model, loader, optimizer, criterion, accum_steps=4):
            for i, (x, y) in enumerate(loader):
                optimizer.zero_grad()
                loss = criterion(model(x), y) / accum_steps
                loss.backward()
                if (i + 1) % accum_steps == 0:
                    optimizer.step()
        """,
    )
    good_examples = UnscaledGradAccumulation.good_examples

    def check(self, ctx) -> None:
        prog = program(ctx)
        reported = set()
        uses = {id(use.step.node): use for use in optimizer_steps(prog)}
        for acc in accumulation_loops(prog):
            use = uses.get(id(acc.step.node))
            if use is None:
                continue  # the step is inside a helper: its clears are the helper's business
            for site in _clears_every_micro_batch(prog, acc, use):
                if site.node in reported:
                    continue
                reported.add(site.node)
                ctx.report(site.node,
                           f"`{shorten(ctx.model.code(site.node))}` runs on every micro-batch of this "
                           f"accumulation loop, discarding the gradients accumulated for "
                           f"`{shorten(ctx.model.code(acc.step.node))}`; clear gradients only after the step")
        for site, accumulate in module_clears_under_accumulate(prog):
            if site.node in reported:
                continue
            reported.add(site.node)
            ctx.report(site.node,
                       f"`{shorten(ctx.model.code(site.node))}` clears the module's gradients on every "
                       f"micro-batch of `{shorten(ctx.model.code(accumulate))}`: only the prepared "
                       f"optimizer's `zero_grad()` is skipped between synchronisations, so the "
                       f"accumulated gradients are thrown away; call `optimizer.zero_grad()` instead")
        for use, condition, backward in dropped_micro_batches(prog):
            if backward.node in reported:
                continue
            reported.add(backward.node)
            ctx.report(backward.node,
                       f"the loss is computed on every micro-batch but `{shorten(ctx.model.code(backward.node))}` "
                       f"and `{shorten(ctx.model.code(use.step.node))}` run only when "
                       f"`{shorten(ctx.model.code(condition.test))}`, and "
                       f"`{shorten(ctx.model.code(use.clears[0].node))}` runs on every one: the other "
                       f"micro-batches are never back-propagated; to accumulate, call backward on every "
                       f"micro-batch (loss divided by the window) and clear gradients only after the step")


class MissingZeroGrad(Rule):
    code = "TRN403"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "missing-zero-grad"
    severity = Severity.ERROR
    summary = "A training loop calls backward and step but never clears the gradients."
    what = """
        Flags an optimizer step in a loop that back-propagates into it but never clears that
        optimizer's gradients on the same path: `opt.zero_grad()` of the same optimizer,
        `model.zero_grad()` of a module it optimizes, `p.grad = None`, or a helper that calls
        zero_grad. Also flags a step that runs on every iteration while every clear of its
        optimizer sits under a test on the iteration count (`if i % 100 == 0:`, a logging
        block): between two clears each step applies the sum of the gradients since the last
        one (a clear at the start of each accumulation window, with the step gated too, is
        accumulation, not this). Paired per optimizer (a GAN whose critic clears and whose generator never
        does is flagged at the generator's step) and per path (`zero_grad()` only on the AMP
        branch of an if/else does not clear the fp32 branch). A `model.zero_grad()` whose
        relation to the optimizer cannot be read counts as clearing.
        Across boundaries: helpers in the same file are read; an unknown function or method
        handed the optimizer or model may clear it (silent), unless it is an object built from
        a class of another module of the run whose code never clears (a loss module handed the
        encoder: `self.loss(batch, self.encoder)`). A helper of the file that
        back-propagates and steps on every call and never clears (`def train_step(model, opt,
        x, y)`; the backward may sit in another helper of the file it calls on every call,
        `loss = self.forward_backward(batch)`), called once per iteration of a loop of the
        file that clears nothing either, is flagged at the call (not when the helper is a
        method of a class built on another module's class, whose hooks may clear, unless the
        function running the loop clears the gradients itself once, above the loop; a plain
        `nn.Module` or `object` has none).
        The same holds one level up: a function that calls such a helper outside any loop of
        its own and clears nothing (an RL agent's `step()` calling `self.learn()` once its
        replay buffer is full), and, through the module summaries, a loop of another module
        that calls either on every iteration (`agent.learn()` in `main.py`, with `agent`
        built from that module's class, or from any of the classes a flag chooses between, or
        an imported `train_step`; the driver need not import torch). A loop that steps but
        back-propagates through a helper of the file (`self.compute_loss(x, y)` calling
        `loss.backward()`) is judged as if it called backward itself, unless some level of
        the helper clears. Gradient descent by hand is a step too: a tensor updated in place
        from its own gradient (`w -= lr * w.grad`, `p.data.sub_(lr * p.grad)`) on every
        iteration of a loop that back-propagates, where nothing in the iteration clears that
        tensor's gradient (`w.grad.zero_()`, `w.grad = None`, `zero_grad()`); a tensor
        re-created each iteration (`x = x.detach().requires_grad_()`) starts empty.
        Optimizers held in a list or dict and stepped in a loop over it (`for o in opts:
        o.step()`) are paired with clears through loops over the same collection. It cannot
        see clearing done in
        another module's training framework (hooks, callbacks).
        Severity error: every step applies the sum of all gradients so far. Info when nothing
        the loop trains is ever read (speed and memory benchmarks): the module is built in the
        same function and neither it, the optimizer, nor anything computed from its outputs
        leaves forward, backward and step (returned, printed, logged, stored, compared, saved,
        handed to another call or a closure); a module wrapping another local one is not
        judged so.
        """
    why = """
        `backward()` adds into `.grad`: without clearing, every step uses the sum of all
        gradients so far, which grows without bound and makes the updates meaningless.
        """
    instead = "Call `optimizer.zero_grad()` once per step (before backward or right after the step)."
    bad_examples = (
        """
        import torch

        def train(model, loader, optimizer, criterion):
            for x, y in loader:
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
        """,
    )
    good_examples = (
        """
        import torch

        def train(model, loader, optimizer, criterion):
            for x, y in loader:
                optimizer.zero_grad()
                loss = criterion(model(x), y)
                loss.backward()
                optimizer.step()
        """,
    )

    # A driver script need not import torch: `agent.learn()` in a loop of a file importing only
    # gym and the agent's module (the step helpers of other modules are read from the summaries).
    needs_imports = ()

    def check(self, ctx) -> None:
        if "torch" not in ctx.source.text:
            if project_has_table(ctx.project, "unclearing_steps"):
                self._report_imported(ctx, program(ctx))
            return
        prog = program(ctx)
        model = ctx.model
        for use in optimizer_steps(prog):
            step = use.step
            if use.backwards and not _unobserved_benchmark(prog, use):
                periodic = periodic_clear(prog, use)
                if periodic is not None:
                    ctx.report(step.node,
                               f"`{shorten(model.code(step.node))}` runs on every iteration but the gradients "
                               f"are cleared only when `{shorten(model.code(periodic.test))}`: each step in "
                               f"between applies the sum of all gradients since the last clear; clear them "
                               f"once per step, outside that condition")
                    continue
            helper = backward_in_helper(prog, use) if not use.backwards else None
            if use.loop is step.function or not (use.backwards or helper) or use.clears or use.maybe_clears:
                continue
            if clears_otherwise(prog, use) is not False:
                continue
            if helper is not None:
                if not training_unobserved(prog, step, use.optimizer):
                    ctx.report(step.node,
                               f"this loop calls `{shorten(model.code(helper.node))}`, which back-propagates, "
                               f"and then `{shorten(model.code(step.node))}`, but never clears "
                               f"{'`' + use.optimizer + '`' + chr(39) + 's' if use.optimizer else 'its'} "
                               f"gradients, nor does that helper: each step applies the sum of all previous "
                               f"gradients; call `{use.optimizer or 'optimizer'}.zero_grad()` once per step")
                continue
            message = (f"this loop calls backward and `{shorten(model.code(step.node))}` but never clears "
                       f"{'`' + use.optimizer + '`' + chr(39) + 's' if use.optimizer else 'its'} gradients on "
                       f"this path, so each step applies the sum of all previous gradients; call "
                       f"`{use.optimizer or 'optimizer'}.zero_grad()` once per step")
            if training_unobserved(prog, step, use.optimizer):
                # A speed or memory benchmark: nothing it trains is ever read, no number is wrong.
                ctx.report(step.node, message + " (nothing this loop trains is read afterwards: the module, "
                                                "its outputs and the loss never leave forward, backward "
                                                "and step, so no reported number depends on it)",
                           severity=Severity.INFO)
                continue
            ctx.report(step.node, message)
        for step, call in unclearing_step_helpers(prog):
            helper = shorten(model.code(call.node))
            message = (f"this loop calls `{helper}` every iteration, which back-propagates and calls "
                       f"`{shorten(model.code(step.node))}` (line {ctx.position(step.node).start.line}) but "
                       f"never clears the gradients, and nothing in the loop does: each step applies the sum "
                       f"of all previous gradients; call `zero_grad()` once per step (in the helper, "
                       f"before backward)")
            if training_unobserved(prog, step, optimizer_of_step(step)):
                continue  # a benchmark: reported by nothing else either
            ctx.report(call.node, message)
        self._report_imported(ctx, prog)
        for update in uncleared_manual_updates(prog):
            ctx.report(update.node,
                       f"`{shorten(model.code(update.node))}` updates `{update.target}` by hand from its "
                       f"gradient on every iteration of a loop that back-propagates, but nothing in the loop "
                       f"clears `{update.target}.grad`: backward adds into it, so each update applies the sum "
                       f"of all gradients so far; call `{update.target}.grad.zero_()` after the update")

    @staticmethod
    def _report_imported(ctx, prog) -> None:
        model = ctx.model
        for call in imported_unclearing_calls(prog):
            ctx.report(call.node,
                       f"this loop calls `{shorten(model.code(call.node))}` every iteration, which (in another "
                       f"module) back-propagates and steps the optimizer but never clears the gradients, and "
                       f"nothing in the loop does: each step applies the sum of all previous gradients; call "
                       f"`zero_grad()` once per step (in that function, before backward)")


def _clears_every_micro_batch(prog, acc, use) -> list:
    """The clears of the window's optimizer (`use`: its step, with the clears on its path) that
    run on every micro-batch of the accumulation loop `acc`, outside the step's condition."""
    if use is None:
        return []  # the step is inside a helper: its clears are the helper's business
    return [site for site in use.clears if prog.inside(site.node, acc.loop)
            and not (acc.condition is not None and prog.inside(site.node, acc.condition))
            and runs_every_iteration(prog, site.node, acc.loop)]  # not e.g. at each window's start


def _unobserved_benchmark(prog, use) -> bool:
    """A benchmark loop (nothing trained is read) is judged by the speed rule, not here."""
    return training_unobserved(prog, use.step, use.optimizer)


ACCUMULATION_RULES = [UnscaledGradAccumulation(), ZeroGradInsideAccumulation(), MissingZeroGrad()]
