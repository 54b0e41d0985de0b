"""All rules, grouped by family: ``equation`` (EIN0xx), ``rewrite`` (EIN1xx), ``layout`` (EIN2xx),
``churn`` (EIN3xx). A rule is one module in its family's folder; it is found by its code, no list to edit."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from einlint.rules.base import Rule

FAMILIES = ("equation", "rewrite", "layout", "churn")


@cache
def all_rules() -> tuple[type[Rule], ...]:
    rules: list[type[Rule]] = []
    for family in FAMILIES:
        package = importlib.import_module(f"einlint.rules.{family}")
        for module_info in pkgutil.iter_modules(package.__path__):
            if module_info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            rules.extend(
                value
                for value in vars(module).values()
                if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__ and hasattr(value, "code")
            )
    codes = [rule.code for rule in rules]
    duplicates = {code for code in codes if codes.count(code) > 1}
    if duplicates:
        raise RuntimeError(f"rule codes defined twice: {sorted(duplicates)}")
    return tuple(sorted(rules, key=lambda rule: rule.code))


def rule_by_code(code: str) -> type[Rule] | None:
    return next((rule for rule in all_rules() if rule.code == code.upper()), None)
