"""Rules users of TorchFix-style linters expect: deprecated AMP APIs (TRN409), implicit reentrant checkpointing (TRN410)."""

from __future__ import annotations

from typing import Optional

import libcst as cst
import libcst.helpers

from auditor.analysis.names import matches
from auditor.findings import Severity
from auditor.fixes import SAFE, UNSAFE, add_keyword, make_fix
from auditor.fixes.bindings import torch_bound_before
from auditor.rule import Rule

# torch.cuda.amp.autocast(enabled, dtype, cache_enabled): positional order differs from torch.amp.autocast.
AUTOCAST_POSITIONAL = ("enabled", "dtype", "cache_enabled")
DEPRECATED_AMP = {
    "torch.cuda.amp.autocast": ("autocast", "cuda"),
    "torch.cpu.amp.autocast": ("autocast", "cpu"),
    "torch.cuda.amp.GradScaler": ("GradScaler", "cuda"),
    "torch.cpu.amp.GradScaler": ("GradScaler", "cpu"),
}


class DeprecatedCudaAmp(Rule):
    code = "TRN409"
    name = "deprecated-cuda-amp"
    severity = Severity.INFO
    default = False
    default_reason = "A deprecation: the code computes the same today."
    summary = "torch.cuda.amp / torch.cpu.amp are deprecated: use torch.amp with a device type."
    what = """
        Flags `torch.cuda.amp.autocast`, `torch.cuda.amp.GradScaler` and their
        `torch.cpu.amp` twins, however imported (`from torch.cuda.amp import autocast`),
        except in a branch of a torch-version check (`if is_torch_version(">=", "2.3"):
        ... else: torch.cuda.amp.GradScaler()`), kept for old releases on purpose.
        """
    why = """
        They are deprecated since torch 2.4 (a FutureWarning at every call) in favour of
        the device-generic `torch.amp.autocast(device_type)` and
        `torch.amp.GradScaler(device)`, and will be removed. The AMP setup of a training
        loop should not depend on APIs on their way out.
        """
    instead = """
        `torch.amp.autocast("cuda", ...)` and `torch.amp.GradScaler("cuda", ...)`. The
        autocast fix is safe (keyword arguments keep their meaning; positional ones are
        turned into keywords). The GradScaler fix is marked unsafe: `torch.amp.GradScaler`
        exists only from torch 2.3. Both need an `import torch` that runs before the call
        (not one in a later notebook cell): without it no fix is offered.
        """
    bad_examples = (
        """
        import torch

        scaler = torch.cuda.amp.GradScaler()
        with torch.cuda.amp.autocast(dtype=torch.float16):
            loss = criterion(model(x), y)
        """,
    )
    good_examples = (
        """
        import torch

        scaler = torch.amp.GradScaler("cuda")
        with torch.amp.autocast("cuda", dtype=torch.float16):
            loss = criterion(model(x), y)
        """,
    )

    def check(self, ctx) -> None:
        model = ctx.model
        flagged = []  # (call, deprecated name, its replacement's change or None, applicability)
        for site in model.calls:
            # The prefix test first: it is cheap and rules out nearly every call.
            if site.qualname is None or not site.qualname.startswith(("torch.cuda.amp", "torch.cpu.amp")):
                continue
            deprecated = next((q for q in DEPRECATED_AMP if matches(site.qualname, q)), None)
            if deprecated is None:
                continue
            if _under_version_check(model, site.node):
                continue  # the old API kept for old torch releases, chosen by version
            kind, device = DEPRECATED_AMP[deprecated]
            # `torch.amp...` needs `import torch` to have run before the call (not a later cell).
            torch_name = torch_bound_before(model, site.node)
            new = self._replacement(site.node, kind, device, torch_name) \
                if torch_name and getattr(ctx, "wants_fixes", True) else None
            flagged.append((site.node, deprecated, new, SAFE if kind == "autocast" else UNSAFE))
        if not flagged:
            return
        groups = _import_groups(ctx.module, model, flagged) if any(new is not None for _, _, new, _ in flagged) else {}
        for call, deprecated, new, applicability in flagged:
            kind, device = DEPRECATED_AMP[deprecated]
            fix = None
            if new is not None:
                # The last uses of a `from torch.cuda.amp import ...` name go with their import:
                # one fix rewrites them all and removes it (a fix per call would leave it unused).
                changes = groups.get(id(call)) or {call: new}
                fix = make_fix(ctx, f"Use `torch.amp.{kind}(\"{device}\", ...)`", changes, applicability)
            ctx.report(call, f"`{deprecated}` is deprecated; use `torch.amp.{kind}(\"{device}\", ...)`", fix=fix)

    @staticmethod
    def _replacement(call: cst.Call, kind: str, device: str, torch_name: str) -> Optional[cst.Call]:
        args = list(call.args)
        if any(a.star for a in args):
            return None
        if kind == "autocast":
            positional = [a for a in args if a.keyword is None]
            if len(positional) > len(AUTOCAST_POSITIONAL):
                return None
            args = [a.with_changes(keyword=cst.Name(AUTOCAST_POSITIONAL[i]),
                                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                         whitespace_after=cst.SimpleWhitespace("")))
                    if a.keyword is None else a for i, a in enumerate(args)]
            if any(a.keyword is not None and a.keyword.value == "device_type" for a in args):
                return None
        elif any(a.keyword is not None and a.keyword.value == "device" for a in args):
            return None
        first = cst.Arg(value=cst.SimpleString(f'"{device}"'),
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if args else cst.MaybeSentinel.DEFAULT)
        return call.with_changes(func=cst.parse_expression(f"{torch_name}.amp.{kind}"), args=[first, *args])


