# TRN202: a pipeline helper scales the whole dataset, and only then is it split.
import torch
from torch import nn
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader


def load_features():
    X, y = digits()
    return make_pipeline(StandardScaler(), PCA(n_components=32, random_state=0)).fit_transform(X), y


torch.manual_seed(0)
X, y = load_features()
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
train, test = make_loader(X_tr, y_tr, shuffle=True), make_loader(X_te, y_te)
model = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model.train()
for epoch in range(2):
    for xb, yb in train:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
model.eval()
with torch.no_grad():
    print(sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in test))
