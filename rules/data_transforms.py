"""TRN205, TRN206: what evaluation data goes through, and distributed shuffling."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import EVAL_SPLITS, split_of_name, split_of_string, splits_of
from auditor.findings import Severity
from auditor.rule import Rule
from rules._carved_eval import carved_eval_parts, retransformed, source_transform
from rules._helpers import argument, keyword
from rules._queries import LOOPS, bound_values, constructor, string_value

# torchvision transforms (v1 and v2) whose output is random.
RANDOM_TRANSFORMS = {
    "RandomResizedCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
    "RandomAffine", "ColorJitter", "RandomErasing", "RandomPerspective", "RandomGrayscale", "RandAugment",
    "AutoAugment", "TrivialAugmentWide", "AugMix", "RandomApply", "RandomChoice", "RandomOrder",
    "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast",
    "RandomEqualize", "GaussianBlur", "ElasticTransform", "RandomPhotometricDistort", "RandomZoomOut",
    "RandomIoUCrop", "ScaleJitter", "RandomShortestSize", "RandomResize", "RandomChannelPermutation",
    "GaussianNoise", "RandomCutmix", "RandomMixup", "CutMix", "MixUp", "JPEG",
}
TRANSFORM_MODULES = ("torchvision.transforms.", "torchvision.transforms.v2.")
COMPOSE = ("torchvision.transforms.Compose", "torchvision.transforms.v2.Compose")
DISTRIBUTED_SAMPLER = "torch.utils.data.DistributedSampler"
DATALOADER = "torch.utils.data.DataLoader"


def _random_transform(model, node: cst.BaseExpression) -> Optional[str]:
    built = constructor(model, node)
    if built and built.startswith(TRANSFORM_MODULES) and built.rsplit(".", 1)[-1] in RANDOM_TRANSFORMS:
        return built.rsplit(".", 1)[-1]
    return None


def _random_parts(model, node: cst.BaseExpression, function, depth: int = 0) -> Iterator[cst.Call]:
    """The random transforms in a transform expression: a Compose list, a name bound to one, or one alone."""
    if depth > 3:
        return
    if isinstance(node, cst.Call) and _random_transform(model, node):
        yield node
        return
    if isinstance(node, cst.Call) and matches(constructor(model, node), *COMPOSE):
        listed = argument(node, "transforms", 0)
        if isinstance(listed, (cst.List, cst.Tuple)):
            for element in listed.elements:
                yield from _random_parts(model, element.value, function, depth + 1)
        return
    if isinstance(node, (cst.Name, cst.Attribute)):
        for value in bound_values(model, node, function):
            yield from _random_parts(model, value, function, depth + 1)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and not node.args:
        # `transform=get_train_transforms()`: a function of this file that returns a pipeline.
        infos = model.functions_named(node.func.value)
        if len(infos) == 1:
            for ret in infos[0].returns:
                if ret.value is not None:
                    yield from _random_parts(model, ret.value, infos[0].node, depth + 1)


def _assigned_name(model, node: cst.CSTNode) -> Optional[str]:
    parent = model.parent(node)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return dotted_name(parent.targets[0].target)
    return None


class AugmentationInEvalTransform(Rule):
    code = "TRN205"
    name = "augmentation-in-eval-transform"
    severity = Severity.WARNING
    summary = "Random augmentations in the transforms of validation or test data."
    what = """
        Flags random torchvision transforms (`RandomCrop`, `RandomHorizontalFlip`,
        `ColorJitter`, `RandAugment`, ...) in a transform pipeline that evaluation data
        goes through: a pipeline assigned to an evaluation name (`val_transform`,
        `test_tf`), or passed as `transform=` to a dataset that is validation or test
        data (`train=False`, `split="val"`, or assigned to `test_ds`), including one
        pipeline shared by the training and the test dataset. So does a validation or test
        part carved out of a dataset built with random augmentation (`train_set, val_set =
        random_split(CIFAR10(..., transform=train_tf), ...)`, `val_set = Subset(train_dataset,
        val_idx)`), unless the file gives that part its own transform (`val_set.dataset.transform
        = ...`, or wraps it in another call).

        Across boundaries: a pipeline bound to a name is followed to its definition in the
        same scope or module, and through a function of the file that returns it
        (`transform=get_train_transforms()`). It cannot see pipelines built in another module or chosen at
        run time (`get_transform(train=is_train)`).

        Severity warning: evaluation metrics become noisy and biased, which corrupts the
        choices made on them; they are likely wrong, not certainly.
        """
    why = """
        Evaluation must measure the model on the data as it is. Random augmentation makes
        validation metrics noisy from epoch to epoch and run to run, biases them
        (crops cut objects out, flips break text and digits), and corrupts model
        selection and early stopping that read them.
        """
    instead = """
        Give evaluation data its own deterministic pipeline: resize, center crop, convert
        and normalize only.
        """
    bad_examples = (
        """
        from torchvision import datasets, transforms

        tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])
        train_ds = datasets.CIFAR10("data", train=True, transform=tf)
        test_ds = datasets.CIFAR10("data", train=False, transform=tf)
        """,
    )
    good_examples = (
        """
        from torchvision import datasets, transforms

        train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])
        test_tf = transforms.Compose([transforms.CenterCrop(32), transforms.ToTensor()])
        train_ds = datasets.CIFAR10("data", train=True, transform=train_tf)
        test_ds = datasets.CIFAR10("data", train=False, transform=test_tf)
        """,
    )
    needs_imports = ("torchvision",)

    def check(self, ctx) -> None:
        model = ctx.model
        reported: set = set()
        self._check_carved(ctx)
        for site in model.calls:
            call = site.node
            # 1. A pipeline assigned to an evaluation name.
            if matches(constructor(model, call), *COMPOSE) or _random_transform(model, call):
                name = _assigned_name(model, call)
                if split_of_name(name) in EVAL_SPLITS:
                    for part in _random_parts(model, call, site.function):
                        if part not in reported:
                            reported.add(part)
                            ctx.report(part, f"`{dotted_name(part.func)}` is random augmentation in `{name}`, "
                                             f"a transform for evaluation data")
                continue
            # 2. A dataset of evaluation data given a transform.
            transform = keyword(call, "transform")
            if transform is None:
                continue
            split = self._dataset_split(model, call)
            if split not in EVAL_SPLITS:
                continue
            parts = [p for p in _random_parts(model, transform.value, site.function) if p not in reported]
            if not parts:
                continue
            if transform.value is parts[0] or model.is_within(parts[0], transform.value):
                for part in parts:
                    reported.add(part)
                    ctx.report(part, f"`{dotted_name(part.func)}` is random augmentation in the transform "
                                     f"of {split} data")
            else:  # a pipeline defined elsewhere (often shared with training)
                names = ", ".join(sorted({dotted_name(p.func) or "" for p in parts}))
                ctx.report(transform.value, f"the transform of this {split} dataset, "
                                            f"`{dotted_name(transform.value) or 'pipeline'}`, applies random "
                                            f"augmentation ({names}); give evaluation data its own pipeline")

    @staticmethod
    def _check_carved(ctx) -> None:
        """`train_set, val_set = random_split(CIFAR10(..., transform=train_tf), ...)`: the
        validation part shares the dataset object, hence the training transform."""
        model = ctx.model
        text = None
        for site in model.calls:
            for name, source in carved_eval_parts(model, site):
                transform = source_transform(model, source, site.function, bound_values)
                parts = list(_random_parts(model, transform, site.function)) if transform is not None else []
                if not parts:
                    continue
                text = model.code(model.module) if text is None else text
                if retransformed(model, name, text):
                    continue
                names = ", ".join(sorted({dotted_name(p.func) or "" for p in parts}))
                ctx.report(site.node, f"`{name}` is carved out of `{dotted_name(source) or 'a dataset'}`, whose "
                                      f"transform applies random augmentation ({names}): the evaluation part goes "
                                      f"through the training transform; build it from a dataset with an "
                                      f"evaluation transform")

    @staticmethod
    def _dataset_split(model, call: cst.Call) -> Optional[str]:
        train = keyword(call, "train")
        if train is not None and isinstance(train.value, cst.Name):
            return "test" if train.value.value == "False" else "train"
        for name in ("split", "subset", "image_set", "mode"):
            given = keyword(call, name)
            text = string_value(given.value) if given is not None else None
            if text is not None:
                return split_of_string(text)
        return split_of_name(_assigned_name(model, call))


class DistributedSamplerWithoutSetEpoch(Rule):
    code = "TRN206"
    name = "distributed-sampler-without-set-epoch"
    severity = Severity.WARNING
    summary = "A shuffling DistributedSampler in an epoch loop without sampler.set_epoch(epoch)."
    what = """
        Flags a `DistributedSampler` that shuffles (the default) when the loader built on
        it is iterated, or handed to a function, inside an epoch loop and the file never
        calls `set_epoch(...)` on anything (nor `accelerator.prepare`, which calls it).
        A sampler over validation or test data is skipped: its order does not change an
        evaluation.

        Across boundaries: the loader is followed to loops in the same scope and to calls
        that receive it; a `set_epoch` anywhere in the file counts as done (it cannot tell
        which sampler a `set_epoch` in another module reaches).

        Severity warning: every epoch sees the same order, which is wasteful and usually
        trains a little worse; the numbers are not wrong.
        """
    why = """
        `DistributedSampler` seeds its shuffle with `seed + epoch`. Without `set_epoch`,
        the epoch stays 0 and every epoch sees the same order on every rank: the
        shuffle you asked for happens once, and training generalizes worse for no
        visible reason.
        """
    instead = "Call `sampler.set_epoch(epoch)` (or `loader.sampler.set_epoch(epoch)`) at the top of every epoch."
    bad_examples = (
        """
        from torch.utils.data import DataLoader, DistributedSampler

        sampler = DistributedSampler(train_ds)
        loader = DataLoader(train_ds, batch_size=32, sampler=sampler)
        for epoch in range(10):
            for x, y in loader:
                step(x, y)
        """,
    )
    good_examples = (
        """
        from torch.utils.data import DataLoader, DistributedSampler

        sampler = DistributedSampler(train_ds)
        loader = DataLoader(train_ds, batch_size=32, sampler=sampler)
        for epoch in range(10):
            sampler.set_epoch(epoch)
            for x, y in loader:
                step(x, y)
        val_sampler = DistributedSampler(val_ds, shuffle=False)
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        if any(site.node.func.attr.value in ("set_epoch", "prepare") for site in model.calls
               if isinstance(site.node.func, cst.Attribute)):
            return  # set_epoch is called somewhere, or accelerate prepares the loaders (it calls it)
        for site in model.calls_matching(DISTRIBUTED_SAMPLER):
            shuffle = argument(site.node, "shuffle", 3)
            if isinstance(shuffle, cst.Name) and shuffle.value == "False" or \
                    (shuffle is not None and not isinstance(shuffle, cst.Name)):
                continue
            data = argument(site.node, "dataset", 0)
            if data is not None and splits_of(model).split_of(data, site.function) in EVAL_SPLITS:
                continue  # evaluation order does not matter
            loaders = self._loaders_of(model, site)
            if any(self._used_in_epoch_loop(model, loader) for loader in loaders):
                ctx.report(site.node, "this shuffling `DistributedSampler` is used across epochs but "
                                      "`set_epoch(epoch)` is never called: every epoch has the same order")

    @staticmethod
    def _loaders_of(model, site) -> list[str]:
        """Names of the DataLoaders drawing from this sampler."""
        sampler_name = _assigned_name(model, site.node)
        loaders = []
        for other in model.calls:
            if not matches(other.qualname, DATALOADER):
                continue
            given = keyword(other.node, "sampler")
            if given is None:
                continue
            if given.value is site.node or (sampler_name and dotted_name(given.value) == sampler_name):
                name = _assigned_name(model, other.node)
                if name:
                    loaders.append(name)
        return loaders

    @staticmethod
    def _used_in_epoch_loop(model, loader: str) -> bool:
        for node in _uses(model, loader):
            loops = [a for a in model.ancestors(node) if isinstance(a, LOOPS)]
            if loops and isinstance(loops[0], cst.For) and (loops[0].iter is node or model.is_within(node, loops[0].iter)):
                loops = loops[1:]  # the loop over the loader itself is not the epoch loop
            if loops and (model.enclosing_function(loops[0]) is model.enclosing_function(node)):
                return True
        return False


def _uses(model, name: str) -> Iterator[cst.CSTNode]:
    """Reads of `name` as a loop's iterable or a call argument (from the model's call table and parents)."""
    for site in model.calls:
        for arg in site.node.args:
            if dotted_name(arg.value) == name:
                yield arg.value
    for node, parent in model.parents.items():
        if isinstance(parent, cst.For) and parent.iter is node and dotted_name(node) == name:
            yield node


DATA_TRANSFORM_RULES = [AugmentationInEvalTransform(), DistributedSamplerWithoutSetEpoch()]
