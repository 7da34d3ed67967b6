"""Where a pretrained classifier's last layer sits, for fine-tuning code that replaces it.

- torchvision classifiers whose head is an `nn.Sequential`: the last layer is one element
  of it (`vgg16().classifier[6]`, `mobilenet_v2().classifier[1]`, or `[-1]` for any), and
  `model.classifier[6] = nn.Sequential(nn.Linear(4096, 5), nn.Softmax(dim=1))` replaces it;
- timm models (`timm.create_model(name)`): the head attribute depends on the architecture,
  so the one of `fc` / `head` / `classifier` that the code replaces is taken as the head.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name, matches

# torchvision families whose `classifier` is an nn.Sequential: the index of its last layer.
_SEQUENTIAL_HEADS = {"vgg": 6, "alexnet": 6, "mobilenet_v2": 1, "mobilenet_v3": 3, "efficientnet": 1, "mnasnet": 1}
_TIMM_BUILDERS = ("timm.create_model", "timm.models.create_model")
_TIMM_HEADS = ("fc", "head", "classifier")


def last_slot(qualified: Optional[str], attr: str) -> Optional[int]:
    """The index of the last layer in `attr` of the torchvision model `qualified` builds."""
    if attr != "classifier" or not qualified or not qualified.startswith("torchvision.models."):
        return None
    name = qualified.rsplit(".", 1)[-1]
    return next((index for prefix, index in _SEQUENTIAL_HEADS.items() if name.startswith(prefix)), None)


def slot_swaps(model: FileModel, target: str, last: int, function) -> list[tuple[cst.Assign, cst.BaseExpression]]:
    """`target[last] = value` / `target[-1] = value` statements of `function` (module level
    for None; any method of its class for `self.` targets): (statement, value), in source order."""
    cls = model.class_of(function) if target.startswith("self.") else None
    found = []
    for node, owner in _subscript_assigns(model):
        # `self.net.classifier[6] = ...` in `__init__` holds in every method of the class.
        if owner is not function and (cls is None or model.class_of(owner) is not cls):
            continue
        subscript = node.targets[0].target
        if dotted_name(subscript.value) == target and _index(subscript) in (last, -1):
            found.append((node, node.value))
    return found


def timm_head(model: FileModel, call: cst.Call, callee: str, function) -> Optional[str]:
    """For `callee = timm.create_model(...)`: the one head attribute the code replaces."""
    if not matches(model.qualify_call(call), *_TIMM_BUILDERS):
        return None
    replaced = [attr for attr in _TIMM_HEADS
                if any(b.kind == "assign" for b in model.bindings_of(f"{callee}.{attr}", function))]
    return replaced[0] if len(replaced) == 1 else None


def _subscript_assigns(model: FileModel) -> list:
    found = model.cache.get("head_slots.assigns")
    if found is None:
        found = model.cache["head_slots.assigns"] = [
            (node, model.enclosing_function(node)) for node in model.parents
            if type(node) is cst.Assign and len(node.targets) == 1 and type(node.targets[0].target) is cst.Subscript]
    return found


def _index(subscript: cst.Subscript) -> Optional[int]:
    if len(subscript.slice) != 1 or type(subscript.slice[0].slice) is not cst.Index:
        return None
    value = subscript.slice[0].slice.value
    negative = type(value) is cst.UnaryOperation and type(value.operator) is cst.Minus
    if negative:
        value = value.expression
    if type(value) is not cst.Integer:
        return None
    number = int(value.value, 0)
    return -number if negative else number
