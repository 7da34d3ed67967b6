"""Runtime-only rules: identity and documentation of what the guards and probes observe.

These rules have no static check (kind="runtime"): `reference_loop` reports them while
code runs (`auditor train`, `auditor run`, `reference_loop.fit`). They live in the
catalog so that `auditor rules` lists them and `auditor rule NAME` explains them.
Their examples are documentation, judged at run time rather than by `auditor check`.
"""

from __future__ import annotations

from auditor.findings import Severity
from auditor.rule import Rule


class _RuntimeRule(Rule):
    kind = "runtime"


class SplitOverlap(_RuntimeRule):
    code = "TRN207"
    name = "split-overlap"
    severity = Severity.ERROR
    summary = "The same samples occur in the training data and in the validation or test data."
    what = """
        Before training, hashes every row of the training, validation and test inputs and
        counts evaluation rows identical to a training row; then counts near-duplicates:
        evaluation rows closer to a training row than 1/1000 of the typical distance
        between neighbouring training rows (a copy with float noise, an augmented copy).
        """
    why = """
        A sample seen in training and scored again in evaluation measures memory, not
        generalization: validation picks the wrong epoch and the test score is optimistic.
        It happens when data is augmented or oversampled before the split, when a data
        set holds duplicates, or when splits are drawn independently.
        """
    instead = """
        Split first, then augment or oversample the training split only; keep identical
        rows (and rows of one patient, user or document) within one split, e.g. with a
        group-aware split. `reference_loop.prepare_splits` keeps duplicates together.
        """
    bad_examples = (
        """
        X_aug = np.concatenate([X, X + 1e-6 * rng.standard_normal(X.shape)])
        y_aug = np.concatenate([y, y])
        X_train, X_test, y_train, y_test = train_test_split(X_aug, y_aug)
        """,
    )
    good_examples = (
        """
        X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
        X_train = np.concatenate([X_train, X_train + 1e-6 * rng.standard_normal(X_train.shape)])
        """,
    )


class NonfiniteLoss(_RuntimeRule):
    code = "TRN407"
    name = "nonfinite-loss"
    severity = Severity.ERROR
    summary = "The training loss became NaN or Inf."
    what = """
        Keeps a running sum of the training loss on the device (finite exactly when every
        term is) and reads it every 64 steps and at the end of the run, so the check costs
        no synchronization per step.
        """
    why = """
        Once the loss is NaN or Inf, every gradient and every later weight is garbage,
        while the loop keeps running and logging as if nothing happened.
        """
    instead = """
        Lower the learning rate or clip gradients; look for `log(0)`, division by zero,
        fp16 overflow without a `GradScaler`, or bad values in the data.
        """


