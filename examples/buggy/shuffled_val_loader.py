"""Digits classifier whose validation loader shuffles. expect: TRN203"""
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader as DL, TensorDataset

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
train_ds = TensorDataset(torch.tensor(X_train, dtype=torch.float32), torch.tensor(y_train))
val_ds = TensorDataset(torch.tensor(X_val, dtype=torch.float32), torch.tensor(y_val))

train_loader = DL(train_ds, batch_size=64, shuffle=True)
val_loader = DL(val_ds, batch_size=256, shuffle=True)
