# A nanoGPT-style character LM whose split points come from two different fractions: the val text
# starts inside the training text (TRN207, judged by the windows' positions, not their content).
import random

import torch
from torch import nn
from torch.nn import functional as F

cfg = dict(block_size=16, batch_size=16, n_embd=32, n_head=2, max_iters=120, eval_interval=40, eval_iters=4, temperature=1.0)
torch.manual_seed(0)
rng = random.Random(0)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 8))) for _ in range(400)]
text = " ".join(rng.choice(words) + rng.choice(["", "", ",", "."]) for _ in range(2500))
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
train_data = data[: int(0.95 * len(data))]
val_data = data[int(0.8 * len(data)):]


def get_batch(split):
    d = train_data if split == "train" else val_data
    ix = torch.randint(len(d) - cfg["block_size"], (cfg["batch_size"],))
    x = torch.stack([d[i:i + cfg["block_size"]] for i in ix])
    y = torch.stack([d[i + 1:i + cfg["block_size"] + 1] for i in ix])
    return x, y


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg["n_embd"]), nn.LayerNorm(cfg["n_embd"])
        self.attn = nn.MultiheadAttention(cfg["n_embd"], cfg["n_head"], batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(cfg["n_embd"], 4 * cfg["n_embd"]), nn.GELU(),
                                 nn.Linear(4 * cfg["n_embd"], cfg["n_embd"]))
        mask = torch.triu(torch.ones(cfg["block_size"], cfg["block_size"], dtype=torch.bool), 1)
        self.register_buffer("mask", mask)

    def forward(self, x):
        h = self.ln1(x)
        T = x.shape[1]
        x = x + self.attn(h, h, h, attn_mask=self.mask[:T, :T], need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class CharLM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.tok = nn.Embedding(vocab, cfg["n_embd"])
        self.pos = nn.Embedding(cfg["block_size"], cfg["n_embd"])
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Linear(cfg["n_embd"], vocab)

    def forward(self, idx, targets=None):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        logits = self.head(self.blocks(x))
        loss = None if targets is None else sharpened_nll(logits, targets)
        return logits, loss


def sharpened_nll(logits, targets, temperature=cfg["temperature"]):
    """Hand-written NLL over temperature-sharpened probabilities."""
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean()


@torch.no_grad()
def estimate_loss(model):
    out = {}
    model.eval()
    for split in ["train", "val"]:
        losses = torch.zeros(cfg["eval_iters"])
        for k in range(cfg["eval_iters"]):
            X, Y = get_batch(split)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        out[split] = losses.mean().item()
    model.train()
    return out


model = CharLM(len(chars))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
for it in range(cfg["max_iters"] + 1):
    if it % cfg["eval_interval"] == 0:
        losses = estimate_loss(model)
        print(f"step {it}: train {losses['train']:.3f} val {losses['val']:.3f}")
    xb, yb = get_batch("train")
    _, loss = model(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
