"""Cost of the reference loop's guards, side by side in one run.

Three ways of training the same model on the same data, interleaved (A B C, A B C, ...)
so that drift in machine load hits all three alike, medians over repetitions:

  guards on   reference_loop.fit(..., guards=True,  probes=False)
  guards off  reference_loop.fit(..., guards=False, probes=False)
  bare        a hand-written loop: zero_grad / forward / backward / step, plus the same
              per-epoch validation pass

Goals: guards on / guards off step time <= 1.03; reference throughput >= 0.97 x bare.

    python benchmarks/guards_overhead.py [--device auto] [--reps 15] [--epochs 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from reference_loop import choose_device, fit  # noqa: E402


def make_model(d: int, hidden: int, classes: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, classes))


def synchronize(device: torch.device) -> None:
    if device.type != "cpu":
        torch.accelerator.synchronize()


def bare_loop(model: nn.Module, train: TensorDataset, val: TensorDataset, device: torch.device, epochs: int,
              batch_size: int) -> None:
    """What a careful person writes by hand, without any checks."""
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    train_dl = DataLoader(train, batch_size=batch_size, shuffle=True, generator=g)
    val_dl = DataLoader(val, batch_size=batch_size)
    for _ in range(epochs):
        model.train()
        for x, y in train_dl:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = crit(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        correct = torch.zeros((), device=device)
        with torch.inference_mode():
            for x, y in val_dl:
                x, y = x.to(device), y.to(device)
                correct += (model(x).argmax(1) == y).sum()
        float(correct)


def guard_event_cost(repeat: int = 5, n: int = 20000) -> float:
    """Seconds per step spent in the guard events themselves, past the sampled first steps:
    the same calls the hooks make on every training step (forward, loss, step, zero_grad)."""
    import timeit

    from reference_loop.guards import GuardSet

    guards, model = GuardSet(), nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out, y, loss = torch.randn(8, 3), torch.randint(0, 3, (8,)), torch.tensor(1.0)
    for _ in range(guards.sample_steps + 1):  # leave the sampled window, as a long run does
        guards.on_optimizer_step(opt)

    def one_step() -> None:
        guards.on_train_step(model)
        guards.on_loss_inputs("CrossEntropyLoss", out, y)
        guards.on_loss_value(loss)
        guards.wants_loss_grad()
        guards.on_optimizer_step(opt)
        guards.on_zero_grad(opt)

    return min(timeit.repeat(one_step, number=n, repeat=repeat)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--clock", choices=("auto", "cpu", "wall"), default="auto",
                        help="auto: process CPU time on a CPU device (robust to other processes on a shared "
                             "machine), wall time on accelerators (where the host waits on the device)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = choose_device(args.device)
    clock_name = args.clock if args.clock != "auto" else ("cpu" if device.type == "cpu" else "wall")
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    g = torch.Generator().manual_seed(0)
    X = torch.randn(args.samples, args.features, generator=g)
    y = (X[:, :10].argmax(1)).long()
    n_val = args.samples // 8
    train, val = TensorDataset(X[n_val:], y[n_val:]), TensorDataset(X[:n_val], y[:n_val])
    steps = args.epochs * -(-len(train) // args.batch_size)

    def run(kind: str) -> float:
        torch.manual_seed(0)
        model = make_model(args.features, args.hidden, 10)
        synchronize(device)
        start = clock()
        if kind == "bare":
            bare_loop(model, train, val, device, args.epochs, args.batch_size)
        else:
            fit(model, train, val, epochs=args.epochs, batch_size=args.batch_size, device=str(device), amp="off",
                probes=False, guards=(kind == "guards on"), progress=False)
        synchronize(device)
        return (clock() - start) / steps

    kinds = ("guards on", "guards off", "bare")
    for kind in kinds:  # warm-up: allocator, kernels, imports
        run(kind)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for rep in range(args.reps):
        order = kinds[rep % 3:] + kinds[:rep % 3]  # rotate so no kind always runs first
        for kind in order:
            times[kind].append(run(kind))
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; "
          f"{steps} steps per run (MLP {args.features}-{args.hidden}-{args.hidden}-10, batch {args.batch_size}), "
          f"{args.reps} interleaved repetitions, {clock_name} clock")
    for kind in kinds:
        print(f"  {kind:<11} step: median {med[kind] * 1e3:8.3f} ms   min {low[kind] * 1e3:8.3f} ms   "
              f"max {max(times[kind]) * 1e3:8.3f} ms")
    print(f"  guard events alone: {guard_event_cost() * 1e6:.1f} us per step (min of 5 x 20000 steps, "
          "past the sampled first steps)")
    # Medians are the headline; minima (least disturbed runs) are a check on a loaded machine.
    overhead, overhead_min = med["guards on"] / med["guards off"], low["guards on"] / low["guards off"]
    throughput, throughput_min = med["bare"] / med["guards on"], low["bare"] / low["guards on"]
    print(f"guards on / guards off step time:          {overhead:.3f}x (min-based {overhead_min:.3f}x)  "
          f"goal <= 1.03: {'ok' if overhead <= 1.03 else 'MISSED'}")
    print(f"reference (guards on) throughput vs bare:  {throughput:.3f}x (min-based {throughput_min:.3f}x)  "
          f"goal >= 0.97: {'ok' if throughput >= 0.97 else 'MISSED'}")

if __name__ == "__main__":
    main()
