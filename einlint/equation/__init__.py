"""The einsum equation model: parse equations into values, check them, build them back."""

from einlint.equation.model import ELLIPSIS, Equation, EquationSyntaxError, Term, parse_equation

__all__ = ["ELLIPSIS", "Equation", "EquationSyntaxError", "Term", "parse_equation"]
