"""The user's dataset classes whose training flag, set False, reads the test split.

`Faces(root, is_train=False)`: for a class of the file, `train=False` says only "not the
training part", which is often the validation rows of the training folder, so the flag alone
is not read as the test split. The class's own code says what False means: when its methods
branch on the flag and the False side names test files or folders (`"test.txt"`,
`os.path.join(root, "test")`) while the True side names training ones, a caller passing
False gets the test split, as `CIFAR10(root, train=False)` does. So does a split string the
class maps to its test files: `AircraftDataset(phase='val')` where the constructor reads the
test list for every phase but 'train' (`if phase == 'train': ... else: ...test.txt`).
"""

from __future__ import annotations

import re
from typing import Optional

import libcst as cst

from auditor.analysis.model import FileModel
from auditor.analysis.names import dotted_name

TRAIN_FLAGS = ("train", "is_train", "training", "is_training")
# Parameters through which a caller names the split it wants (`phase='val'`).
_SPLIT_PARAMETERS = {"split", "phase", "mode", "subset", "set_name", "stage", "partition", "data_split",
                     "split_name", "image_set", "which_set", "dataset_split"}
_CACHE_KEY = "own_split_flags.classes"
_TOKENS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")
_TEST_WORDS = {"test", "testing", "tst"}
_TRAIN_WORDS = {"train", "training", "trn"}


def test_flag_classes(model: FileModel) -> dict:
    """{class name: its flag parameter} for this file's classes whose flag, False, reads test data."""
    found = model.cache.get(_CACHE_KEY)
    if found is None:
        found = model.cache[_CACHE_KEY] = _find(model)
    return found


def flag_split(model: Optional[FileModel], call: cst.Call) -> Optional[str]:
    """"test"/"train" when `call` builds such a class with its flag a literal False/True."""
    if model is None or not isinstance(call.func, cst.Name):
        return None
    flag = test_flag_classes(model).get(call.func.value)
    if flag is None:
        return None
    init = model.class_info[call.func.value].methods.get("__init__")
    value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == flag), None)
    if value is None and init is not None:
        plain = [a for a in call.args if a.keyword is None]
        at = init.positional.index(flag)
        if at < len(plain) and not any(a.star for a in plain[:at + 1]):
            value = plain[at].value
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return "train" if value.value == "True" else "test"
    return None


def phase_split(model: Optional[FileModel], call: cst.Call) -> Optional[str]:
    """"test" when `call` builds a class of the file with a split string (`phase='val'`) whose
    branch in the class's code reads test files only (`else: ...images_variant_test.txt`)."""
    if model is None or not isinstance(call.func, cst.Name) or call.func.value not in model.class_info:
        return None
    info = model.class_info[call.func.value]
    init = info.methods.get("__init__")
    if init is None:
        return None
    for parameter in init.positional:
        if parameter not in _SPLIT_PARAMETERS:
            continue
        value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == parameter), None)
        plain = [a for a in call.args if a.keyword is None]
        at = init.positional.index(parameter)
        if value is None and at < len(plain) and not any(a.star for a in plain[:at + 1]):
            value = plain[at].value
        text = _literal(value)
        if text is None:
            continue
        names = {parameter, f"self.{parameter}"} | {f"self.{t}" for t in _stored_as(init.node, parameter)}
        if _taken_side_reads_test(info.node, names, text):
            return "test"
    return None


def _find(model: FileModel) -> dict:
    table: dict = {}
    for info in model.class_infos:
        init = info.methods.get("__init__")
        if init is None or info.name in table:
            continue
        flags = [p for p in init.positional if p in TRAIN_FLAGS]
        if len(flags) != 1:
            continue
        flag = flags[0]
        names = {flag, f"self.{flag}"}
        stored = {f"self.{t}" for t in _stored_as(init.node, flag)}
        if _false_side_reads_test(info.node, names | stored):
            table[info.name] = flag
    return table


