"""TRN201-TRN204 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

import json

from tests.rules._core_cases import codes_lines, run_cases

SK = "import numpy as np\nimport torch\nfrom sklearn.preprocessing import StandardScaler, MinMaxScaler\nfrom sklearn.model_selection import train_test_split\n"

CASES = {
    "fit_on_test.py": SK + """
sc = StandardScaler()
X_tr = sc.fit_transform(X_tr)
X_te = sc.fit_transform(X_te)
""",
    "fit_on_test_ok.py": SK + """
sc = StandardScaler()
X_tr = sc.fit_transform(X_tr)
X_te = sc.transform(X_te)
""",
    # Positions of train_test_split results, with uninformative names.
    "fit_positional.py": SK + """
A, B, a, b = train_test_split(X, y, test_size=0.2)
scaler = MinMaxScaler().fit(B)
""",
    "fit_mixed.py": SK + """
scaler = StandardScaler().fit(np.concatenate([x_train, x_valid]))
""",
    "fit_loop_over_splits.py": SK + """
data = {"train": load("tr"), "test": load("te")}
for part in ("train", "test"):
    data[part] = StandardScaler().fit_transform(data[part])
""",
    "fit_helper.py": SK + """
def normalise(features):
    return StandardScaler().fit_transform(features)

train_feats = normalise(train_feats)
holdout_feats = normalise(holdout_feats)
""",
    "fit_before_split.py": SK + """
features = MinMaxScaler().fit_transform(features)
X_a, X_b, y_a, y_b = train_test_split(features, labels, test_size=0.3)
""",
    "fit_before_split_ok.py": SK + """
X_a, X_b, y_a, y_b = train_test_split(features, labels, test_size=0.3)
scaler = MinMaxScaler().fit(X_a)
X_a, X_b = scaler.transform(X_a), scaler.transform(X_b)
""",
    "loader_shuffled.py": """
from torch.utils.data import DataLoader, RandomSampler
valid_dl = DataLoader(valid_ds, 64, True)
test_dl = DataLoader(test_set, batch_size=64, sampler=RandomSampler(test_set))
train_dl = DataLoader(train_ds, batch_size=64, shuffle=True)
""",
    "loader_helper.py": """
from torch.utils.data import DataLoader

def make_loader(ds, shuffle):
    return DataLoader(ds, batch_size=32, shuffle=shuffle)

train_loader = make_loader(train_ds, True)
dev_loader = make_loader(dev_ds, shuffle=True)
""",
    # DataLoader named only in the import that renames it.
    "loader_alias.py": """
import torch.utils.data as tud
from torch.utils.data import DataLoader as DL
val_dl = DL(val_ds, batch_size=64, shuffle=True)
test_dl = tud.DataLoader(test_ds, shuffle=True)
""",
    "loader_ok.py": """
from torch.utils.data import DataLoader
loaders = {}
for split in ("train", "val"):
    loaders[split] = DataLoader(sets[split], batch_size=32, shuffle=(split == "train"))
eval_loader = DataLoader(eval_ds, batch_size=64)
""",
    "test_in_loop.py": """
import torch

def fit(model, opt, crit, train_loader, test_loader):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for x, y in test_loader:
                model(x)
""",
    "test_after_loop_ok.py": """
import torch

@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)

def fit(model, opt, crit, train_loader, val_loader, test_loader):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        best = accuracy(model, val_loader)
    return accuracy(model, test_loader)
""",
    "test_printed_each_epoch.py": """
import torch

def test(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    print(correct)

def main(model, opt, crit, train_loader, test_loader):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        test(model, test_loader)
""",
    "test_early_stopping.py": """
import torch

def evaluate(model, loader):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += model(x).sum().item()
    return total

def main(model, opt, crit, train_loader, test_loader, stopper):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        test_loss = evaluate(model, test_loader)
        print(test_loss)
        stopper(test_loss, model)
        if stopper.early_stop:
            break
""",
    "test_at_best_val_ok.py": """
import torch

def evaluate(model, loader):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += model(x).sum().item()
    return total

def main(model, opt, crit, train_loader, val_loader, test_loader):
    best_val = 0
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        val_acc = evaluate(model, val_loader)
        if val_acc > best_val:
            best_val = val_acc
            test_at_best = evaluate(model, test_loader)
    print(test_at_best)
""",
    "test_checkpoint_in_helper.py": """
import torch
net = Net()
criterion = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=128, shuffle=True)
testloader = torch.utils.data.DataLoader(testset, batch_size=100, shuffle=False)
best_acc = 0

def train(epoch):
    net.train()
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        loss = criterion(net(inputs), targets)
        loss.backward()
        optimizer.step()

def test(epoch):
    global best_acc
    net.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for inputs, targets in testloader:
            outputs = net(inputs)
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
    acc = 100. * correct / total
    if acc > best_acc:
        torch.save(net.state_dict(), "ckpt.pth")
        best_acc = acc

