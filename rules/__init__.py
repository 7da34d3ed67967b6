"""The rule catalog: one module per family; each rule is identity + docs + check."""

from auditor.speed import import_libcst

import_libcst()  # first, before any rule module imports libcst (start-up cost)

from auditor.kernel_rules import KERNEL_RULES
from auditor.rule import Rule, validate_rules
from rules.data import DATA_RULES
from rules.loss import LOSS_RULES
from rules.mode import MODE_RULES
from rules.accumulation import ACCUMULATION_RULES
from rules.data_transforms import DATA_TRANSFORM_RULES
from rules.deprecations import DEPRECATION_RULES
from rules.loss_nll import NLL_RULES
from rules.model_def import MODEL_RULES
from rules.optim_steps import OPTIM_STEP_RULES
from rules.persistence import PERSISTENCE_RULES
from rules.runtime_checks import RUNTIME_RULES

ALL_RULES: list[Rule] = sorted(KERNEL_RULES + DATA_RULES + LOSS_RULES + MODE_RULES + ACCUMULATION_RULES + DATA_TRANSFORM_RULES + DEPRECATION_RULES
                               + NLL_RULES + MODEL_RULES + OPTIM_STEP_RULES + PERSISTENCE_RULES + RUNTIME_RULES,
                               key=lambda r: r.code)
validate_rules(ALL_RULES)

__all__ = ["ALL_RULES"]