class ParameterWithoutGradient(_RuntimeRule):
    code = "TRN408"
    name = "parameter-without-gradient"
    severity = Severity.WARNING
    summary = "A trainable parameter never receives a gradient."
    what = """
        Before the first optimizer steps (and every 200th after), records which trainable
        parameters (`requires_grad=True`) hold a nonzero gradient; reports those that
        never do.
        """
    why = """
        A parameter without gradient never learns: a layer built in `__init__` but not used
        in `forward`, a branch cut off by `.detach()` or `.data`, or an embedding row that
        no input reaches. It still costs memory, weight decay and DDP synchronization.
        """
    instead = "Use the layer in `forward`, remove it, or freeze it with `requires_grad_(False)`."
    bad_examples = (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(10, 2)
                self.head = nn.Linear(10, 2)  # never used

            def forward(self, x):
                return self.fc(x)
        """,
    )


class InitialLossOff(_RuntimeRule):
    code = "TRN901"
    name = "initial-loss-off"
    severity = Severity.WARNING
    summary = "The loss at initialization is far from its expected chance value."
    what = """
        Probe of the reference loop: measures the loss of the untrained model on up to 256
        training samples and compares it with the loss of a model that knows nothing yet:
        ln(C) for C classes with cross-entropy or NLL, ln(2) for a binary target. More than
        1.5 times (or less than half) that value is reported.
        """
    why = """
        An initial loss far above ln(C) means over-confident initial outputs (a last layer
        initialized too large, a missing normalization): the first steps are spent undoing
        the initialization, and training may diverge or saturate.
        """
    instead = """
        Initialize the last layer small (or its bias to the class prior), normalize the
        inputs, and check that the outputs are logits.
        """


class CannotOverfitBatch(_RuntimeRule):
    code = "TRN902"
    name = "cannot-overfit-batch"
    severity = Severity.ERROR
    summary = "The model cannot drive the loss on one small batch close to zero."
    what = """
        Probe of the reference loop: trains a copy of the model in eval mode (dropout off)
        with Adam on one batch of 16 training samples for up to 300 steps, and expects the
        loss to fall below 5% of its starting value.
        """
    why = """
        Any model with enough capacity memorizes 16 samples. If it cannot, something caps
        the loss: a softmax before `CrossEntropyLoss` (the loss cannot go below a floor well
        above 0), targets that do not match the outputs, a detached graph, or a bug in the
        forward pass. Training on the full data set will fail in the same way, more slowly.
        """
    instead = "Return logits from the model; check targets, the loss and the forward pass."
    bad_examples = (
        """
        model = nn.Sequential(nn.Linear(64, 10), nn.Softmax(dim=1))
        loss_fn = nn.CrossEntropyLoss()
        """,
    )
    good_examples = (
        """
        model = nn.Sequential(nn.Linear(64, 10))
        loss_fn = nn.CrossEntropyLoss()
        """,
    )


class BatchDependence(_RuntimeRule):
    code = "TRN903"
    name = "batch-dependence"
    severity = Severity.ERROR
    summary = "The output for one sample depends on the other samples of its batch."
    what = """
        Probe of the reference loop: with the model in eval mode (so batch norm uses its
        running statistics and does not mix samples by design), back-propagates from the
        first sample's output to the inputs; any nonzero gradient on another sample's input
        means samples are mixed. Integer inputs (token ids) are checked by replacing the
        other samples with copies of the first instead.
        """
    why = """
        A reshape or view that crosses the batch dimension (`x.view(-1, batch)` instead of
        `x.view(batch, -1)`), a transpose in the wrong place or a reduction over dim 0 makes
        predictions depend on what else is in the batch: metrics change with the batch
        size and the model learns from the wrong samples.
        """
    instead = "Keep the batch dimension first and untouched: `x.flatten(1)`, `x.view(x.size(0), -1)`."
    bad_examples = (
        """
        def forward(self, x):          # x: (batch, channels, length)
            h = self.conv(x)
            return self.fc(h.view(-1, x.size(0)).t())   # mixes samples
        """,
    )
    good_examples = (
        """
        def forward(self, x):
            h = self.conv(x)
            return self.fc(h.flatten(1))
        """,
    )


class ParametersNotUpdated(_RuntimeRule):
    code = "TRN904"
    name = "parameters-not-updated"
    severity = Severity.ERROR
    summary = "Trainable parameters with a gradient do not change after an optimizer step."
    what = """
        Probe of the reference loop: takes one training step on a copy of the model with a
        copy of the optimizer and lists parameters that received a nonzero gradient yet are
        bit-for-bit unchanged, naming those missing from the optimizer's `param_groups`.
        """
    why = """
        Parameters left out of the optimizer (built before a layer was added or replaced,
        or from one sub-module only) or with a learning rate of zero get gradients but never
        learn; the model trains, just worse, and nothing says so.
        """
    instead = "Build the optimizer from `model.parameters()` after the model is complete."
    bad_examples = (
        """
        model = Net()
        optimizer = torch.optim.SGD(model.encoder.parameters(), lr=0.1)  # head never updated
        """,
    )
    good_examples = (
        """
        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        """,
    )


class AccumulationMismatch(_RuntimeRule):
    code = "TRN905"
    name = "accumulation-mismatch"
    severity = Severity.ERROR
    summary = "Gradients accumulated over k micro-batches differ from the full-batch gradient."
    what = """
        Probe of the reference loop when `accumulation_steps` is k > 1: in eval mode with
        deterministic algorithms, computes the gradient of k*m samples as one batch and as
        k accumulated micro-batches of m through the loop's own micro-step, and compares
        them (relative error above 1e-3 is reported, with the ratio of the norms).
        """
    why = """
        Accumulation is meant to be a bigger batch. A loss with `reduction="sum"`, a loss
        not divided by the micro-batches of the window, or a model whose output depends on
        the batch makes the accumulated gradient k times too large (or just different), so
        the effective learning rate changes with the accumulation setting.
        """
    instead = "Use a mean-reduced loss and divide it by the number of micro-batches in the window."
    bad_examples = (
        """
        loss_fn = nn.CrossEntropyLoss(reduction="sum")
        for i, (x, y) in enumerate(loader):
            (loss_fn(model(x), y) / k).backward()
            if (i + 1) % k == 0:
                optimizer.step()
                optimizer.zero_grad()
        """,
    )


RUNTIME_RULES: list[Rule] = [
    SplitOverlap(), NonfiniteLoss(), ParameterWithoutGradient(), InitialLossOff(), CannotOverfitBatch(),
    BatchDependence(), ParametersNotUpdated(), AccumulationMismatch(),
]

__all__ = ["RUNTIME_RULES"]
