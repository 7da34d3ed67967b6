"""Which method of the file a call on an object of unknown class runs.

`def validate(model, loader): model.val_start(); ...` where `model` is a parameter: the
flow cannot type `model`, so `model.val_start()` resolved to nothing and its effect (a
wrapper class of the file whose `val_start` calls `self.img_enc.eval()`) was lost; so was
the mode `model.img_enc` carries into `model.train_emb(...)`, whose optimizer step then
ran in a mode nobody knew. Research code keeps its networks in such plain wrapper objects
(an encoder pair, a GAN's generator and discriminator, an agent) and switches them through
methods (`train_start`/`val_start`, `set_eval`, `eval_mode`): the object is built in one
function and handed to the training and validation functions as a parameter.

A call `obj.method(...)` is read as the file's `Class.method` when `obj` has no class the
flow knows, exactly one class of the file defines `method`, and `obj` is not an object a
library built (an optimizer, an environment): then `self` in the method is `obj`, and its
attributes travel both ways, as they do for `trainer = Trainer(...); trainer.validate()`.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from auditor.analysis.names import dotted_name

# Names too common to say which class's method runs (moves, switches, bookkeeping, the
# module call path, container and library verbs that a project class may also define).
_COMMON = frozenset({
    "to", "cuda", "cpu", "eval", "train", "parameters", "named_parameters", "state_dict", "load_state_dict",
    "zero_grad", "backward", "item", "size", "append", "extend", "items", "keys", "values", "get", "format",
    "float", "half", "double", "detach", "numpy", "tolist", "forward", "pop", "add", "join", "split", "copy",
    "close", "read", "write", "save", "load", "print", "reset", "sample", "render", "seed", "apply", "modules",
    "children", "register_buffer", "add_module", "requires_grad_", "type", "view", "reshape", "mean", "sum"})


def named_method(model, site, instance_class, is_library_object) -> Optional[cst.FunctionDef]:
    """The FunctionDef of the one class of the file defining `site.method`, for a call on a
    receiver of unknown class (None when the call is not one, or several classes define it)."""
    method = site.method
    if not method or method.startswith("__") or method in _COMMON or site.qualname is not None:
        return None
    receiver = site.receiver
    head = dotted_name(receiver) if receiver is not None else None
    if not head or head == "self" or head.split(".", 1)[0] in ("super", "cls"):
        return None
    if instance_class(head, site.function) is not None or is_library_object(head, site.function):
        return None
    definers = [info for info in model.class_infos if method in info.methods]
    if len(definers) != 1:
        return None
    if definers[0] is model.class_of(site.function):
        return None  # `self.model.step(data)` in `Runner.step`: another object's method of the same name
    found = definers[0].methods[method]
    params = found.params if hasattr(found, "params") else ()
    if not params or params[0] != "self":
        return None  # a static or class method: no object to bind
    return found.node


def library_object(model, name: str, function) -> bool:
    """`name` (or the object it belongs to) is only ever bound to what a library call built
    (`opt = torch.optim.SGD(...)`, `env = gym.make(...)`): never one of the file's classes."""
    root = name.split(".", 1)[0] if not name.startswith("self.") else ".".join(name.split(".", 2)[:2])
    bindings = model.bindings_of(root, function)
    if not bindings:
        return False
    return all(b.kind == "assign" and b.index is None and type(b.value) is cst.Call
               and model.qualify_call(b.value) is not None for b in bindings)