def _stored_as(function: cst.FunctionDef, parameter: str) -> set:
    """Attributes `self.x = parameter` of the constructor."""
    found: set = set()

    class _Assigns(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            if isinstance(node.value, cst.Name) and node.value.value == parameter:
                for target in node.targets:
                    name = dotted_name(target.target)
                    if name is not None and name.startswith("self.") and name.count(".") == 1:
                        found.add(name[5:])

    function.visit(_Assigns())
    return found


def _false_side_reads_test(cls: cst.ClassDef, flags: set) -> bool:
    """Some `if flag:` / `x if flag else y` of the class has test words on its False side only,
    and none branches the other way round."""
    sides: list = []  # (words of the True side, words of the False side)

    class _Branches(cst.CSTVisitor):
        def visit_If(self, node: cst.If) -> None:
            polarity = _flag_test(node.test, flags)
            if polarity is not None:
                true_side = _words(node.body)
                false_side = _words(node.orelse) if node.orelse is not None else set()
                sides.append((true_side, false_side) if polarity else (false_side, true_side))

        def visit_IfExp(self, node: cst.IfExp) -> None:
            polarity = _flag_test(node.test, flags)
            if polarity is not None:
                true_side, false_side = _words(node.body), _words(node.orelse)
                sides.append((true_side, false_side) if polarity else (false_side, true_side))

    cls.visit(_Branches())
    test_on_false = any(f & _TEST_WORDS and not t & _TEST_WORDS for t, f in sides)
    test_on_true = any(t & _TEST_WORDS for t, _ in sides)
    return test_on_false and not test_on_true


def _flag_test(test: cst.BaseExpression, flags: set) -> Optional[bool]:
    """True for `if flag`, False for `if not flag`, None when the condition is not the flag."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _flag_test(test.expression, flags)
        return None if inner is None else not inner
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        if dotted_name(test.left) in flags and isinstance(target.comparator, cst.Name) and \
                target.comparator.value in ("True", "False"):
            positive = target.comparator.value == "True"
            if isinstance(target.operator, (cst.IsNot, cst.NotEqual)):
                positive = not positive
            return positive
        return None
    return True if dotted_name(test) in flags else None


def _words(node: Optional[cst.CSTNode]) -> set:
    """Lower-case words of the string literals under `node` (`"mnist_test.csv"` -> mnist, test, csv)."""
    found: set = set()
    if node is None:
        return found

    class _Strings(cst.CSTVisitor):
        def visit_SimpleString(self, string: cst.SimpleString) -> None:
            try:
                text = string.evaluated_value
            except (SyntaxError, ValueError):
                return
            if isinstance(text, str):
                found.update(w.lower() for w in _TOKENS.split(text) if w)

    node.visit(_Strings())
    return found


def _literal(node) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        try:
            text = node.evaluated_value
        except (SyntaxError, ValueError):
            return None
        return text if isinstance(text, str) else None
    return None


def _matches(test: cst.BaseExpression, names: set, text: str) -> Optional[bool]:
    """Whether `text` in the parameter satisfies the condition: `phase == 'train'`, `phase in
    ('val', 'test')`, `phase != 'train'`; None when the condition is not about the parameter."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1 or dotted_name(test.left) not in names:
        return None
    target = test.comparisons[0]
    operator = target.operator
    if isinstance(operator, (cst.Equal, cst.NotEqual)):
        literal = _literal(target.comparator)
        if literal is None:
            return None
        return (literal == text) == isinstance(operator, cst.Equal)
    if isinstance(operator, (cst.In, cst.NotIn)) and isinstance(target.comparator, (cst.Tuple, cst.List, cst.Set)):
        literals = [_literal(e.value) for e in target.comparator.elements]
        if None in literals:
            return None
        return (text in literals) == isinstance(operator, cst.In)
    return None


def _taken_side_reads_test(cls: cst.ClassDef, names: set, text: str) -> bool:
    """Some if/elif/else chain of the class on the parameter takes, for `text`, a branch whose
    strings name test files, and none takes one that names training files."""
    taken: list = []

    class _Chains(cst.CSTVisitor):
        def visit_If(self, node: cst.If) -> Optional[bool]:
            branch: Optional[cst.CSTNode] = node
            while isinstance(branch, cst.If):
                verdict = _matches(branch.test, names, text)
                if verdict is None:
                    return True  # not a chain on the parameter: look inside
                if verdict:
                    taken.append(_words(branch.body))
                    return False
                branch = branch.orelse
            if isinstance(branch, cst.Else):
                taken.append(_words(branch.body))
            return False

    cls.visit(_Chains())
    return any(words & _TEST_WORDS for words in taken) and not any(words & _TRAIN_WORDS for words in taken)
