# Pair: the model and the loss step live in zoo.py, the config picks the model's output.
# BUG: the config asks for probabilities, and CrossEntropyLoss applies log_softmax again (TRN301,
# found in the helper, reported with the calling line).
import torch
from torch import nn
from sklearn.preprocessing import StandardScaler
from datasets_helper import digits, make_loader
from zoo import Classifier, training_loss

CONFIG = {"output": "probabilities", "epochs": 2}
torch.manual_seed(0)
X, y = digits()
train = make_loader(StandardScaler().fit_transform(X), y, shuffle=True)
model = Classifier(64, 10, probabilities=CONFIG["output"] == "probabilities")
criterion = nn.CrossEntropyLoss()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(CONFIG["epochs"]):
    model.train()
    for batch in train:
        opt.zero_grad()
        loss = training_loss(model, criterion, batch)
        loss.backward()
        opt.step()
    print(epoch, round(loss.item(), 3))