for epoch in range(200):
    train(epoch)
    test(epoch)
""",
    "test_loop_scheduler.py": """
import torch

def main(model, opt, crit, train_loader, test_loader, scheduler):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for x, y in test_loader:
                test_loss += crit(model(x), y).item()
        scheduler.step(test_loss)
""",
    "test_loop_logged.py": """
import torch

def main(model, opt, crit, train_loader, test_loader, writer):
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for x, y in test_loader:
                out = model(x)
                test_loss += crit(out, y).item()
        writer.add_scalar("test/loss", test_loss, epoch)
""",
    "test_submission_written_ok.py": """
import torch

def main(model, opt, crit, train_loader, test_loader, save_test_submission):
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        save_test_submission(model, test_loader, f"sub_{epoch}.csv")
""",
    "test_best_over_epochs.py": """
import torch

def evaluate(model, loader):
    with torch.no_grad():
        return sum(model(x).sum().item() for x, y in loader)

def main(model, opt, crit, train_loader, test_loader):
    best = 0
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            crit(model(x), y).backward()
            opt.step()
        acc = evaluate(model, test_loader)
        best = max(best, acc)
    print(best)
""",
    "before_split_wrapped.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
scaled = StandardScaler().fit_transform(X)
frame = pd.DataFrame(scaled, columns=cols)
arr = frame.to_numpy()
t = torch.tensor(arr)
a, b, c, d = train_test_split(t, y, test_size=0.2)
""",
    "before_split_columns.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
df = pd.read_csv("data.csv")
df[num_cols] = MinMaxScaler().fit_transform(df[num_cols])
train_df, test_df = train_test_split(df, test_size=0.2)
""",
    "before_split_by_hand.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
X = (X - X.mean(0)) / X.std(0)
X_tr, X_te, y_tr, y_te = train_test_split(X, y)
""",
    "per_row_norm_ok.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
X_tr, X_te, y_tr, y_te = train_test_split(X, y)
mu, sd = X_tr.mean(0), X_tr.std(0)
""",
    "before_slice_split_minmax.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
data = (data - data.min()) / (data.max() - data.min())
n = int(len(data) * 0.8)
train_data = data[:n]
test_data = data[n:]
""",
    "before_kfold_tfidf_pca.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
vec = TfidfVectorizer()
features = vec.fit_transform(texts)
Z = PCA(n_components=10).fit_transform(np.asarray(features.todense()))
for tr_idx, te_idx in KFold(5).split(Z):
    pass
""",
    "rebound_before_split_ok.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
X2D = PCA(n_components=2).fit_transform(X)
plot(X2D)
X = load_other()
X_train, X_test, y_train, y_test = train_test_split(X, y)
""",
    "fit_then_split_transform.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
scaler = StandardScaler()
scaler.fit(X)
X_train, X_test, y_train, y_test = train_test_split(X, y)
X_train = scaler.transform(X_train)
X_test = scaler.transform(X_test)
""",
    "helper_fits_caller_splits.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
def prepare(frame):
    values = frame.values
    pt = PowerTransformer()
    values = pt.fit_transform(values)
    return values

data = prepare(raw)
train_x, test_x = train_test_split(data, test_size=0.25)
""",
    "helper_fits_train_part_ok.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
def prepare(frame):
    tr, te = train_test_split(frame.values, test_size=0.25)
    sc = StandardScaler().fit(tr)
    return sc.transform(tr), sc.transform(te)

class Data:
    def load(self, frame):
        values = frame.values
        train = values[:100]
        self.scaler = StandardScaler()
        self.scaler.fit(train)
        return self.scaler.transform(values)

tr_x, te_x = prepare(raw)
full = Data().load(raw)
""",
    "pipeline_model_fit_ok.py": """
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler, MinMaxScaler, PowerTransformer
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split, KFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
clf = Pipeline([("scaler", StandardScaler()), ("svc", SVC())])
clf.fit(X, y)
X_train, X_test, y_train, y_test = train_test_split(X, y)
""",
    "split_by_behaviour.py": """
import torch
from torch.utils.data import DataLoader, Subset
from torchvision.datasets import CIFAR10
from datasets import load_dataset

a = CIFAR10("data", train=False, download=True)
la = DataLoader(a, batch_size=64, shuffle=True)
b = load_dataset("glue", "mrpc", split="test")
lb = DataLoader(b, batch_size=64, shuffle=True)
c = self_get(flag='TEST')
lc = DataLoader(c, batch_size=64, shuffle=True)
d = Subset(full, test_idx)
ld = DataLoader(d, batch_size=64, shuffle=True)
""",
    "split_flag_method.py": """
from torch.utils.data import DataLoader

