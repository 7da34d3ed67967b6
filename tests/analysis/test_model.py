"""Fast unit tests of the training-program model (no subprocess)."""

from __future__ import annotations

import textwrap

import libcst as cst

from auditor.analysis.flow import EVAL, OFF, ON, TRAIN
from auditor.analysis.model import build_file_model
from auditor.analysis.program import program_of
from auditor.analysis.project import ProjectIndex, resolve_import
from auditor.analysis.splits import TEST, TRAIN as TRAIN_SPLIT, VAL, split_of_name


def _program(source: str):
    return program_of(build_file_model(cst.parse_module(textwrap.dedent(source))))


def _site(prog, code: str):
    return next(s for s in prog.model.calls if prog.model.code(s.node) == code)


def test_split_names():
    assert split_of_name("X_te") == TEST
    assert split_of_name("valid_dl") == VAL
    assert split_of_name("self.dev_loader") == VAL
    assert split_of_name("trainloader") == TRAIN_SPLIT
    assert split_of_name("model") is None


def test_splits_follow_positions_and_calls():
    prog = _program("""
        from sklearn.model_selection import train_test_split
        from torch.utils.data import DataLoader, TensorDataset
        A, B, a, b = train_test_split(X, y)
        loader = DataLoader(TensorDataset(B, b), batch_size=8)
        for xb, yb in loader:
            f(xb)
    """)
    site = _site(prog, "f(xb)")
    assert prog.splits.split_of(site.node.args[0].value, None) == TEST


def test_build_model_is_cached_per_module():
    module = cst.parse_module("x = 1\n")
    assert build_file_model(module) is build_file_model(module)


def test_methods_keep_their_class_when_a_class_name_is_reused():
    # The method -> class link is weak (no reference cycle); a redefined or nested class
    # of the same name must still be held by the model.
    model = build_file_model(cst.parse_module(textwrap.dedent("""
        class Net:
            def a(self): pass
        class Net:
            def b(self): pass
        class Outer:
            class Config:
                def c(self): pass
        class Other:
            class Config:
                def d(self): pass
    """)))
    owners = {info.name: info.cls for info in model.function_info.values()}
    assert all(owners[name] is not None for name in "abcd")
    assert owners["a"] is not owners["b"] and owners["c"] is not owners["d"]
    assert owners["b"].node.body.body[0] is next(i.node for i in model.function_info.values() if i.name == "b")


def test_mode_and_grad_along_paths_and_loops():
    prog = _program("""
        import torch
        def fit(model, loader, opt):
            model.train()
            for epoch in range(3):
                for x in loader:
                    opt.zero_grad()
                    model(x).sum().backward()
                    opt.step()
                model.eval()
                with torch.no_grad():
                    model(x)
    """)
    step = _site(prog, "opt.step()")
    assert {s.mode("model") for s in prog.flow.states_at(step.node)} == {TRAIN, EVAL}
    evaluation = [s for s in prog.model.calls if prog.model.code(s.node) == "model(x)"][-1]
    states = prog.flow.states_at(evaluation.node)
    assert {s.mode("model") for s in states} == {EVAL} and {s.grad for s in states} == {OFF}


def test_helper_effects_and_caller_context():
    prog = _program("""
        import torch
        def to_eval(m):
            m.eval()
        def evaluate(model, xs):
            return model(xs)
        def main(model, xs):
            model.train()
            evaluate(model, xs)
            to_eval(model)
            evaluate(model, xs)
    """)
    forward = _site(prog, "model(xs)")
    assert {s.mode("model") for s in prog.flow.states_at(forward.node)} == {TRAIN, EVAL}
    assert {s.grad for s in prog.flow.states_at(forward.node)} == {ON}


def test_phase_constants_keep_paths_consistent():
    prog = _program("""
        import torch
        def run(model, loaders, opt):
            for phase in ("train", "val"):
                if phase == "train":
                    model.train()
                else:
                    model.eval()
                for x in loaders[phase]:
                    out = model(x)
                    if phase == "train":
                        out.sum().backward()
    """)
    backward = _site(prog, "out.sum().backward()")
    assert {s.mode("model") for s in prog.flow.states_at(backward.node)} == {TRAIN}


