"""zoo.training.optim: torch's Adam, Adamax and AdamW without the import of torch._dynamo (what an eager
`zoo train` pays ~2 s for before its first step), updating exactly as torch's own."""
from __future__ import annotations

import copy
import pathlib
import subprocess
import sys

import pytest
import torch

from zoo.training import optim

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))


def _train(net, opt, steps=6):
    gen = torch.Generator().manual_seed(3)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        net(torch.randn(4, 5, generator=gen)).pow(2).sum().backward()
        opt.step()


@pytest.mark.parametrize("name,torch_cls", [("adam", torch.optim.Adam), ("adamax", torch.optim.Adamax),
                                            ("adamw", torch.optim.AdamW)])
def test_updates_and_state_equal_torchs_bit_for_bit(name, torch_cls):
    ours_net, theirs_net = _net(), _net()
    kwargs = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=1e-3)
    ours, theirs = optim.OPTIMIZERS[name](ours_net.parameters(), **kwargs), torch_cls(theirs_net.parameters(), **kwargs)
    assert isinstance(ours, torch_cls)
    _train(ours_net, ours)
    _train(theirs_net, theirs)
    for a, b in zip(ours_net.parameters(), theirs_net.parameters()):
        assert torch.equal(a, b)
    # the checkpoint format is torch's: each loads the other's state and they keep stepping alike
    resumed = optim.OPTIMIZERS[name](copy.deepcopy(theirs_net).parameters(), **kwargs)
    resumed.load_state_dict(theirs.state_dict())
    assert str(resumed.state_dict()) == str(theirs.state_dict())


def test_the_step_records_no_graph():
    net = _net()
    opt = optim.Adam(net.parameters(), lr=1e-2)
    _train(net, opt, steps=1)
    assert all(p.grad_fn is None for p in net.parameters())


PROBE = """
import sys, torch
from zoo.config import OptimizerConfig
from zoo.training.train import build_optimizer
net = torch.nn.Linear(3, 2)
for name in ("adam", "adamax", "adamw"):
    opt = build_optimizer(net, OptimizerConfig(name=name))
    opt.zero_grad(); net(torch.ones(1, 3)).sum().backward(); opt.step(); opt.load_state_dict(opt.state_dict())
print(sorted(m for m in ("torch._dynamo", "torch._inductor", "sympy") if m in sys.modules))
"""


def test_building_and_stepping_the_optimizer_does_not_import_the_compiler():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_step_hooks_and_schedulers_still_work():
    """Only the dynamo wrappers are gone: torch still wraps ``step`` with its hook runner (applied
    to the class at construction), so step pre/post hooks fire and lr schedulers count steps."""
    net = _net()
    opt = optim.Adamax(net.parameters(), lr=1e-2)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    opt.register_step_post_hook(lambda *a: calls.append("post"))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _train(net, opt, steps=2)
    sched.step()
    assert calls == ["pre", "post", "pre", "post"]
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-3)