class Exp:
    def _get_data(self, flag):
        return make(flag)

    def run(self):
        ds, loader = self._get_data(flag='test')
        l2 = DataLoader(ds, batch_size=8, shuffle=True)
""",
    "split_positions.py": """
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, random_split
import datasets
p, q = train_test_split(frame, test_size=0.2)
lq = DataLoader(q, batch_size=8, shuffle=True)
m, n = random_split(ds, [0.8, 0.2])
ln = DataLoader(n, batch_size=8, shuffle=True)
h = datasets.load_dataset("imdb", split="test")
lh = DataLoader(h, batch_size=8, shuffle=True)
ok = CIFAR10("data", train=True)
lok = DataLoader(ok, batch_size=8, shuffle=True)
""",
    "loader_sample_grid.py": """
from torch.utils.data import DataLoader
val_loader = DataLoader(val_ds, batch_size=64, shuffle=True)
images, labels = next(iter(val_loader))
show_grid(images)
test_loader = DataLoader(test_ds, batch_size=64, shuffle=True)
sample = next(iter(test_loader))
for x, y in test_loader:
    score(x, y)
""",
    "synthetic_scale_ok.py": """
import numpy as np
from sklearn.model_selection import train_test_split
x = np.random.sample(100)
pi = np.sin(x) / np.sin(x).max()
pi = pi / pi.max()
y = pi * 2
x_tr, x_te, y_tr, y_te = train_test_split(x, y)
""",
    "tsne_plot_ok.py": """
from sklearn.manifold import TSNE
emb = TSNE(n_components=2).fit_transform(test_features)
plot(emb)
""",
    "test_mixed_helper.py": """
import torch

def evaluate(model, g, val_nid, test_nid):
    model.eval()
    with torch.no_grad():
        pred = model(g)
    return acc(pred[val_nid]), acc(pred[test_nid])

def main(model, opt, g, train_nid, val_nid, test_nid):
    best_eval_acc = 0
    for epoch in range(10):
        opt.zero_grad()
        model(g)[train_nid].sum().backward()
        opt.step()
        eval_acc, test_acc = evaluate(model, g, val_nid, test_nid)
        print(test_acc)
        if eval_acc > best_eval_acc:
            best_eval_acc = eval_acc
            best_test_acc = test_acc
""",
    "declared_valid_ok.py": """
import torch

def evaluate(net, dataset, segment):
    with torch.no_grad():
        return net(dataset.graphs[segment]).mean().item()

def main(net, opt, dataset, test_dataset):
    best = 1e9
    for it in range(100):
        opt.zero_grad()
        net(dataset.train).sum().backward()
        opt.step()
        rmse = evaluate(net, test_dataset, segment="valid")
        if rmse < best:
            best = rmse
""",
    "test_helper_arithmetic.py": """
import torch

def evaluate(net, test_loader):
    net.eval()
    counts = {}
    with torch.no_grad():
        with tqdm(test_loader) as tq:
            for x, y in tq:
                counts[y] = net(x)
    total = 0
    for k, v in counts.items():
        if v[1] > 0:
            total += v[0] / v[1]
    return total

def main(net, opt, train_loader, valid_loader, test_loader):
    for epoch in range(10):
        for x, y in train_loader:
            opt.zero_grad()
            net(x).sum().backward()
            opt.step()
        valid_acc = evaluate(net, valid_loader)
        test_acc = evaluate(net, test_loader)
        print(valid_acc, test_acc)
""",
    # Independent runs: the model is built anew each run and scored after its epochs.
    "test_after_each_run_ok.py": """
import torch

def main(train, test, train_loader, test_loader, n_runs, epochs):
    results = []
    for _ in range(n_runs):
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(epochs):
            for x, y in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        results.append(test(model, test_loader))
    return results
""",
    "kfold_splits.py": """
from sklearn.model_selection import KFold
from torch.utils.data import DataLoader, Subset
kf = KFold(n_splits=5, shuffle=True)
for a, b in kf.split(ds):
    la = DataLoader(Subset(ds, a), batch_size=8, shuffle=True)
    lb = DataLoader(Subset(ds, b), batch_size=8, shuffle=True)
for fold, (a, b) in enumerate(KFold(5).split(ds)):
    lc = DataLoader(Subset(ds, b), batch_size=8, shuffle=True)
