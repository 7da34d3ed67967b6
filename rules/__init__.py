"""The rule catalog: one module per family; each rule is identity + docs + check."""

from auditor.kernel_rules import KERNEL_RULES
from auditor.rule import Rule, validate_rules
from rules.data import DATA_RULES
from rules.loss import LOSS_RULES
from rules.mode import MODE_RULES
from rules.accumulation import ACCUMULATION_RULES

ALL_RULES: list[Rule] = sorted(KERNEL_RULES + DATA_RULES + LOSS_RULES + MODE_RULES + ACCUMULATION_RULES, key=lambda r: r.code)
validate_rules(ALL_RULES)

__all__ = ["ALL_RULES"]
