"""TRN3xx: what reaches the loss."""

from __future__ import annotations

import os

from auditor.analysis.activations import BRANCH_BUILT, SIGMOID, SOFTMAX, activations_of
from auditor.analysis.handed import handed_together
from auditor.analysis.loss_inputs import loss_inputs_of
from auditor.findings import Severity
from auditor.fixes.builders import remove_activation_fix
from auditor.speed import mentions_any
from auditor.rule import Rule
from rules._helpers import shorten


class SoftmaxBeforeCrossEntropy(Rule):
    code = "TRN301"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "softmax-before-cross-entropy"
    # A lesson's training part may import nothing and use a model and criterion built by
    # an earlier part (module_objects.py): "loss" lets such a file in.
    needs_imports = ("torch", "loss")
    severity = Severity.ERROR
    summary = "Probabilities from softmax are passed to CrossEntropyLoss, which expects logits."
    what = """
        Flags `nn.CrossEntropyLoss` / `F.cross_entropy` whose input is the output of a
        softmax (`F.softmax`, `torch.softmax`, `x.softmax(...)`, `nn.Softmax`), directly,
        through variables, or because the model is an `nn.Sequential` ending in `nn.Softmax` or
        a model class whose `forward` returns a softmax on every path. `log_softmax` is not flagged: it is idempotent under the
        loss's own log-softmax, so the result is unchanged.

        It follows what reaches the loss: only the assignments that reach the call count
        (`y = self(x); y = torch.softmax(y, 1); crit(y, t)` is flagged, a loss taken before the
        softmax or a softmax on one branch only is not), through shape operations
        (`view`, `resize`, `squeeze`, `torch.squeeze`, `.float()`...) and clamps (`clamp`,
        `torch.clip`: clamped probabilities are still probabilities).

        Across boundaries it sees: `out = F.softmax(x, 1); return out` (through variables),
        one element of a returned tuple (`probs, loss = model(x, y)` only when that element
        reaches the loss), the model's own class through `self(x)` / `self.forward(x)` /
        `self.__call__(x)` (e.g. in `training_step`), and model classes of other modules of
        the run through their phase-1 summaries (`from .models import Net`). The loss may be
        the user's own: a class or function (of this module or another) whose `forward`
        hands its input, on every path, to `F.cross_entropy`; or a criterion installed on
        the object by another module or method: a setter (`model.add_loss_op(nn.CrossEntropyLoss())`
        with `self.loss_op = loss_op`), a constructor argument (`Trainer(net, criterion=...)`)
        or an attribute assigned from outside (`model.loss_fn = ...`), with every such
        install agreeing.

        What the callers decide: in `def train(model, criterion)`, the criterion and the
        model are what every caller passes (callers in this file, and in other modules of
        the run through their summaries), flagged only when all callers agree on the loss
        (`train(Classifier(), nn.CrossEntropyLoss())` from `main.py`); a caller that leaves
        the criterion to its default, or passes something else, keeps it silent. Once the
        loss is the same for every caller (its own, or what every caller passes), one caller
        handing it a model that ends in the activation is enough (a loop shared by several
        scripts, one of which builds the softmax model). The same
        holds for a trainer class given the model in its constructor (`self.model = model`
        in `__init__`, `Trainer(Classifier(), ...)` here or in another module), and for a
        method of a class of another module called on its instance (`local =
        LocalUpdate(args); local.train(net=net)`); a deep copy (`copy.deepcopy(net)`) is the
        model, and a caller whose branches build one of several classes of other modules
        (`if args.model == 'mlp': net = MLP() else: net = CNN()`) hands the softmax one on
        the run taking its branch (also when the other branch resumes from a checkpoint:
        `else: model = checkpoint['model']`). A model
        rebound to itself (`net = net.to(device)`, `net = net.train()`, or to what a helper
        hands back: `model = prune_layer(model, i)` returning its parameter) keeps its class;
        a loss called as `loss_fn.forward(p, y)` is that loss;
        a model built by a factory function (`model = build_model()`, here or imported from
        another module of the run, returning an `nn.Sequential` ending in `nn.Softmax` on
        every path), built from a list (`nn.Sequential(*layers)`, the last `layers.append(...)`
        above it counts), chaining layers the model holds (`nn.Sequential(self.fc, self.softmax)`
        with `self.softmax = nn.Softmax(dim=1)`) or filled by `seq.add_module(...)` calls (the last one added counts) is
        read too, and only the bindings of a name that reach the call count (a notebook
        rebinding `model` and `loss_fn` section by section).
        A criterion handed on unchanged through a caller's own parameter
        (`train_model(model, criterion)` calling `step(model, criterion)`) is what that
        caller's callers pass; a parameter whose default is a built-in loss
        (`def train(model, loader, criterion=nn.CrossEntropyLoss())`) is that loss when no
        call passes another; `criterion = criterion.cuda()` is the same loss, and so is what
        a function returning one built-in loss on every path gives (`criterion =
        get_loss()`, here or imported); `model(x)[0]` is that element of the returned
        tuple; a model wrapped
        by `nn.DataParallel`, `DistributedDataParallel` or `torch.compile`, or called as
        `model.forward(x)`, is the model; a factory of another module returning, on every
        path, classes of a third module that all end in the softmax (`get_model(name)`
        returning `nets.A()` or `nets.B()`) builds such a model, and a loss factory returning
        the user's own loss class (`get_loss()` returning a `DiceBCELoss` whose forward hands
        its input to `binary_cross_entropy_with_logits`) is that loss; a model class named through a package's
        `__init__` re-export is read from the module defining it; a fine-tuned model whose
        last layer is replaced (`model.fc = nn.Sequential(..., nn.Softmax(dim=1))` on a
        torchvision classifier, or on a class whose forward ends with `self.fc(...)`, also
        when the head is first bound to a name: `classifier = nn.Sequential(OrderedDict(...));
        model.classifier = classifier`) ends in that layer; an evaluator installed by one hook on its `pl_module` parameter is
        read back by the other hooks of the class given the same parameter.
        A library trainer handed both the loss and a model whose forward ends in a softmax
        (`NeuralNet(MyModule, criterion=nn.CrossEntropyLoss)`, skorch and its kin) applies
        one to the other and is flagged at the call (not for NLLLoss: skorch takes the log
        of probabilities itself). Dict outputs: `out['probs']` is the element stored under
        that key by the model's forward (`{'probs': F.softmax(x, 1)}` or
        `output['probs'] = ...`); a loss reading `output['probs']` from a dict it is handed
        (a head built by a registry) is flagged when every model class of the run that
        returns that key holds the activation's output there (one returning logits under
        the key keeps it silent).

        Lists and tuples of outputs (one per head, scale or supervision level): the element a
        loop walks (`for out in model(x)`, through `enumerate` and `zip`, or a comprehension's
        `sum(ce(p, y) for p in probs)`), or one position of a list the forward fills by
        `outs.append(...)`, is the activation's output when every element is (a list also
        changed by `insert`/`extend` is unknown). A model class that inherits `forward` from
        a base class of its module is read through that `forward`.

        Eval mode: a model whose forward applies the activation only when `self.training` is
        false (`if not self.training: x = F.softmax(x, 1)`, `x if self.training else ...`)
        returns logits to the training loss and probabilities after `model.eval()`: a loss
        taken after an `eval()` of the same function (on every path to it, no `train()`
        between) is flagged, typically a validation loss.

        Helpers and tables: a function of the run that returns the softmax on every path
        (`def predict(net, x): return F.softmax(net(x), 1)`, here, nested in the caller,
        imported, or star-imported) or a method other than forward of a model class the file
        builds (`clf.predict_proba(x)`) gives its probabilities to the loss; a model class
        star-imported from a module of the run (`from model import *`) is read there; a class
        deriving from `nn.Sequential` that keeps its base's forward ends in the last layer of
        its `super().__init__(...)` (not one a flag appends); `torch.cat`/`torch.stack` of
        outputs hold what every element holds; a model built from a table of classes
        (`MODELS[args.model](args)`) ends in the softmax when every class of the table does;
        `output['probs']` of a model handed in as a parameter is read from every model of the
        run returning that key.

        Aliases, slots, mixtures and flags: a lambda or `functools.partial` (keyword
        arguments only) wrapping the loss applies it to the matching argument, also when it
        is handed to a training function or is a parameter's default; a criterion kept as a
        class attribute (`CRITERION = nn.CrossEntropyLoss()` in the class body, read as
        `self.CRITERION` or `Client.CRITERION`) is that loss unless a method sets it on the
        instance; a torchvision head that is an `nn.Sequential` replaced in its last slot
        (`model.classifier[6] = nn.Sequential(..., nn.Softmax(dim=1))`, or `[-1]`, also on
        `self.net` in a wrapper's `__init__`) and the replaced `fc`/`head`/`classifier` of a
        `timm.create_model` model end the model; an ensemble's or augmentation's mean of
        probabilities (`(p1 + p2) / 2`, `0.5 * p1 + 0.5 * p2`, `torch.stack(ps).mean(0)`) is
        probabilities; a forward that applies the softmax under a flag its constructor stores
        (`if self.task == "classification":`, `if self.use_softmax:`) is read with the
        literal arguments (or literal defaults) of the construction the loss sees. A base
        class's `fit` training `self.model`, which only its subclasses fill (in any module
        of the run), reads the models those subclasses install; a criterion that the
        branches of one `if` pick among built-in losses (`CrossEntropyLoss` for
        classification, `MSELoss` otherwise) is that loss on the run taking its branch.

        Top-level objects of other modules: a model and a criterion built at another module's
        top level and imported by name (`from setup import model, criterion`), or used by a
        lesson's later part that imports nothing of torch and runs in the namespace of the files
        of its directory (`part_1_model.py` builds `model = IrisNet()` and `criterion`,
        `part_3_train.py` trains them; every file of the directory binding the name must agree).
        A forward applying the layers of a ModuleList or Sequential in a loop (`for layer in
        self.layers: x = layer(x)`) ends in the container's last layer (its literal's last
        element, or the last `append` of `__init__`).

        It cannot see a module that is not checked in the same run, models or criteria
        built by factories or registries whose return it cannot read (but see dict keys),
        a dict filled by `update(...)`, nor a user loss that chooses the loss under a
        condition (`if self.logits: ...`). A softmax used only for metrics or predictions
        is never flagged.
        """
    why = """
        CrossEntropyLoss applies log-softmax itself. Fed probabilities, it computes
        log-softmax of a softmax: the loss is squashed into a narrow band, gradients
        shrink, and training stalls at a loss floor well above zero, silently.
        """
    instead = "Pass the raw logits; apply softmax only for metrics, calibration or sampling."
    bad_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.CrossEntropyLoss()
        probs = F.softmax(model(x), dim=1)
        loss = criterion(probs, y)
        """,
    )
    good_examples = (
        """
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.CrossEntropyLoss()
        logits = model(x)
        loss = criterion(logits, y)
        confidence = F.softmax(logits, dim=1).max(dim=1).values
        """,
    )

    activation = SOFTMAX
    loss_kind = "ce"
    loss_name = "CrossEntropyLoss"
    applies = "log-softmax"

    def check(self, ctx) -> None:
        # Only calls of this loss are reported: a file that never names it has none (and
        # asking the loss kind of every call is most of this rule's time).
        model = ctx.model
        is_package = os.path.basename(ctx.path) == "__init__.py"
        losses = loss_inputs_of(model, ctx.project, ctx.module_name, is_package)
        # The user's own losses and installed criteria are named otherwise (see loss_inputs).
        if not mentions_any(ctx.source.text, losses.screen_words()):
            return
        activations = activations_of(model, ctx.project, ctx.module_name, is_package)
        self._handed_together(ctx, activations)
        for site in model.calls:
            found = losses.input_of(site)
            branched = found is None
            if branched:  # one branch of the configuration installs this loss
                found = losses.as_alternative(site, self.loss_kind)
            if found is None or found[0] != self.loss_kind:
                continue
            _, first, how = found
            evidence = activations.activation_of(first, site.function, self.activation)
            if branched and evidence and BRANCH_BUILT in evidence:
                # Both the loss and the model picked by branches: which pairs run together is
                # the configuration's business (`if binary: model, loss = SigmoidNet(), BCELoss()`).
                continue
            if evidence:
                via = f" ({how})" if how else ""
                ctx.report(site.node, f"{self.loss_name} receives `{shorten(model.code(first))}`{via}, the output of "
                                      f"a {self.activation} ({evidence}); it applies {self.applies} itself, so pass "
                                      f"the raw logits and keep the {self.activation} for metrics or predictions",
                           fix=None if how else remove_activation_fix(ctx, site.node, first, self.activation))


    def _handed_together(self, ctx, activations) -> None:
        """A trainer of a library given the loss and a model ending in the activation
        (`NeuralNet(MyModule, criterion=nn.CrossEntropyLoss)`): it applies one to the other."""
        reported = set()
        for site, kind, value in handed_together(ctx.model, ctx.project, ctx.module_name):
            if kind != self.loss_kind or site.node in reported:
                continue
            evidence = activations.argument_output(value, site.function, self.activation)
            if evidence:
                reported.add(site.node)
                ctx.report(site.node, f"`{site.callee or 'this call'}(...)` is given a {self.loss_name} and "
                                      f"the model `{shorten(ctx.model.code(value))}` ({evidence}); "
                                      f"the loss it computes on the model's output applies {self.applies} itself, "
                                      f"so the model should return the raw logits")


class SigmoidBeforeBCEWithLogits(SoftmaxBeforeCrossEntropy):
    code = "TRN302"
    kind = "both"  # also a runtime guard (auditor run, auditor train)
    name = "sigmoid-before-bce-with-logits"
    severity = Severity.ERROR
    summary = "Probabilities from a sigmoid are passed to BCEWithLogitsLoss, which expects logits."
    what = """
        Flags `nn.BCEWithLogitsLoss` / `F.binary_cross_entropy_with_logits` whose input is the
        output of a sigmoid (`torch.sigmoid`, `x.sigmoid()`, in place `x.sigmoid_()`, `nn.Sigmoid`,
        also clamped: `torch.clamp(x.sigmoid_(), 1e-4, 1 - 1e-4)`), directly, through
        variables (the assignments that reach the call) and shape operations, or because the
        model's `forward` (or its `nn.Sequential`) ends in one: in this file, in the model's
        own class (`self(x)` in `training_step`), or in a model class of another module
        checked in the same run. The loss may also be the user's own: a focal or weighted
        loss class or function, here or in another module, whose `forward` hands its input
        to `binary_cross_entropy_with_logits` on every path (a sigmoid used inside it only
        to build a weight is fine), or a criterion installed by another module (see TRN301,
        which also says what it cannot see, and for criteria and models handed to a
        training function or a library trainer, and dict outputs such as
        `output['exist']`). A sigmoid output into `nn.BCELoss` is correct and never flagged.
        """
    why = """
        The loss applies the sigmoid itself: a second sigmoid squeezes the inputs into
        (0.5, 0.73), the loss can never approach zero and gradients vanish, silently.
        """
    instead = "Return logits from the model and pass them to the loss; apply sigmoid only for predictions."
    bad_examples = (
        """
        import torch
        import torch.nn as nn

        criterion = nn.BCEWithLogitsLoss()
        probs = torch.sigmoid(model(x))
        loss = criterion(probs, y)
        """,
    )
    good_examples = (
        """
        import torch
        import torch.nn as nn

        criterion = nn.BCEWithLogitsLoss()
        logits = model(x)
        loss = criterion(logits, y)
        predictions = torch.sigmoid(logits) > 0.5
        """,
    )
    activation = SIGMOID
    loss_kind = "bce_logits"
    loss_name = "BCEWithLogitsLoss"
    applies = "the sigmoid"


LOSS_RULES = [SoftmaxBeforeCrossEntropy(), SigmoidBeforeBCEWithLogits()]
