# Pair: k-fold cross-validation with an sklearn Pipeline, fitted inside each fold on that
# fold's training rows only (correct).
import numpy as np
import torch
from torch import nn
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

CONFIG = {"folds": 4, "epochs": 25, "lr": 0.05, "components": 8}


def fit_fold(X_tr, y_tr, X_va, y_va):
    features = Pipeline([("scale", StandardScaler()), ("pca", PCA(CONFIG["components"], random_state=0))])
    X_tr, X_va = features.fit_transform(X_tr), features.transform(X_va)
    model = nn.Sequential(nn.Linear(X_tr.shape[1], 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    xt, yt = torch.tensor(X_tr, dtype=torch.float32), torch.tensor(y_tr)
    for _ in range(CONFIG["epochs"]):
        model.train()
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return (model(torch.tensor(X_va, dtype=torch.float32)).argmax(1).numpy() == y_va).mean()


torch.manual_seed(0)
X, y = load_wine(return_X_y=True)
scores = []
for tr, va in StratifiedKFold(CONFIG["folds"], shuffle=True, random_state=0).split(X, y):
    scores.append(fit_fold(X[tr], y[tr], X[va], y[va]))
print("cv accuracy", round(float(np.mean(scores)), 3))
