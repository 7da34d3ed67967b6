"""Does a freshly built module wrap a model that already existed?

`featurizer = Featurizer(model)`, `net = nn.DataParallel(model)`, `Calibrated(net)`: the new
object is built here, but the weights it runs are those of the model it was given, which the
caller may have trained or loaded. Such a wrapper is not an untrained model whose first
forward pass is a smoke test of shapes (LAION-AI/CLIP_benchmark's linear probe extracts its
features through `Featurizer(model)` of the model handed in).
"""

from __future__ import annotations

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.handed_models import strip_moves, given_argument, is_handed_model
from auditor.analysis.names import dotted_name

def wraps_given_model(model: FileModel, call: cst.Call, function, depth: int = 0) -> bool:
    """Some argument of the constructor `call` is (or is a wrapper of, through the name's
    bindings in `function`) a parameter of `function`, or a name the function does not bind
    itself (a model built elsewhere): the object runs weights it did not create."""
    if depth > 4 or function is None:
        return False
    info = model.function_info.get(function)
    if info is None:
        return False
    for arg in call.args:
        value = strip_moves(arg.value)
        if type(value) is cst.Call:
            if wraps_given_model(model, value, function, depth + 1):
                return True
            continue
        name = dotted_name(value)
        if not name:
            continue
        root = name.split(".", 1)[0]
        if root in info.params and root not in ("self", "cls") and is_handed_model(model, name, function):
            return True
        bindings = [b for b in model.bindings_of(root, function) if b.function is function]
        for binding in bindings:
            bound = strip_moves(binding.value) if binding.value is not None else None
            if binding.kind == "assign" and type(bound) is cst.Call and \
                    wraps_given_model(model, bound, function, depth + 1):
                return True
    return False


def thin_wrapper_of(model: FileModel, value: cst.BaseExpression) -> cst.BaseExpression | None:
    """`Featurizer(model)`: a module class of this file, with no dropout or batch norm of its
    own (all its layers visible), built around a model the function was handed. Its forward
    runs that model's layers, so its mode is that model's (as `DataParallel(model)`'s is)."""
    from auditor.analysis.mode_layers import class_dependence
    from auditor.analysis.roles import model_class_of_call

    call = strip_moves(value)
    if type(call) is not cst.Call:
        return None
    cls = model_class_of_call(model, call)
    if cls is None:
        return None
    given = given_argument(model, call, model.enclosing_function(call))
    if given is None or class_dependence(model, cls)[0] is not False:
        return None
    return given
