"""PyTorch's side of `decomposer bench`: a persistent child that times short rounds on request,
so the bench can alternate PyTorch and its own engines in the same minutes (one-off
measurements are useless on a machine whose load changes by the minute).

ResNet v1 for CIFAR (He et al. 2016, section 4.2) without batch normalisation, as the bench
builds it: depth 6n+2, 3x3 convolutions with 16/32/64 filters, 1x1 projection shortcuts on
down-sampling, global average pooling, one dense layer; Adam; cross-entropy.

Needs PyTorch (Debian: apt-get install -y python3-torch).
Run: python3 scripts/torch_rounds.py --depth 20 --size 32 --batch 64 --threads 2
(--profile N: per-operator self CPU time of N training steps as JSON instead, see below.)
Protocol, one JSON object per line:
  stdout at start  {"ready": true, "version": ..., "threads": ...}
  stdin            {"kind": "train" | "infer", "seconds": X}
  stdout           {"kind": ..., "step_seconds": [...]}   (at least one step, about X seconds)
The first round of each kind starts with one untimed warm-up step. EOF on stdin ends it.
"""
import argparse, json, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--depth", type=int, default=20)
p.add_argument("--size", type=int, default=32)
p.add_argument("--classes", type=int, default=10)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--profile", type=int, default=0,
               help="profile this many training steps (after one warm-up) with torch.profiler, "
                    "print each operator's self CPU time per step as one JSON list, and exit "
                    "(scripts/profile_training.ts --torch reads it)")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.short = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x)))
        return F.relu(y + (self.short(x) if self.short is not None else x))


class ResNet(nn.Module):
    def __init__(self, depth, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Conv2d(3, 16, 3, 1, 1)
        blocks, cin = [], 16
        for stage, cout in enumerate([16, 32, 64]):
            for b in range(n):
                blocks.append(Block(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


model = ResNet(a.depth, a.classes)
x = torch.randn(a.batch, 3, a.size, a.size)
y = torch.randint(0, a.classes, (a.batch,))
opt = torch.optim.Adam(model.parameters())


def infer():
    with torch.no_grad():
        model(x)


def train():
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


steps = {"train": train, "infer": infer}

if a.profile:
    from torch.profiler import ProfilerActivity, profile

    train()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(a.profile):
            train()
    rows = [
        {"op": e.key, "ms_per_step": e.self_cpu_time_total / 1000 / a.profile, "calls_per_step": e.count / a.profile}
        for e in prof.key_averages()
        if e.self_cpu_time_total > 0
    ]
    print(json.dumps(rows))
    sys.exit(0)
warm = set()


def say(o):
    sys.stdout.write(json.dumps(o) + "\n")
    sys.stdout.flush()


say({"ready": True, "version": torch.__version__, "threads": torch.get_num_threads()})
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    fn = steps[req["kind"]]
    if req["kind"] not in warm:
        fn()
        warm.add(req["kind"])
    times, start = [], time.perf_counter()
    while not times or time.perf_counter() - start < req["seconds"]:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    say({"kind": req["kind"], "step_seconds": times})