""",
}


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": cell} for cell in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


# A notebook is one program: the fit in one cell, the split three cells later.
CASES["cells.ipynb"] = _notebook(
    "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split",
    "df = pd.read_csv('d.csv')\nfeatures = StandardScaler().fit_transform(df.drop(columns=['y']))",
    "X = pd.DataFrame(features)",
    "X_a, X_b, y_a, y_b = train_test_split(X, df['y'])",
)
# The same cells with the data reloaded before the split: the scaled copy never reaches it.
CASES["cells_reloaded_ok.ipynb"] = _notebook(
    "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split",
    "df = pd.read_csv('d.csv')\nfeatures = StandardScaler().fit_transform(df.drop(columns=['y']))",
    "X = pd.DataFrame(features)\nX = pd.read_csv('other.csv')",
    "X_a, X_b, y_a, y_b = train_test_split(X, df['y'])",
)

EXPECTED = {
    "fit_on_test.py": [("TRN201", 8)],
    "fit_on_test_ok.py": [],
    "fit_positional.py": [("TRN201", 7)],
    "fit_mixed.py": [("TRN201", 6)],
    "fit_loop_over_splits.py": [("TRN201", 8)],
    "fit_helper.py": [("TRN201", 10)],
    "fit_before_split.py": [("TRN202", 6)],
    "fit_before_split_ok.py": [],
    "loader_shuffled.py": [("TRN203", 2), ("TRN203", 3)],
    "loader_helper.py": [("TRN203", 7)],
    "loader_alias.py": [("TRN203", 3), ("TRN203", 4)],
    "loader_ok.py": [],
    "test_in_loop.py": [("TRN204", 13)],
    "test_after_loop_ok.py": [],
    "cells.ipynb": [("TRN202", 2)],
    "test_after_each_run_ok.py": [],
    "kfold_splits.py": [("TRN203", 6), ("TRN203", 8)],
    "cells_reloaded_ok.ipynb": [],
    "test_printed_each_epoch.py": [("TRN204", 18)],
    "test_early_stopping.py": [("TRN204", 18)],
    "test_at_best_val_ok.py": [],
    "test_checkpoint_in_helper.py": [("TRN204", 35)],
    "test_loop_scheduler.py": [("TRN204", 14)],
    "test_loop_logged.py": [("TRN204", 14)],
    "test_submission_written_ok.py": [],
    "test_best_over_epochs.py": [("TRN204", 14)],
    "synthetic_scale_ok.py": [],
    "tsne_plot_ok.py": [],
    "test_mixed_helper.py": [('TRN204', 15)],
    "declared_valid_ok.py": [],
    "test_helper_arithmetic.py": [('TRN204', 23)],
    "before_split_wrapped.py": [('TRN202', 8)],
    "before_split_columns.py": [('TRN202', 9)],
    "before_split_by_hand.py": [('TRN202', 8)],
    "per_row_norm_ok.py": [],
    "before_slice_split_minmax.py": [('TRN202', 8)],
    "before_kfold_tfidf_pca.py": [('TRN202', 9), ('TRN202', 10)],
    "rebound_before_split_ok.py": [],
    "fit_then_split_transform.py": [('TRN202', 9)],
    "helper_fits_caller_splits.py": [('TRN202', 14)],
    "helper_fits_train_part_ok.py": [],
    "pipeline_model_fit_ok.py": [],
    "split_by_behaviour.py": [('TRN203', 7), ('TRN203', 9), ('TRN203', 11), ('TRN203', 13)],
    "split_flag_method.py": [('TRN203', 9)],
    "split_positions.py": [('TRN203', 5), ('TRN203', 7), ('TRN203', 9)],
    "loader_sample_grid.py": [('TRN203', 5)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("data"), CASES, "TRN201,TRN202,TRN203,TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_messages_name_the_evidence(found):
    assert "X_te" in found["fit_on_test.py"][0]["message"]
    assert "mixes" in found["fit_mixed.py"][0]["message"]
    assert "holdout_feats" in found["fit_helper.py"][0]["message"]
    assert "shuffle=False" in found["loader_shuffled.py"][0]["message"]
    assert "test_loader" in found["test_in_loop.py"][0]["message"]


# TRN204 judges each finding: error where the test score reaches a decision, info where
# it is only printed, logged or stored.
SEVERITIES = {
    "test_in_loop.py": "info",
    "test_printed_each_epoch.py": "info",
    "test_loop_logged.py": "info",
    "test_early_stopping.py": "error",
    "test_checkpoint_in_helper.py": "error",
    "test_loop_scheduler.py": "error",
    "test_best_over_epochs.py": "error",
    "test_mixed_helper.py": "info",
    "test_helper_arithmetic.py": "info",
}


@pytest.mark.parametrize("name", sorted(SEVERITIES))
def test_test_in_loop_severity(found, name):
    assert [f["severity"] for f in found[name]] == [SEVERITIES[name]]


def test_decision_is_named(found):
    assert "stopper(test_loss, model)" in found["test_early_stopping.py"][0]["message"]
    assert "acc > best_acc" in found["test_checkpoint_in_helper.py"][0]["message"]
    assert "only to be reported" in found["test_loop_logged.py"][0]["message"]


def test_notebook_finding_names_its_cell(found):
    assert found["cells.ipynb"][0]["cell"] == 2
