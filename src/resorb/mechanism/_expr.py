"""Rate-law expressions: one text, two targets (Python source and SBML infix).

Rate laws in the model definition are written in a small subset of Python
syntax: numbers, names, ``+ - * / **``, unary minus, comparisons, ``a if c
else b`` and a few functions. The same parsed expression is printed as Python
source (for the generated SciPy and numba right-hand sides) and as SBML Level 3
infix (for :func:`libsbml.parseL3Formula`), so the simulators and the SBML
export cannot drift apart.

Macros expanded at parse time:

``hill(x, K)``   ``x / (K + x)``
``hill2(x, K)``  ``x**2 / (K**2 + x**2)``
``inh(x, K)``    ``K / (K + x)`` (= 1 / (1 + x/K))
``exp(x)``       exponential (kept as a function)
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from resorb.errors import ModelError

__all__ = ["Expression", "parse_expression"]

_MACROS = {
    "hill": (2, "({0}) / (({1}) + ({0}))"),
    "hill2": (2, "({0}) ** 2 / (({1}) ** 2 + ({0}) ** 2)"),
    "inh": (2, "({1}) / (({1}) + ({0}))"),
}
_FUNCTIONS = {"exp"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class _Expander(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = self.generic_visit(node)
        if not isinstance(node.func, ast.Name):
            raise ModelError("only plain function names are allowed in rate laws")
        name = node.func.id
        if name in _MACROS:
            nargs, template = _MACROS[name]
            if len(node.args) != nargs or node.keywords:
                raise ModelError(f"{name}() takes {nargs} arguments")
            text = template.format(*(ast.unparse(a) for a in node.args))
            return ast.parse(text, mode="eval").body
        if name in _FUNCTIONS:
            if len(node.args) != 1:
                raise ModelError(f"{name}() takes 1 argument")
            return node
        raise ModelError(f"unknown function {name!r} in a rate law")


class Expression:
    """A parsed rate-law expression.

    Parameters
    ----------
    text : str
        The expression in the Python subset described in the module docstring.
    """

    __slots__ = ("_tree", "text")

    def __init__(self, text: str) -> None:
        self.text = str(text)
        try:
            tree = ast.parse(self.text, mode="eval").body
        except SyntaxError as exc:
            raise ModelError(f"cannot parse rate law {self.text!r}: {exc.msg}") from None
        self._tree = _Expander().visit(tree)
        self._check(self._tree)

    def _check(self, node: ast.AST) -> None:
        ok = (
            ast.Expression,
            ast.BinOp,
            ast.UnaryOp,
            ast.USub,
            ast.UAdd,
            ast.Name,
            ast.Constant,
            ast.Load,
            ast.Call,
            ast.IfExp,
            ast.Compare,
            *_BINOPS,
            *_CMPOPS,
        )
        for sub in ast.walk(node):
            if not isinstance(sub, ok):
                raise ModelError(
                    f"construct {type(sub).__name__} not allowed in rate law {self.text!r}"
                )
            if isinstance(sub, ast.Constant) and not isinstance(sub.value, int | float):
                raise ModelError(f"only numeric constants are allowed in {self.text!r}")
            if isinstance(sub, ast.Compare) and len(sub.ops) != 1:
                raise ModelError(f"chained comparisons are not allowed in {self.text!r}")

    @property
    def names(self) -> set[str]:
        """Every name the expression reads (states, parameters, ``t``)."""
        return {n.id for n in ast.walk(self._tree) if isinstance(n, ast.Name)} - _FUNCTIONS

    def has_zero_factor(self, zeros: Iterable[str]) -> bool:
        """True if the expression is a product with one of the names ``zeros`` as a
        factor (so it is identically 0 when those names are 0)."""
        zeros = set(zeros)

        def walk(node: ast.AST) -> bool:
            if isinstance(node, ast.Name):
                return node.id in zeros
            if isinstance(node, ast.Constant):
                return float(node.value) == 0.0
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                return walk(node.left) or walk(node.right)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                return walk(node.left)
            if isinstance(node, ast.UnaryOp):
                return walk(node.operand)
            return False

        return walk(self._tree)

    def to_python(self) -> str:
        """Python source (``exp`` must be bound to :func:`math.exp`)."""
        return ast.unparse(self._tree)

    def to_sbml(self) -> str:
        """SBML Level 3 infix text for :func:`libsbml.parseL3Formula`."""
        return _sbml(self._tree)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _sbml(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return repr(float(node.value))
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.UnaryOp):
        inner = _sbml(node.operand)
        return f"(-({inner}))" if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        op = _BINOPS[type(node.op)]
        left, right = _sbml(node.left), _sbml(node.right)
        if op == "**":
            return f"pow({left}, {right})"
        return f"({left} {op} {right})"
    if isinstance(node, ast.Call):
        return f"{node.func.id}({_sbml(node.args[0])})"
    if isinstance(node, ast.Compare):
        op = _CMPOPS[type(node.ops[0])]
        return f"({_sbml(node.left)} {op} {_sbml(node.comparators[0])})"
    if isinstance(node, ast.IfExp):
        return f"piecewise({_sbml(node.body)}, {_sbml(node.test)}, {_sbml(node.orelse)})"
    raise ModelError(f"cannot print {type(node).__name__} as SBML")  # pragma: no cover


def parse_expression(
    text: str, *, known: Iterable[str] | None = None, where: str = "rate law"
) -> Expression:
    """Parse ``text`` and check that it reads only ``known`` names."""
    expr = Expression(text)
    if known is not None:
        unknown = expr.names - set(known)
        if unknown:
            raise ModelError(
                f"{where} {text!r} reads undefined name(s): {', '.join(sorted(unknown))}"
            )
    return expr
