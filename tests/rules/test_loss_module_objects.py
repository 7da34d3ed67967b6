"""TRN301-303 on a model and a criterion built at another module's top level: imported by name
(`from setup import model, criterion`), or used free by a lesson's later part that imports
nothing (`part_3_train.py` training the `model` that `part_1_model.py` of the same directory
built, the parts run one after the other in one namespace)."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

SOFTMAX_SETUP = """
import torch
import torch.nn as nn

class IrisNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.fc(x))

model = IrisNet()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters())
"""

LOGITS_SETUP = SOFTMAX_SETUP.replace("return self.softmax(self.fc(x))", "return self.fc(x)")

IMPORTING_TRAIN = """
from setup import model, criterion, optimizer

for x, y in loader:
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
"""

# A lesson's parts: no imports anywhere, `nn` and `torch` come from the namespace they run in.
PART_MODEL = """
class IrisNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5)
        self.fc2 = nn.Linear(5, 3)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        return self.softmax(self.fc2(x))

model = IrisNet()
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.01)
"""

PART_TRAIN = """
for epoch in range(100):
    model.train()
    optimizer.zero_grad()
    outputs = model(X_train_tensor)
    loss = criterion(outputs, y_train_tensor)
    loss.backward()
    optimizer.step()
"""

PART_LOG_MODEL = """
class SimpleNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

model = SimpleNN()
criterion = nn.NLLLoss()
optimizer = optim.SGD(model.parameters(), lr=0.01)
"""

PART_LOGITS_MODEL = PART_MODEL.replace("return self.softmax(self.fc2(x))", "return self.fc2(x)")


def test_model_and_criterion_imported_from_a_setup_module(tmp_path):
    found = run_cases(tmp_path, {"setup.py": SOFTMAX_SETUP, "train.py": IMPORTING_TRAIN}, "TRN301")
    assert codes_lines(found["train.py"]) == [("TRN301", 5)]


def test_imported_model_returning_logits_is_not_flagged(tmp_path):
    found = run_cases(tmp_path, {"setup.py": LOGITS_SETUP, "train.py": IMPORTING_TRAIN}, "TRN301")
    assert found["train.py"] == []


def test_lesson_part_trains_the_softmax_model_an_earlier_part_built(tmp_path):
    found = run_cases(tmp_path, {"lesson/part_1_model.py": PART_MODEL, "lesson/part_3_train.py": PART_TRAIN},
                      "TRN301")
    assert codes_lines(found["lesson/part_3_train.py"]) == [("TRN301", 5)]


def test_lesson_part_with_a_logits_model_is_not_flagged(tmp_path):
    found = run_cases(tmp_path, {"lesson/part_1_model.py": PART_LOGITS_MODEL,
                                 "lesson/part_3_train.py": PART_TRAIN}, "TRN301,TRN303")
    assert found["lesson/part_3_train.py"] == []


def test_lesson_part_with_log_softmax_and_nll_is_not_flagged(tmp_path):
    found = run_cases(tmp_path, {"lesson/part_1_model.py": PART_LOG_MODEL,
                                 "lesson/part_3_train.py": PART_TRAIN}, "TRN301,TRN303")
    assert found["lesson/part_3_train.py"] == []


def test_parts_of_another_directory_are_not_read(tmp_path):
    found = run_cases(tmp_path, {"lesson_a/part_1_model.py": PART_MODEL,
                                 "lesson_b/part_3_train.py": PART_TRAIN}, "TRN301")
    assert found["lesson_b/part_3_train.py"] == []


def test_siblings_disagreeing_on_the_model_keep_it_silent(tmp_path):
    found = run_cases(tmp_path, {"lesson/part_1_model.py": PART_MODEL,
                                 "lesson/part_2_model.py": PART_LOGITS_MODEL,
                                 "lesson/part_3_train.py": PART_TRAIN}, "TRN301")
    assert found["lesson/part_3_train.py"] == []


def test_a_file_binding_the_model_itself_is_read_as_before(tmp_path):
    own = "model = nn.Linear(4, 3)\n" + PART_TRAIN.lstrip("\n")
    found = run_cases(tmp_path, {"lesson/part_1_model.py": PART_MODEL, "lesson/part_3_train.py": own}, "TRN301")
    assert found["lesson/part_3_train.py"] == []


# A notebook split into scripts: the classes in one file, the objects built in another, the
# loop in a third that imports only tqdm and uses torch as the namespace left it.
PART_CLASSES = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Model1(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, 10)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
"""

PART_OBJECTS = """
model1 = Model1(X_train.shape[1])
optimizer1 = torch.optim.Adam(model1.parameters(), lr=0.001)
loss_fn1 = nn.CrossEntropyLoss()
model1 = model1.cuda()
"""

PART_LOOP = """
import tqdm

X_train = torch.from_numpy(X_train).float()
for epoch in tqdm.trange(40):
    y_pred1 = model1(X_train)
    loss1 = loss_fn1(y_pred1, y_train)
    optimizer1.zero_grad()
    loss1.backward()
    optimizer1.step()
"""


def test_split_notebook_model_class_defined_by_a_third_file(tmp_path):
    found = run_cases(tmp_path, {"exp/model_definition.py": PART_CLASSES, "exp/model_object.py": PART_OBJECTS,
                                 "exp/train.py": PART_LOOP}, "TRN301")
    assert codes_lines(found["exp/train.py"]) == [("TRN301", 6)]


def test_split_notebook_with_a_logits_class_is_not_flagged(tmp_path):
    logits = PART_CLASSES.replace("return F.softmax(self.fc(x), dim=1)", "return self.fc(x)")
    found = run_cases(tmp_path, {"exp/model_definition.py": logits, "exp/model_object.py": PART_OBJECTS,
                                 "exp/train.py": PART_LOOP}, "TRN301")
    assert found["exp/train.py"] == []