_AMP_MODULES = ("torch.cuda.amp", "torch.cpu.amp", "torch.cuda", "torch.cpu")


class _AmpImports(cst.CSTVisitor):
    """Names bound by `from torch.cuda.amp import X` / `from torch.cuda import amp` /
    `import torch.cuda.amp as amp` (with their statement), and how often each name is read."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: dict[str, tuple] = {}  # local name -> (statement node, alias node), if bound once
        self.uses: dict[str, int] = {}
        self.statements: list = []

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statements.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.statements.pop()

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        module = cst.helpers.get_full_name_for_node(node.module) if node.module is not None else None
        if node.relative or module not in _AMP_MODULES or isinstance(node.names, cst.ImportStar):
            return False
        for alias in node.names:
            name = alias.asname.name if alias.asname is not None else alias.name
            if module in ("torch.cuda", "torch.cpu") and alias.name.value != "amp":
                continue
            if isinstance(name, cst.Name):
                self._bind(name.value, node, alias)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name) \
                    and cst.helpers.get_full_name_for_node(alias.name) in ("torch.cuda.amp", "torch.cpu.amp"):
                self._bind(alias.asname.name.value, node, alias)
        return False

    def _bind(self, name: str, node, alias) -> None:
        statement = self.statements[-1] if self.statements else None
        # Bound twice (two imports, or an import in a function too): leave the imports alone.
        self.bound[name] = (statement, node, alias) if name not in self.bound else (None, None, None)

    def visit_Name(self, node: cst.Name) -> None:
        self.uses[node.value] = self.uses.get(node.value, 0) + 1


def _local_name(call: cst.Call) -> Optional[str]:
    """The imported name a call goes through: `autocast(...)` or `amp.autocast(...)`."""
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        return func.value.value
    return None


def _import_groups(module: cst.Module, model, flagged: list) -> dict[int, dict]:
    """call id -> the changes of a fix that rewrites every use of the call's imported name
    and removes that import, for names whose uses are all flagged calls with a fix of one
    applicability. Other calls are fixed alone (their import is still needed)."""
    imports = _AmpImports()
    module.visit(imports)
    by_name: dict[str, list] = {}
    for call, _, new, applicability in flagged:
        name = _local_name(call)
        if name is not None:
            by_name.setdefault(name, []).append((call, new, applicability))
    groups: dict[int, dict] = {}
    for name, calls in by_name.items():
        statement, node, alias = imports.bound.get(name, (None, None, None))
        if statement is None or len(statement.body) != 1:
            continue  # not imported here, imported twice, or `import x; y = 1` on one line
        block = model.parent(statement)
        if not isinstance(block, (cst.Module, cst.IndentedBlock)) or len(block.body) < 2:
            continue  # the only statement of a block: removing it would leave the block empty
        if imports.uses.get(name, 0) != len(calls) or any(new is None for _, new, _ in calls) \
                or len({applicability for _, _, applicability in calls}) != 1:
            continue  # read elsewhere too, or a call it cannot fix: the import stays
        changes: dict = {call: new for call, new, _ in calls}
        remaining = [a for a in node.names if a is not alias]
        if remaining:
            remaining[-1] = remaining[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            changes[statement] = statement.with_changes(body=[node.with_changes(names=remaining)])
        else:
            changes[statement] = cst.RemovalSentinel.REMOVE
        for call, _, _ in calls:
            groups[id(call)] = changes
    return groups


def _is_torch_version_test(text: str) -> bool:
    """`is_torch_version(">=", "2.3")`, `torch.__version__ >= ...`, `TORCH_VERSION < (2, 4)`,
    `_TORCH_GREATER_EQUAL_2_3`: a condition on the installed torch release."""
    text = text.lower()
    return "__version__" in text or ("torch" in text and ("version" in text or "greater" in text
                                                         or "less" in text))


def _under_version_check(model, call: cst.Call) -> bool:
    for ancestor in model.ancestors(call):
        kind = type(ancestor)
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            return False
        if (kind is cst.If or kind is cst.IfExp) and not model.is_within(call, ancestor.test) \
                and _is_torch_version_test(model.code(ancestor.test)):
            return True
    return False


CHECKPOINTS = ("torch.utils.checkpoint.checkpoint", "torch.utils.checkpoint.checkpoint_sequential")


class CheckpointWithoutUseReentrant(Rule):
    code = "TRN410"
    name = "checkpoint-without-use-reentrant"
    severity = Severity.INFO
    default = False
    default_reason = ("The reentrant variant goes wrong only when no tensor input of the checkpointed block "
                      "requires grad; on real code the inputs were hidden states that do, or the call was guarded.")
    summary = "torch.utils.checkpoint without an explicit use_reentrant falls back to the reentrant variant."
    what = """
        Flags `torch.utils.checkpoint.checkpoint(...)` and `checkpoint_sequential(...)`
        called without `use_reentrant=`.
        """
    why = """
        Left out, `use_reentrant` defaults to `True`, with a warning since torch 2.1 (the
        torch docs announce that leaving it out will become an error). The reentrant variant computes no gradient for the
        checkpointed block's parameters when none of its tensor inputs requires grad,
        which is the usual case for the first block after a frozen embedding or a
        frozen backbone (fine-tuning, adapters): those layers silently stop learning.
        It also ignores `torch.autograd.grad` and keyword tensor arguments.

        Severity info: the rule cannot see whether an input requires grad, and where it
        does (the usual case) the reentrant variant computes the same gradients.
        """
    instead = """
        Pass `use_reentrant=False` (the recommended variant; the unsafe fix adds it), or
        `use_reentrant=True` explicitly if you rely on the old behaviour.
        """
    bad_examples = (
        """
        from torch.utils.checkpoint import checkpoint

        def forward(self, x):
            return checkpoint(self.block, x)
        """,
    )
    good_examples = (
        """
        from torch.utils.checkpoint import checkpoint

        def forward(self, x):
            return checkpoint(self.block, x, use_reentrant=False)
        """,
    )

    def check(self, ctx) -> None:
        for site in ctx.model.calls_matching(*CHECKPOINTS):
            call = site.node
            if any(a.keyword is not None and a.keyword.value == "use_reentrant" for a in call.args) \
                    or any(a.star == "**" for a in call.args):
                continue
            fix = make_fix(ctx, "Pass `use_reentrant=False`",
                           {call: lambda node: add_keyword(node, "use_reentrant", "False")}, UNSAFE)
            ctx.report(call, "checkpoint without `use_reentrant=` uses the reentrant variant, which gives the "
                             "block's parameters no gradient when no input requires grad; pass "
                             "`use_reentrant=False`", fix=fix)


DEPRECATION_RULES = [DeprecatedCudaAmp(), CheckpointWithoutUseReentrant()]