def test_relative_imports_resolve_to_project_modules():
    assert resolve_import("pkg.train", ".engine.evaluate") == ("pkg.engine", "evaluate")
    assert resolve_import("pkg.sub.train", "..engine.evaluate") == ("pkg.engine", "evaluate")
    assert resolve_import("train", "engine.evaluate") == ("engine", "evaluate")
    index = ProjectIndex({})
    assert index.call_contexts("pkg.engine", "evaluate") == []


def test_parent_table_is_in_source_order_and_call_sites_know_their_method():
    # activations.py orders nodes by their place in `parents`: it must be pre-order.
    module = cst.parse_module(textwrap.dedent("""
        def f(model, x):
            y = model.net(x).softmax(dim=1)
            return F.relu(y) + g(x)
        z = f(a, b)
    """))
    model = build_file_model(module)
    visited = []

    class Order(cst.CSTVisitor):
        def on_visit(self, node):
            visited.append(node)
            return True

    module.visit(Order())
    place = {id(n): i for i, n in enumerate(visited)}
    order = [place[id(n)] for n in model.parents]
    assert order == sorted(order)
    assert [(c.callee, c.method) for c in model.calls] == [
        ("model.net", "net"), (None, "softmax"), ("F.relu", "relu"), ("g", None), ("f", None)]


def test_leaves_are_recorded_without_being_entered_and_parents_match_libcsts_walk():
    from auditor.analysis.model import _LEAVES, _SKIP, syntactic_children

    module = cst.parse_module(textwrap.dedent('''
        x = (1) + 2.0 + 3j + ("s" "t") + f"{y}" + (...)[0]
        def g(a, *, b=-1.5e3, c=((z))):
            return a if b else [n for n in (c, ...)]
    '''))
    model = build_file_model(module)
    expected = {}

    class Parents(cst.CSTVisitor):
        def __init__(self):
            self.stack = []

        def on_visit(self, node):
            if type(node) not in _SKIP:
                if self.stack:
                    expected[node] = self.stack[-1]
                self.stack.append(node)
            return True

        def on_leave(self, node):
            if type(node) not in _SKIP:
                self.stack.pop()

    module.visit(Parents())
    assert dict(model.parents) == expected
    leaves = [n for n in expected if type(n) in _LEAVES]
    assert {type(n) for n in leaves} >= {cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
                                          cst.Ellipsis}
    assert all(syntactic_children(n) == [] for n in leaves)


CALLS = textwrap.dedent("""
    import torch
    from torch import serialization as ser
    from torch.utils.data import DataLoader as DL

    a = torch.load(p)
    b = load(p)                # a local function: no qualified name
    c = ser.load(p)            # torch.serialization.load is torch.load
    d = DL(ds)
    e = torch.jit.load(p)      # another function with the same final name
    f = torch.load(q)
    g = torch.utils.data.DataLoader(ds)
""")


def test_calls_matching_is_the_matches_filter_over_all_calls_in_order():
    from auditor.analysis.names import matches

    model = build_file_model(cst.parse_module(CALLS))
    for candidates in (("torch.load",), ("torch.utils.data.DataLoader",),
                       ("torch.load", "torch.utils.data.DataLoader"), ("torch.save",)):
        expected = [s for s in model.calls if matches(s.qualname, *candidates)]
        assert model.calls_matching(*candidates) == expected
    lines = [model.code(s.node) for s in model.calls_matching("torch.utils.data.DataLoader", "torch.load")]
    assert lines == ["torch.load(p)", "ser.load(p)", "DL(ds)", "torch.load(q)", "torch.utils.data.DataLoader(ds)"]
    assert model.calls_matching("torch.save") == []


def test_a_parameter_shadows_the_module_level_import_of_its_name():
    prog = _program("""
        import torch.nn.functional as F
        from course.lesson import model

        def accuracy(model, x):
            def inner():
                return model.predict(x)
            return model(x), inner()

        def loss(x, F=F):
            return F.relu(x)

        model(1)
    """)
    assert _site(prog, "model(x)").qualname is None  # the parameter, not course.lesson.model
    assert _site(prog, "model.predict(x)").qualname is None  # a parameter of the enclosing function
    assert _site(prog, "F.relu(x)").qualname == "torch.nn.functional.relu"  # defaults to the import
    assert _site(prog, "model(1)").qualname == "course.lesson.model"
