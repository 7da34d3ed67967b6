"""Leakage families found by reading fresh repositories (session 12), each with the correct
look-alike a naive matcher would flag. Through the real command.

TRN201: standardisation by hand with statistics of test data or of train+test together
(in steps, in one expression, through a helper that standardises whatever it is given).
TRN202: a fitting helper handed the training part; a column transformer of category
encoders only. TRN204: a helper that picks the test loader by a switch its caller turns on;
a decision on the test score in an `elif`; `net.forward(x)` as a forward pass; a
validation-improved guard spelled `valid_mse < min_valid_mse and ...`; a dataset class
built with "test" is not an evaluation."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

TRN201_CASES = {
    # -- bugs
    "stats_of_train_and_test.py": """
import math
import numpy


def load(train, test):
    mean = numpy.nanmean(numpy.concatenate([train, test]))
    var = numpy.nanvar(numpy.concatenate([train, test]))
    train = (train - mean) / math.sqrt(var)
    test = (test - mean) / math.sqrt(var)
    return train, test
""",
    "helper_standardises_test.py": """
from sklearn.linear_model import LinearRegression


def standardize(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


def run(X_train, X_test, y_train):
    X_train = standardize(X_train)
    X_test = standardize(X_test)
    return LinearRegression().fit(X_train, y_train).predict(X_test)
""",
    "test_standardised_by_itself.py": """
import numpy as np

X_test = np.load("x_test.npy")
X_test = (X_test - X_test.mean(0)) / X_test.std(0)
""",
    # -- look-alikes
    "helper_on_train_then_train_stats.py": """
def standardize(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


def run(X_train, X_test):
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    X_test = (X_test - mean) / std
    return standardize(X_train), X_test
""",
    "r2_on_test.py": """
import numpy as np


def r2(model, X_test, y_test):
    pred = model.predict(X_test)
    test_mean = y_test.mean()
    resid = y_test - test_mean
    ss_tot = ((y_test - y_test.mean()) ** 2).sum()
    return 1 - ((y_test - pred) ** 2).sum() / ss_tot, resid
""",
    "per_sample_test_normalisation.py": """
import numpy as np

X_test = np.load("x_test.npy")
X_test = (X_test - X_test.mean(axis=1, keepdims=True)) / X_test.std(axis=1, keepdims=True)
""",
    "test_timings_compared.py": """
def compare(results, compiled):
    mean_test_epoch_time = results.test_epoch_time.mean()
    compiled_test_epoch_time = compiled.test_epoch_time.mean()
    test_epoch_time_diff = compiled_test_epoch_time - mean_test_epoch_time
    return test_epoch_time_diff / mean_test_epoch_time * 100
""",
    "test_predictions_stretched.py": """
def stretch(y):
    return (y - y.min()) / (y.max() - y.min())


def submit(model, X_test):
    test_preds = model.predict_proba(X_test)
    test_preds = stretch(test_preds)
    test_scores = model.decision_function(X_test)
    test_scores = (test_scores - test_scores.min()) / (test_scores.max() - test_scores.min())
    return test_preds, test_scores
""",
}

TRN201_EXPECTED = {
    "stats_of_train_and_test.py": [("TRN201", 6)],
    "helper_standardises_test.py": [("TRN201", 10)],
    "test_standardised_by_itself.py": [("TRN201", 4)],
    "helper_on_train_then_train_stats.py": [],
    "r2_on_test.py": [],
    "per_sample_test_normalisation.py": [],
    "test_timings_compared.py": [],
    "test_predictions_stretched.py": [],
}

TRN202_CASES = {
    "helper_given_train_part.py": """
import torch


class StandardScaler:
    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def transform(self, data):
        return (data - self.mean) / self.std


def normalize_dataset(data, normalizer):
    if normalizer == "max01":
        minimum, maximum = data.min(), data.max()
        scaler = StandardScaler(minimum, maximum)
        data = scaler.transform(data)
    else:
        mean = data.mean(axis=0, keepdims=True)
        std = data.std(axis=0, keepdims=True)
        scaler = StandardScaler(mean, std)
    return scaler


def split_data_by_ratio(data, val_ratio, test_ratio):
    n = data.shape[0]
    test_data = data[-int(n * test_ratio):]
    val_data = data[-int(n * (test_ratio + val_ratio)):-int(n * test_ratio)]
    train_data = data[:-int(n * (test_ratio + val_ratio))]
    return train_data, val_data, test_data


def get_dataloader(x, y, batch_size):
    x_train, x_val, x_test = split_data_by_ratio(x, 0.1, 0.2)
    y_train, y_val, y_test = split_data_by_ratio(y, 0.1, 0.2)
    scaler = normalize_dataset(x_train[..., :1], "std")
    x_train[..., :1] = scaler.transform(x_train[..., :1])
    x_val[..., :1] = scaler.transform(x_val[..., :1])
    x_test[..., :1] = scaler.transform(x_test[..., :1])
    val_loader = data_loader(x_val, y_val, batch_size, shuffle=False)
    return scaler, val_loader


def data_loader(X, Y, batch_size, shuffle=True):
    data = torch.utils.data.TensorDataset(X, Y)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle)
""",
    "helper_given_all_rows.py": """
import numpy as np
from sklearn.model_selection import train_test_split


def normalize_dataset(data):
    mean = data.mean(axis=0, keepdims=True)
    std = data.std(axis=0, keepdims=True)
    data = (data - mean) / std
    return data


def get_data(x):
    x = normalize_dataset(x)
    x_train, x_test = train_test_split(x, test_size=0.2)
    return x_train, x_test
""",
    "one_hot_column_transformer.py": """
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder

ct = ColumnTransformer([("", OneHotEncoder(), [0])], remainder="passthrough")
X = ct.fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
""",
    "scaling_column_transformer.py": """
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ct = ColumnTransformer([("cat", OneHotEncoder(), [0]), ("num", StandardScaler(), [1, 2])])
X = ct.fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
""",
    "one_hot_with_scaled_remainder.py": """
from sklearn.compose import make_column_transformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ct = make_column_transformer((OneHotEncoder(), [0]), remainder=StandardScaler())
X = ct.fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
""",
}

TRN202_EXPECTED = {
    "helper_given_train_part.py": [],
    "helper_given_all_rows.py": [("TRN202", 13)],
    "one_hot_column_transformer.py": [],
    "scaling_column_transformer.py": [("TRN202", 6)],
    "one_hot_with_scaled_remainder.py": [("TRN202", 6)],
}

_SWITCHED = """
import torch


class Solver:
    def __init__(self, model, train_loader, dev_loader, test_loader, optimizer):
        self.model, self.optimizer = model, optimizer
        self.train_loader, self.dev_loader, self.test_loader = train_loader, dev_loader, test_loader

    def run(self, epochs):
        model = self.model

        def train():
            model.train()
            for x, y in self.train_loader:
                self.optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                self.optimizer.step()

        def evaluate(test=False):
            model.eval()
            loader = self.test_loader if test else self.dev_loader
            total = 0.0
            with torch.no_grad():
                for x, y in loader:
                    total += torch.nn.functional.l1_loss(model(x), y).item()
            return total

        best = 1e8
        for epoch in range(epochs):
            train()
            val_loss = evaluate(test=False)
            if val_loss < best:
                best = val_loss
                torch.save(model.state_dict(), "best.pt")
        BODY
"""

TRN204_CASES = {
    # -- bugs
    "switched_helper_decides.py": _SWITCHED.replace("""            if val_loss < best:""", """            test_loss = evaluate(test=True)
            if test_loss < best:""").replace("BODY", ""),
    "elif_decides_on_test.py": """
import torch


def fit(model, opt, train_loader, val_loader, test_loader, evaluate, dataset, epochs):
    best_valid, best_test = 1e8, 1e8
    for epoch in range(epochs):
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        val_loss = evaluate(model, val_loader)
        test_loss = evaluate(model, test_loader)
        if val_loss < best_valid:
            best_valid = val_loss
            if dataset == "humor":
                print(test_loss)
            elif test_loss < best_test:
                best_test = test_loss
                torch.save(model.state_dict(), "best.pt")
""",
    "explicit_forward_inline.py": """
import torch


def train(net, optimizer, train_loader, test_loader, epochs):
    best = 0.0
    for epoch in range(epochs):
        net.train()
        for img, mask in train_loader:
            optimizer.zero_grad()
            net.loss(net(img), mask).backward()
            optimizer.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for img, label in test_loader:
                pred = net.forward(img)
                correct += (pred.argmax(1) == label).sum().item()
        if correct > best:
            best = correct
            torch.save(net.state_dict(), "best.pt")
""",
    # -- look-alikes
    "switched_helper_on_validation.py": _SWITCHED.replace("BODY", "return evaluate(test=True)"),
    "test_under_compound_val_guard.py": """
import torch


def fit(model, opt, trainloader, validloader, testloader, valid, test, epochs):
    min_valid_mse = 10
    for e in range(epochs):
        for x, y in trainloader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        valid_mse = valid(model, validloader)
        if valid_mse < min_valid_mse and testloader is not None:
            min_valid_mse = valid_mse
            true_label, pred_label = test(model, testloader)
            torch.save(model.state_dict(), "best.pt")
""",
    "explicit_forward_after_training.py": """
import torch


def train(net, optimizer, train_loader, test_loader, epochs):
    for epoch in range(epochs):
        for img, mask in train_loader:
            optimizer.zero_grad()
            net.loss(net(img), mask).backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        for img, label in test_loader:
            pred = net.forward(img)
            print((pred.argmax(1) == label).float().mean())
""",
    "test_dataset_built_in_loop.py": """
import torch
from data import TestSetLoader


def train(net, optimizer, train_loader, epochs):
    for epoch in range(epochs):
        for img, mask in train_loader:
            optimizer.zero_grad()
            net.loss(net(img), mask).backward()
            optimizer.step()
        test_set = TestSetLoader("data", "test")
        print(len(test_set))
""",
}

TRN204_EXPECTED = {
    "switched_helper_decides.py": [("TRN204", 32)],
    "elif_decides_on_test.py": [("TRN204", 12)],
    "explicit_forward_inline.py": [("TRN204", 16)],
    "switched_helper_on_validation.py": [],
    "test_under_compound_val_guard.py": [],
    "explicit_forward_after_training.py": [],
    "test_dataset_built_in_loop.py": [],
}


@pytest.fixture(scope="module")
def found201(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s12_201"), TRN201_CASES, "TRN201")


@pytest.fixture(scope="module")
def found202(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s12_202"), TRN202_CASES, "TRN202")


@pytest.fixture(scope="module")
def found204(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s12_204"), TRN204_CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(TRN201_EXPECTED))
def test_statistics_by_hand_on_evaluation_data(found201, name):
    assert codes_lines(found201[name]) == TRN201_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(TRN202_EXPECTED))
def test_fit_before_split_parts_and_encoders(found202, name):
    assert codes_lines(found202[name]) == TRN202_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(TRN204_EXPECTED))
def test_test_data_in_training_loop(found204, name):
    assert codes_lines(found204[name]) == TRN204_EXPECTED[name]


def test_decisions_are_errors(found204):
    for name in ("switched_helper_decides.py", "elif_decides_on_test.py", "explicit_forward_inline.py"):
        assert [f["severity"] for f in found204[name]] == ["error"], name


def test_messages_name_the_data(found201, found204):
    assert "mixes training and evaluation data" in found201["stats_of_train_and_test.py"][0]["message"]
    assert "`standardize()`" in found201["helper_standardises_test.py"][0]["message"]
    assert "`self.test_loader`" in found204["switched_helper_decides.py"][0]["message"]
    assert "`test_loss < best_test`" in found204["elif_decides_on_test.py"][0]["message"]
