"""Hand-written PyTorch twins of zoo models: the floor the compiled models are measured against.

Each twin is the model as one would write it by hand for this one architecture: fixed layers,
fixed control flow, no interpreter, no distribution objects. It copies the weights of a compiled
model (:meth:`copy_from`) and computes the same bound with the same formulas and the same random
draws in the same order, so that, seeded alike, its per-example ELBO equals the compiled model's
bit for bit (`bench/bench_twins.py` asserts it before timing).

Both return ``(loss, elbo)``: the training loss (mean negative ELBO, the analytic KL of every
layer; :func:`zoo.runtime.objectives.negative_elbo` at beta = 1, no free bits) and the (B,) ELBO.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["VAETwin", "LadderTwin", "NVAETwin", "AttentiveLadderTwin", "TWINS"]


def _mlp(sizes, act, *, norm=False, out_act=None) -> nn.Sequential:
    """Linear -> [BatchNorm] -> act per hidden layer, then Linear (-> out_act)."""
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b)] + ([nn.BatchNorm1d(b)] if norm else []) + [act()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    if out_act is not None:
        layers.append(out_act())
    return nn.Sequential(*layers)


def _bernoulli_log_px(logits, x):
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").reshape(x.shape[0], -1).sum(1)


def _kl_std_normal(loc, scale):
    """KL(N(loc, scale^2) || N(0, 1)), summed over the event."""
    var_ratio = scale ** 2
    return (0.5 * (var_ratio + loc ** 2 - 1.0 - torch.log(var_ratio))).sum(1)


def _kl_normal(loc, scale, p_loc, p_scale):
    var_ratio = (scale / p_scale) ** 2
    t = ((loc - p_loc) / p_scale) ** 2
    return (0.5 * (var_ratio + t - 1.0 - torch.log(var_ratio))).sum(1)


def _loss(log_px, kls):
    """The zoo's negative ELBO loss and the ELBO, in the zoo's order of operations."""
    penalty = kls[0].mean()
    for kl in kls[1:]:
        penalty = penalty + kl.mean()
    total = kls[0]
    for kl in kls[1:]:
        total = total + kl
    return -log_px.mean() + penalty, log_px - total


class VAETwin(nn.Module):
    """specs/vae.hvae: q(z|x) and p(x|z) are tanh MLPs, N(0, 1) prior, Bernoulli likelihood."""

    spec = "vae"

    def __init__(self, D: int = 50, H: int = 200, W: int = 28):
        super().__init__()
        self.d = D
        self.enc = _mlp([W * W, H, H, 2 * D], nn.Tanh)
        self.dec = _mlp([D, H, H, W * W], nn.Tanh)

    def copy_from(self, model) -> "VAETwin":
        self.enc.load_state_dict(model.ops["posterior(z)/params"].net.state_dict())
        self.dec.load_state_dict(model.ops["likelihood(x)/params"].net.state_dict())
        return self

    def forward(self, x):
        h = self.enc(x.flatten(1))
        loc, scale = h[:, : self.d], torch.exp(h[:, self.d:])
        z = loc + scale * torch.randn_like(loc)
        log_px = _bernoulli_log_px(self.dec(z).reshape(x.shape), x)
        return _loss(log_px, [_kl_std_normal(loc, scale)])


class LadderTwin(nn.Module):
    """specs/ladder.hvae: a deterministic bottom-up pass, precision-weighted posteriors, softplus
    scales (+ 1e-4), batch-normalised leaky-ReLU MLPs."""

    spec = "ladder"

    def __init__(self, L: int = 5):
        super().__init__()
        act, self.L = nn.LeakyReLU, L
        dz = [2 ** (l + 1) for l in range(1, L + 1)]  # z[1] .. z[L]
        dh = [2 ** (l + 4) for l in range(1, L)] + [512]  # h[1] .. h[L]
        self.up = nn.ModuleList([_mlp([784, 512, 512], act, norm=True, out_act=act)] +  # h[L] first
                                [_mlp([dh[l], dh[l - 1], dh[l - 1]], act, norm=True, out_act=act)
                                 for l in range(L - 1, 0, -1)])  # h[L-1] .. h[1]
        self.q = nn.ModuleList([nn.Linear(dh[l], 2 * dz[l]) for l in range(L)])
        self.p = nn.ModuleList([_mlp([dz[l - 1], 2 ** (l + 5), 2 ** (l + 5), 2 * dz[l]], act, norm=True)
                                for l in range(1, L)])
        self.dec = _mlp([dz[-1], 512, 512, 784], act, norm=True)
        self.dz = dz

    def copy_from(self, model) -> "LadderTwin":
        L = self.L
        for i, l in enumerate(range(L, 0, -1)):
            self.up[i].load_state_dict(model.ops[f"h[{l}]"].net.state_dict())
        self.q[0].load_state_dict(model.ops["posterior(z[1])/params"].linear.state_dict())
        for l in range(2, L + 1):
            self.q[l - 1].load_state_dict(model.ops[f"posterior(z[{l}])/bottom_up/params"].linear.state_dict())
            self.p[l - 2].load_state_dict(model.ops[f"prior(z[{l}])/params"].net.state_dict())
        self.dec.load_state_dict(model.ops["likelihood(x)/params"].net.state_dict())
        return self

    def forward(self, x):
        h = [None] * self.L
        a = x.flatten(1)
        for i, l in enumerate(range(self.L - 1, -1, -1)):
            a = h[l] = self.up[i](a)
        kls, z = [], None
        for l in range(self.L):
            d = self.dz[l]
            raw = self.q[l](h[l])
            loc, scale = raw[:, :d], F.softplus(raw[:, d:]) + 0.0001
            if l == 0:
                kl = None
            else:  # precision-weighted: the prior's top-down Gaussian times the bottom-up one
                pr = self.p[l - 1](z)
                p_loc, p_scale = pr[:, :d], F.softplus(pr[:, d:]) + 0.0001
                p_td, p_bu = p_scale.pow(-2), scale.pow(-2)
                var = 1.0 / (p_td + p_bu)
                loc = var * (p_loc * p_td + loc * p_bu)
                scale = var.sqrt()
            z = loc + scale * torch.randn_like(loc)
            kls.append(_kl_std_normal(loc, scale) if l == 0 else _kl_normal(loc, scale, p_loc, p_scale))
        log_px = _bernoulli_log_px(self.dec(z).reshape(x.shape), x)
        return _loss(log_px, kls)


class NVAETwin(nn.Module):
    """specs/nvae8.hvae (any L, C, Z): a bottom-up tower of NVAE cells, a top-down path of cells
    fed by ``concat(c[l-1], z[l-1])``, residual posteriors ``(prior raw + delta raw)`` mapped with
    ``loc = 5 tanh(raw / 10)``, ``scale = exp(5 tanh(raw / 10)) + 0.01``, and a logistic-mixture
    likelihood.

    The wiring, the Gaussians, the KLs and the loss are written here; the leaf layers (the NVAE
    cells, the weight-normalised convolutions, the learned top input and the mixture's
    log-likelihood) are deep copies of the compiled model's, so that the two differ only in
    what the compiler adds around the layers.
    """

    spec = "nvae8"

    def __init__(self, L: int = 8):
        super().__init__()
        self.L = L

    def copy_from(self, model) -> "NVAETwin":
        L, ops = self.L, model.ops
        take = lambda name: copy.deepcopy(ops[name])  # noqa: E731
        self.stem = take(f"e[{L + 1}]/x").conv
        self.up = nn.ModuleList([take(f"e[{l}]") for l in range(L + 1, 0, -1)])  # e[L+1] .. e[1]
        self.top = nn.Parameter(ops["c[1]"].value.detach().clone())
        self.q1a, self.q1b = take("posterior(z[1])/params/x/x").conv, take("posterior(z[1])/params").conv
        self.mix = nn.ModuleList([take(f"c[{l}]/x").conv for l in range(2, L + 1)] + [take("out/x").conv])
        self.cells = nn.ModuleList([take(f"c[{l}]") for l in range(2, L + 1)] + [take("out")])
        self.prior = nn.ModuleList([take(f"prior(z[{l}])/params").conv for l in range(2, L + 1)])
        self.qa = nn.ModuleList([take(f"posterior(z[{l}])/delta/params/x/a").conv for l in range(2, L + 1)])
        self.qb = nn.ModuleList([take(f"posterior(z[{l}])/delta/params").conv for l in range(2, L + 1)])
        self.out = take("likelihood(x)/params").conv
        self.z = model.graph.info("z[1]").shape[0]
        self.likelihood = ops["likelihood(x)"]
        return self

    @staticmethod
    def _normal(raw_loc, raw_scale):
        return 5.0 * torch.tanh(raw_loc / 10.0), torch.exp(5.0 * torch.tanh(raw_scale / 10.0)) + 0.01

    def forward(self, x):
        L, zc = self.L, self.z
        e = [None] * (L + 2)
        h = self.stem(x)
        for i, l in enumerate(range(L + 1, 0, -1)):
            h = e[l] = self.up[i](h)
        raw = self.q1b(F.elu(self.q1a(F.elu(e[1]))))
        loc, scale = self._normal(raw[:, :zc], raw[:, zc:])
        z = loc + scale * torch.randn_like(loc)
        kls = [(0.5 * (scale ** 2 + loc ** 2 - 1.0 - torch.log(scale ** 2))).reshape(x.shape[0], -1).sum(1)]
        c = self.top.unsqueeze(0).expand(x.shape[0], *self.top.shape)
        for i in range(L - 1):  # z[2] .. z[L]
            c = self.cells[i](self.mix[i](torch.cat([c, z], dim=1)))
            p = self.prior[i](F.elu(c))
            d = self.qb[i](self.qa[i](c) + e[i + 2])
            p_loc, p_scale = self._normal(p[:, :zc], p[:, zc:])
            loc, scale = self._normal(p[:, :zc] + d[:, :zc], p[:, zc:] + d[:, zc:])
            z = loc + scale * torch.randn_like(loc)
            kls.append(_kl_normal(loc.flatten(1), scale.flatten(1), p_loc.flatten(1), p_scale.flatten(1)))
        out = self.cells[L - 1](self.mix[L - 1](torch.cat([c, z], dim=1)))
        log_px = self.likelihood(self.out(F.elu(out))).log_prob(x)
        return _loss(log_px, kls)


class AttentiveLadderTwin(nn.Module):
    """specs/attentive_ladder.hvae: the ladder with strongly connected priors and posteriors: each
    prior context attends over all earlier contexts, each bottom-up estimate over ``h[>=l]``
    (ReZero-gated). Wiring, splits, Gaussians, KLs and loss by hand; the MLPs, linear maps and
    attention layers are deep copies of the compiled model's."""

    spec = "attentive_ladder"

    def __init__(self, L: int = 5, D: int = 64, K: int = 16):
        super().__init__()
        self.L, self.D, self.K = L, D, K

    def copy_from(self, model) -> "AttentiveLadderTwin":
        L, ops = self.L, model.ops
        take = lambda name: copy.deepcopy(ops[name])  # noqa: E731
        self.up = nn.ModuleList([take(f"h[{l}]").net for l in range(L, 0, -1)])  # h[L] .. h[1]
        self.top = nn.Parameter(ops["d[1]"].value.detach().clone())
        self.q1 = take("posterior(z[1])/params").linear
        self.ctx = nn.ModuleList([take(f"d[{l}]").net for l in range(2, L + 1)])
        self.p_att = nn.ModuleList([take(f"p[{l}]/update") for l in range(2, L + 1)])
        self.b_att = nn.ModuleList([take(f"b[{l}]/update") for l in range(2, L + 1)])
        self.p_gamma = nn.ParameterList([take(f"p[{l}]").gamma for l in range(2, L + 1)])
        self.b_gamma = nn.ParameterList([take(f"b[{l}]").gamma for l in range(2, L + 1)])
        self.prior = nn.ModuleList([take(f"prior(z[{l}])/params").net for l in range(2, L + 1)])
        self.q = nn.ModuleList([take(f"posterior(z[{l}])/bottom_up/params").linear for l in range(2, L + 1)])
        self.dec = take("likelihood(x)/params").net
        self.dz = [model.graph.info(f"z[{l}]").shape[0] for l in range(1, L + 1)]
        return self

    @staticmethod
    def _normal(raw, d):
        return raw[:, :d], F.softplus(raw[:, d:]) + 0.0001

    def forward(self, x):
        L, D, K = self.L, self.D, self.K
        h, hk = [None] * (L + 1), [None] * (L + 1)
        a = x.flatten(1)
        for i, l in enumerate(range(L, 0, -1)):
            out = self.up[i](a)
            a, h[l], hk[l] = out[:, :D], out[:, :D], out[:, D:D + K]
        top = self.top.unsqueeze(0).expand(x.shape[0], *self.top.shape)
        ctx, keys = [top[:, :D]], [top[:, D:D + K]]
        loc, scale = self._normal(self.q1(h[1]), self.dz[0])
        z = loc + scale * torch.randn_like(loc)
        kls = [_kl_std_normal(loc, scale)]
        for i, l in enumerate(range(2, L + 1)):
            d = self.ctx[i](torch.cat([ctx[-1], z], dim=1))
            c, key, query, sq = d[:, :D], d[:, D:D + K], d[:, D + K:D + 2 * K], d[:, D + 2 * K:D + 3 * K]
            p = c + self.p_gamma[i] * self.p_att[i](tuple(ctx), query, tuple(keys))
            b = h[l] + self.b_gamma[i] * self.b_att[i](tuple(h[l:]), sq, tuple(hk[l:]))
            ctx.append(c), keys.append(key)
            p_loc, p_scale = self._normal(self.prior[i](p), self.dz[l - 1])
            bu_loc, bu_scale = self._normal(self.q[i](b), self.dz[l - 1])
            p_td, p_bu = p_scale.pow(-2), bu_scale.pow(-2)
            var = 1.0 / (p_td + p_bu)
            loc, scale = var * (p_loc * p_td + bu_loc * p_bu), var.sqrt()
            z = loc + scale * torch.randn_like(loc)
            kls.append(_kl_normal(loc, scale, p_loc, p_scale))
        log_px = _bernoulli_log_px(self.dec(torch.cat([p, z], dim=1)).reshape(x.shape), x)
        return _loss(log_px, kls)


TWINS = {cls.spec: cls for cls in (VAETwin, LadderTwin, NVAETwin, AttentiveLadderTwin)}
