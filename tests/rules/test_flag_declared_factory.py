"""TRN204 when a validation name is unpacked from a loader factory called for the test split
(`vali_data, vali_loader = self._get_data(flag='TEST')`, Time-Series-Library's classification
experiment): whatever position it takes, it is test data, and early stopping on it selects on
the test split (error). Look-alike: the same factory called with flag='VAL'. Through the real
command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

EXP = """
import torch
from data_provider import data_provider


class Exp:
    def __init__(self, args, model):
        self.args = args
        self.model = model

    def _get_data(self, flag):
        data_set, data_loader = data_provider(self.args, flag)
        return data_set, data_loader

    def vali(self, loader):
        total = 0.0
        with torch.no_grad():
            for x, y in loader:
                total += torch.nn.functional.cross_entropy(self.model(x), y).item()
        return total

    def train(self, opt, stopper):
        train_data, train_loader = self._get_data(flag="TRAIN")
        vali_data, vali_loader = self._get_data(flag="{flag}")
        for epoch in range(10):
            for x, y in train_loader:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(self.model(x), y).backward()
                opt.step()
            vali_loss = self.vali(vali_loader)
            stopper(vali_loss, self.model)
            if stopper.early_stop:
                break
"""

CASES = {"test_flag.py": EXP.replace("{flag}", "TEST"), "val_flag.py": EXP.replace("{flag}", "VAL")}
LINE = EXP.lstrip("\n").splitlines().index("            vali_loss = self.vali(vali_loader)") + 1


def test_factory_called_for_the_test_split(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert codes_lines(found["test_flag.py"]) == [("TRN204", LINE)]
    assert [f["severity"] for f in found["test_flag.py"]] == ["error"]
    assert "asks for the test split" in found["test_flag.py"][0]["message"]


def test_factory_called_for_validation(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert found["val_flag.py"] == []
