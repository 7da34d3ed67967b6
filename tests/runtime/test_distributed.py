"""Two CPU processes under torchrun (gloo): the same model on both ranks, rank 0 writes."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="auditor run and train need torch (the runtime extra)")

import json
import os
import subprocess
import sys
import textwrap


from tests.conftest import REPO_ROOT, auditor_env

SCRIPT = '''
import json, os, sys
import torch
torch.set_num_threads(1)
import weakref
from reference_loop import distributed, fit, loop, test
from reference_loop.tasks import load_task

# Record whether the DDP wrapper is gone when the process group is torn down.
wrappers, gone_at_teardown = [], []
make_ddp, teardown = loop._ddp, distributed.teardown
def watched_ddp(*args):
    net = make_ddp(*args)
    wrappers.append(weakref.ref(net))
    return net
def watched_teardown(d):
    gone_at_teardown.append(all(w() is None for w in wrappers))
    teardown(d)
loop._ddp, distributed.teardown = watched_ddp, watched_teardown

task = load_task("iris")
threads_before = len(os.listdir("/proc/self/task"))
torch.manual_seed(0)
model = task.model()
# The random state each training forward starts from (dropout draws from it).
rng_at_forward = []
model.register_forward_pre_hook(
    lambda m, a: rng_at_forward.append(float(torch.get_rng_state().double().sum())) if m is model and m.training and not rng_at_forward else None)
result = fit(model, task.splits.train, task.splits.val, epochs=4, batch_size=16, accumulation_steps=2,
             out_dir=sys.argv[1], progress=False, test_data=task.splits.test)
rank = int(os.environ["RANK"])
threads_left = len(os.listdir("/proc/self/task")) - threads_before
gone = list(gone_at_teardown)

# Interrupted after epoch 2 and resumed: the same numbers, with each rank's own RNG restored.
# One process group of the script's own for both runs (fit joins it and leaves it alone), on a
# fresh rendezvous: re-creating the default group on torchrun's store can race on a busy machine.
import torch.distributed as tdist
tdist.init_process_group("gloo", init_method="file://" + os.path.join(sys.argv[2], "rendezvous"), rank=rank,
                         world_size=2)
cut = os.path.join(sys.argv[2], "cut")
for epochs, resume in ((2, None), (4, cut)):
    torch.manual_seed(0)
    again = fit(task.model(), task.splits.train, task.splits.val, epochs=epochs, batch_size=16, accumulation_steps=2,
                out_dir=cut, resume=resume, progress=False, probes=False)
    tdist.barrier()  # the checkpoint is written before the other rank reads it
resumed = [{k: v for k, v in r.items() if "seconds" not in k} for r in again.history]
again = None
tdist.destroy_process_group()
digest = float(sum(v.double().sum() for v in result.best_state.values()))
with open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w") as fh:
    json.dump({"history": [{k: v for k, v in r.items() if "seconds" not in k} for r in result.history],
               "findings": [f.code for f in result.findings], "weights": digest,
               "world": result.report["config"]["world_size"],
               "threads_left": threads_left, "rng": rng_at_forward,
               "resumed": resumed,
               "ddp_gone_at_teardown": gone}, fh)
'''


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc (Linux)")
def test_two_process_ddp_on_cpu(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out, ranks = tmp_path / "out", tmp_path / "ranks"
    ranks.mkdir()
    env = auditor_env({"OMP_NUM_THREADS": "1"})
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(out), str(ranks)], env=env, cwd=str(REPO_ROOT),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((ranks / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0["world"] == 2 and r0["findings"] == [] and r1["findings"] == []
    # Metrics are all-reduced and DDP keeps the replicas identical.
    assert r0["history"] == r1["history"] and r0["weights"] == r1["weights"]
    # Each rank draws its own dropout masks (a seed offset per rank); the replicas stay identical above.
    assert len(r0["rng"]) == len(r1["rng"]) == 1 and r0["rng"] != r1["rng"]
    assert r0["resumed"] == r0["history"] and r1["resumed"] == r1["history"]
    # The process group is really gone: no gloo worker thread is left to race the
    # interpreter's exit (it once aborted a rank with SIGABRT on a loaded machine).
    assert r0["threads_left"] <= 0 and r1["threads_left"] <= 0
    # DDP's reducer let go of the group before it was destroyed: were the reducer the last
    # holder, the group's destructor would run holding the GIL and could deadlock.
    assert r0["ddp_gone_at_teardown"] == r1["ddp_gone_at_teardown"] == [True]
    assert sorted(os.listdir(out)) == ["best_state_dict.pt", "checkpoint.pt", "curves.png", "report.json"]
