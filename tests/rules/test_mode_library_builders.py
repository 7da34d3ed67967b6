"""TRN101: a model built by another package's builder, known as a module by its use.

`net = build_net("resnet18")` from a package nobody lists starts in training mode as a
constructor's result does, once the file shows it is a torch module (a state dict loaded
into it, its parameters read). Look-alikes: the same model switched to eval; transformers'
`from_pretrained` (eval mode already); a whole module from `torch.load` (the mode it was
saved in is not known); a builder of the project's own modules whose model is loaded from
disk; a library object the file never uses as a module; `copy.deepcopy` of a model in eval
mode; an EMA copy (kept in eval mode by its library); a library wrapper around a model the
file already switched to eval; a torchvision model handed first to another package's
evaluation helper (`model_testing(model, ...)`, whose unseen body very likely calls eval):
its mode is then unknown, while a plotting helper leaves it as it was.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_HEAD = """
import torch
from torch.utils.data import DataLoader

test_loader = DataLoader(torch.load("test_set.pt"), batch_size=64)
"""

_LOOP = """
correct = 0
with torch.no_grad():
    for x, y in test_loader:
        out = model(x)
        correct += (out.argmax(1) == y).sum().item()
print(correct / len(test_loader.dataset))
"""

CASES = {
    "library_builder_bad.py": "from segmentation_zoo.nets import build_net\n" + _HEAD + """
model = build_net("resnet18").to("cpu")
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
    "library_constructor_bad.py": "import netlib\n" + _HEAD + """
model = netlib.ResNet(depth=18)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
""" + _LOOP,
    "library_builder_eval_ok.py": "from segmentation_zoo.nets import build_net\n" + _HEAD + """
model = build_net("resnet18")
model.load_state_dict(torch.load("best.pth"))
model.eval()
""" + _LOOP,
    "from_pretrained_ok.py": "from transformers import AutoModelForImageClassification\n" + _HEAD + """
model = AutoModelForImageClassification.from_pretrained("vit-base")
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
    "whole_module_loaded_ok.py": _HEAD + """
model = torch.load("checkpoint/best_model.pth")
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
    "loader_named_ok.py": "from segmentation_zoo.nets import load_trained_net\n" + _HEAD + """
model = load_trained_net("resnet18")
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
    "never_a_module_ok.py": "from segmentation_zoo.nets import build_net\n" + _HEAD + """
model = build_net("resnet18")
""" + _LOOP,
    "deepcopy_of_eval_model_ok.py": "import copy\nfrom segmentation_zoo.nets import build_net\n" + _HEAD + """
base = build_net("resnet18")
base.load_state_dict(torch.load("best.pth"))
base.eval()
model = copy.deepcopy(base)
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
    "ema_copy_ok.py": "from timm.utils import ModelEmaV2\n" + _HEAD + """
net = torch.nn.Linear(4, 2)
net.load_state_dict(torch.load("best.pth"))
net.eval()
model = ModelEmaV2(net, decay=0.999)
model.load_state_dict(torch.load("ema.pth"))
""" + _LOOP,
    "wrapper_of_eval_model_ok.py": "import netlib\n" + _HEAD + """
net = torch.nn.Linear(4, 2)
net.load_state_dict(torch.load("best.pth"))
net.eval()
model = netlib.Wrapped(net)
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
    "external_evaluator_first_ok.py": "import torchvision\nfrom course_utils.model_test import model_testing\n" + _HEAD + """
model = torchvision.models.resnet18()
model.load_state_dict(torch.load("best.pth"))
model_testing(model, "cpu", test_loader)
""" + _LOOP,
    "external_plotting_first_bad.py": "import torchvision\nfrom course_utils.viz import plot_filters\n" + _HEAD + """
model = torchvision.models.resnet18()
model.load_state_dict(torch.load("best.pth"))
plot_filters(model)
""" + _LOOP,
    "project/__init__.py": "",
    "project/nets.py": """
import torch

def build_net(name):
    return torch.load(name + ".pth")
""",
    "project/evaluate_ok.py": "from project.nets import build_net\n" + _HEAD + """
model = build_net("resnet18")
model.load_state_dict(torch.load("best.pth"))
""" + _LOOP,
}

EXPECTED = {
    "library_builder_bad.py": [("TRN101", 14)],
    "library_constructor_bad.py": [("TRN101", 14)],
    "library_builder_eval_ok.py": [],
    "from_pretrained_ok.py": [],
    "whole_module_loaded_ok.py": [],
    "loader_named_ok.py": [],
    "never_a_module_ok.py": [],
    "deepcopy_of_eval_model_ok.py": [],
    "ema_copy_ok.py": [],
    "wrapper_of_eval_model_ok.py": [],
    "external_evaluator_first_ok.py": [],
    "external_plotting_first_bad.py": [("TRN101", 16)],
    "project/__init__.py": [],
    "project/nets.py": [],
    "project/evaluate_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("library_builders"), CASES, "TRN101")


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_built_by_a_library_builder(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_project_package_beside_the_root_is_not_a_library_when_checked_alone(tmp_path):
    """A script in a subdirectory imports the repository's own package (made importable by
    `sys.path.append(os.getcwd())`): checked alone, as a pre-commit hook does, the package is
    not read, but it is on disk, so its builder is not taken for another package's."""
    from tests.rules._core_cases import check_json

    (tmp_path / ".git").mkdir()
    (tmp_path / "__init__.py").write_text("")  # the repository root is a package too
    (tmp_path / "zoo_nets").mkdir()
    (tmp_path / "zoo_nets" / "__init__.py").write_text("")
    (tmp_path / "zoo_nets" / "build.py").write_text("import torch\n\ndef build_net(name):\n    return torch.load(name)\n")
    (tmp_path / "scripts").mkdir()
    script = CASES["library_builder_bad.py"].replace("segmentation_zoo.nets", "zoo_nets.build")
    (tmp_path / "scripts" / "evaluate.py").write_text(script)
    alone, _ = check_json("--select", "TRN101", "scripts/evaluate.py", cwd=tmp_path)
    whole, _ = check_json("--select", "TRN101", ".", cwd=tmp_path)
    assert alone["findings"] == [] and whole["findings"] == []
