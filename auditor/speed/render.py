"""The source text of an expression, without libcst's code generation.

The model renders expressions to key facts and compare names (`FileModel.code`): the
conditions of `if` statements, the arguments of calls. libcst's `code_for_node` goes
through a codegen state, a context manager and two hooks per node; the expressions
that make up nearly all of those texts are written here directly, exactly as libcst
writes them (compared on every expression of 23 real repositories). Anything else
returns None and goes to libcst.
"""

from __future__ import annotations

from typing import Any, Optional

import libcst as cst

# What `render` writes itself; anything else (subscripts, lambdas, comments or line
# breaks inside brackets...) goes to libcst's code generation.
_LEAF_EXPRESSIONS = frozenset({cst.Name, cst.SimpleString, cst.Integer, cst.Float})
_ONE_TOKEN_OPERATORS = frozenset({cst.Equal, cst.NotEqual, cst.LessThan, cst.GreaterThan, cst.LessThanEqual,
                                  cst.GreaterThanEqual, cst.In, cst.Is, cst.And, cst.Or})
_TWO_TOKEN_OPERATORS = frozenset({cst.NotIn, cst.IsNot})
_UNARY_OPERATORS = frozenset({cst.Not, cst.Minus, cst.Plus, cst.BitInvert})
MAX_RENDER_DEPTH = 64


def render(node: Any) -> Optional[str]:
    """`node`'s code as libcst's `code_for_node` writes it, or None: leave it to libcst.

    The usual expressions (names, attributes, comparisons, `not`/`and`/`or`, calls with
    plain arguments, constants) are written here, token by token as libcst's
    `_codegen_impl` methods write them, at a fraction of the cost of its code generation
    (a context manager and two hooks per node)."""
    parts: list[str] = []
    return "".join(parts) if _render(node, parts, 0) else None


def _render_space(whitespace: Any, parts: list) -> bool:
    if type(whitespace) is not cst.SimpleWhitespace:  # ParenthesizedWhitespace: comments, newlines
        return False
    parts.append(whitespace.value)
    return True


def _render_token(node: Any, token: str, parts: list) -> bool:
    """`token` between `node`'s whitespace_before and whitespace_after (`=`, `,`, `==`...)."""
    if not _render_space(node.whitespace_before, parts):
        return False
    parts.append(token)
    return _render_space(node.whitespace_after, parts)


def _render_operator(op: Any, parts: list) -> bool:
    kind = type(op)
    if kind in _ONE_TOKEN_OPERATORS:
        return _render_token(op, op._get_token(), parts)
    if kind in _TWO_TOKEN_OPERATORS:
        first, second = op._get_tokens()
        if not _render_space(op.whitespace_before, parts):
            return False
        parts.append(first)
        if not _render_space(op.whitespace_between, parts):
            return False
        parts.append(second)
    else:
        return False
    return _render_space(op.whitespace_after, parts)


def _render(node: Any, parts: list, depth: int) -> bool:
    """Append `node`'s code to `parts`; False (parts then unusable) for a node it leaves to libcst."""
    kind = type(node)
    if depth > MAX_RENDER_DEPTH or not (kind in _LEAF_EXPRESSIONS or kind is cst.Attribute or kind is cst.Comparison
                                        or kind is cst.BooleanOperation or kind is cst.UnaryOperation
                                        or kind is cst.Call):
        return False
    depth += 1
    for lpar in node.lpar:
        parts.append("(")
        if not _render_space(lpar.whitespace_after, parts):
            return False
    if kind in _LEAF_EXPRESSIONS:
        parts.append(node.value)
    elif kind is cst.Attribute:
        dot = node.dot
        if not (_render(node.value, parts, depth) and _render_space(dot.whitespace_before, parts)):
            return False
        parts.append(".")
        if not (_render_space(dot.whitespace_after, parts) and _render(node.attr, parts, depth)):
            return False
    elif kind is cst.Comparison:
        if not _render(node.left, parts, depth):
            return False
        for target in node.comparisons:
            if not (_render_operator(target.operator, parts) and _render(target.comparator, parts, depth)):
                return False
    elif kind is cst.BooleanOperation:
        if not (_render(node.left, parts, depth) and _render_operator(node.operator, parts)
                and _render(node.right, parts, depth)):
            return False
    elif kind is cst.UnaryOperation:
        op = node.operator
        if type(op) not in _UNARY_OPERATORS:
            return False
        parts.append(op._get_token())
        if not (_render_space(op.whitespace_after, parts) and _render(node.expression, parts, depth)):
            return False
    else:  # Call
        if not (_render(node.func, parts, depth) and _render_space(node.whitespace_after_func, parts)):
            return False
        parts.append("(")
        if not _render_space(node.whitespace_before_args, parts):
            return False
        last = len(node.args) - 1
        for index, arg in enumerate(node.args):
            if not _render_arg(arg, index != last, parts, depth):
                return False
        parts.append(")")
    for rpar in node.rpar:
        if not _render_space(rpar.whitespace_before, parts):
            return False
        parts.append(")")
    return True


def _render_arg(arg: cst.Arg, default_comma: bool, parts: list, depth: int) -> bool:
    parts.append(arg.star)
    if not _render_space(arg.whitespace_after_star, parts):
        return False
    keyword, equal = arg.keyword, arg.equal
    if keyword is not None and not _render(keyword, parts, depth):
        return False
    if type(equal) is cst.AssignEqual:
        if not _render_token(equal, "=", parts):
            return False
    elif keyword is not None:  # MaybeSentinel.DEFAULT
        parts.append(" = ")
    if not _render(arg.value, parts, depth):
        return False
    comma = arg.comma
    if type(comma) is cst.Comma:
        if not _render_token(comma, ",", parts):
            return False
    elif default_comma:  # MaybeSentinel.DEFAULT
        parts.append(", ")
    return _render_space(arg.whitespace_after_arg, parts)
