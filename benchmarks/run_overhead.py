"""Wall time of a realistic CPU training script, plain `python` vs `auditor run`, side by side.

Repetitions are interleaved (plain, audited, audited, plain, ...) so that a machine that
gets busier or quieter during the run affects both sides alike. Two ratios are printed:
the whole process (imports, data, training, the audit's verdicts at exit) and the
training loop alone, as timed by the script itself.

    python benchmarks/run_overhead.py [--repeats 5] [--epochs 15] [--threads 1] [--workload digits|charlm|both]

Two workloads: a digits MLP (DataLoader, scheduler, evaluation each epoch) and a tiny
nanoGPT-style character-level transformer LM (random windows of a text, estimate_loss()
on train and val every 50 iterations). The LM prints its loop time per iteration.

Goals: whole process <= 1.05x (issue 6); per training iteration of the LM <= 1.03x (issue 20).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = '''
import sys, time
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

EPOCHS = int(sys.argv[1])
torch.manual_seed(0)
X, y = load_digits(return_X_y=True)
X_tmp, X_te, y_tmp, y_te = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
X_tr, X_va, y_tr, y_va = train_test_split(X_tmp, y_tmp, test_size=0.2, random_state=0, stratify=y_tmp)
scaler = StandardScaler().fit(X_tr)
def loader(X, y, shuffle):
    ds = TensorDataset(torch.tensor(scaler.transform(X), dtype=torch.float32), torch.tensor(y))
    return DataLoader(ds, batch_size=32, shuffle=shuffle)
train, val, test = loader(X_tr, y_tr, True), loader(X_va, y_va, False), loader(X_te, y_te, False)
model = nn.Sequential(nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
                      nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS * len(train))
criterion = nn.CrossEntropyLoss()

def evaluate(loader):
    model.eval()
    with torch.no_grad():
        hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
    return hits / len(loader.dataset)

start, cpu_start = time.perf_counter(), time.process_time()
for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
        sched.step()
    val_acc = evaluate(val)
loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu_start
print(f"val {val_acc:.4f} test {evaluate(test):.4f}")
print(f"LOOP_SECONDS {loop:.6f}")
print(f"LOOP_CPU {loop_cpu:.6f}")
'''


CHARLM = '''
import random, sys, time
import torch
from torch import nn
from torch.nn import functional as F

ITERS = int(sys.argv[1]) * 20
torch.manual_seed(0)
rng = random.Random(0)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 8))) for _ in range(500)]
text = " ".join(rng.choice(words) for _ in range(6000))
chars = sorted(set(text))
data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
n = int(0.9 * len(data))
train_data, val_data = data[:n], data[n:]
B, T, C = 16, 32, 64

def get_batch(split):
    d = train_data if split == "train" else val_data
    ix = torch.randint(len(d) - T, (B,))
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))
    def forward(self, x):
        q, k, v = self.qkv(self.ln1(x)).view(B if x.shape[0] == B else x.shape[0], -1, 3, 4, C // 4).unbind(2)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(x.shape))
        return x + self.mlp(self.ln2(x))

class GPT(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, C), nn.Embedding(T, C)
        self.blocks = nn.Sequential(*[Block() for _ in range(2)])
        self.ln, self.head = nn.LayerNorm(C), nn.Linear(C, vocab)
    def forward(self, idx, targets=None):
        x = self.blocks(self.tok(idx) + self.pos(torch.arange(idx.shape[1])))
        logits = self.head(self.ln(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

@torch.no_grad()
def estimate_loss(model):
    out = {}
    model.eval()
    for split in ("train", "val"):
        out[split] = sum(model(*get_batch(split))[1].item() for _ in range(5)) / 5
    model.train()
    return out

model = GPT(len(chars))
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
start, cpu_start = time.perf_counter(), time.process_time()
for it in range(ITERS):
    if it % 50 == 0:
        losses = estimate_loss(model)
    xb, yb = get_batch("train")
    _, loss = model(xb, yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu_start
print(f"val {losses['train']:.4f} {losses['val']:.4f} last {loss.item():.4f}")
print(f"LOOP_SECONDS {loop / ITERS:.6f}")
print(f"LOOP_CPU {loop_cpu / ITERS:.6f}")
'''

WORKLOADS = {"digits": SCRIPT, "charlm": CHARLM}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(cmd: list[str], env: dict) -> tuple[float, float, str, float, float]:
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO))
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"benchmark run failed ({' '.join(cmd)}):\n{proc.stderr}")
    loop = next(float(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("LOOP_SECONDS"))
    loop_cpu = next(float(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("LOOP_CPU"))
    result = next(line for line in proc.stdout.splitlines() if line.startswith("val "))
    return wall, loop, result, cpu, loop_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=15, help="epochs (digits); x20 iterations (charlm)")
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads per run")
    parser.add_argument("--workload", choices=("digits", "charlm", "both"), default="both")
    args = parser.parse_args()
    names = ("digits", "charlm") if args.workload == "both" else (args.workload,)
    for name in names:
        _measure(name, WORKLOADS[name], args)


def _measure(name: str, source: str, args: argparse.Namespace) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    print(f"== {name}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, f"train_{name}.py")
        Path(script).write_text(source)
        plain_cmd = [sys.executable, script, str(args.epochs)]
        audit_cmd = [sys.executable, "-m", "auditor", "run", "-o", os.path.join(tmp, "findings.txt"),
                     script, str(args.epochs)]
        _once(plain_cmd, env)  # warm the file cache for both sides
        rows = []
        for r in range(args.repeats):
            order = [("plain", plain_cmd), ("audit", audit_cmd)]
            if r % 2:
                order.reverse()
            got = {side: _once(cmd, env) for side, cmd in order}
            if got["plain"][2] != got["audit"][2]:
                sys.exit(f"the audit changed the script's numbers: {got['plain'][2]!r} vs {got['audit'][2]!r}")
            rows.append(got)
            print(f"rep {r + 1}: wall {got['plain'][0]:6.2f}s plain, {got['audit'][0]:6.2f}s audited "
                  f"({got['audit'][0] / got['plain'][0]:.3f}x); loop {got['plain'][1]:.6f} vs "
                  f"{got['audit'][1]:.6f} ({got['audit'][1] / got['plain'][1]:.3f}x); loop CPU "
                  f"{got['audit'][4] / got['plain'][4]:.3f}x; process CPU "
                  f"{got['audit'][3] / got['plain'][3]:.3f}x", flush=True)
        findings = Path(tmp, "findings.txt").read_text().strip().splitlines()[-1]
    wall = statistics.median(g["audit"][0] / g["plain"][0] for g in rows)
    loop = statistics.median(g["audit"][1] / g["plain"][1] for g in rows)
    cpu = statistics.median(g["audit"][3] / g["plain"][3] for g in rows)
    loop_cpu = statistics.median(g["audit"][4] / g["plain"][4] for g in rows)
    unit = "per training iteration" if name == "charlm" else "training loop"
    # On a loaded machine wall time measures the neighbours; the loop's CPU time (one
    # thread) measures the work.
    print(f"median overhead ({name}), whole process: {wall:.3f}x   {unit}: {loop:.3f}x wall, {loop_cpu:.3f}x CPU   "
          f"process CPU time: {cpu:.3f}x")
    print(f"numbers identical in every repetition; audit says: {findings}")

if __name__ == "__main__":
    main()
