"""`HierarchicalVAE`: the module a spec compiles to, and the terms of its bound.

The module only executes the graph: an interpreter walks the execution plans computed at build
time, keeping values in an environment keyed by node id. Objectives, training, evaluation and
I/O are functions elsewhere (:mod:`zoo.runtime.objectives`, :mod:`zoo.training.train`, :mod:`zoo.analysis.evaluate`).

Layer order: the spec's own. Every zoo spec numbers its latents from the top of the hierarchy
(``z[1]`` is sampled first by the prior) to the bottom (``z[L]``, closest to the data); see
docs/conventions.md.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
from torch import nn

from compiler.graph import ModelGraph, VarInfo

from .distributions import Distribution

__all__ = ["HierarchicalVAE", "ELBOTerms"]

Data = Union[torch.Tensor, dict]

SAMPLE_CHUNK = 128
"""Samples drawn per pass by :meth:`HierarchicalVAE.sample` in eval mode on the CPU (see its `chunk`)."""


class ELBOTerms:
    """Per-example terms of the evidence lower bound, each of shape (B,).

    Attributes:
        elbo: ``log_px - sum(kl)``.
        log_px: log-likelihood of the data under the likelihood (reconstruction term).
        kl: per latent variable, the analytic KL(q || p) where available, otherwise the
            single-sample estimate ``log q(z) - log p(z)`` (also when `analytic_kl=False`).
        log_q, log_p: per latent, the log-densities of the sample under posterior and prior.
        log_weight: ``log_px + sum(log_p) - sum(log_q)``, the log importance weight of the sample.
        samples: per latent, its sampled value.
        distributions: every distribution the pass computed, by node id.

    ``log_q``, ``log_p`` and ``log_weight`` are scored on first access when they were not given
    (from `samples` and `distributions`): training with analytic KLs never computes them; the
    IW bound, ``analytic_kl=False`` and evaluation do.
    """

    def __init__(self, elbo: torch.Tensor, log_px: torch.Tensor, kl: dict[str, torch.Tensor],
                 log_q: Optional[dict] = None, log_p: Optional[dict] = None,
                 log_weight: Optional[torch.Tensor] = None, samples: Optional[dict] = None,
                 distributions: Optional[dict] = None):
        self.elbo, self.log_px, self.kl = elbo, log_px, kl
        self._log_q, self._log_p, self._log_weight = log_q, log_p, log_weight
        self.samples = samples if samples is not None else {}
        self.distributions = distributions if distributions is not None else {}

    def _score(self, which: str, known: Optional[dict]) -> dict[str, torch.Tensor]:
        """Every latent's log-density under its `which` factor; `known` ones are kept as given
        (a stochastic density, e.g. a diffusion prior's, is estimated once)."""
        known = known or {}
        return {z: known[z] if z in known else self.distributions[f"{which}({z})"].log_prob(value)
                for z, value in self.samples.items()}

    @property
    def log_q(self) -> dict[str, torch.Tensor]:
        if self._log_q is None or len(self._log_q) < len(self.samples):
            self._log_q = self._score("posterior", self._log_q)
        return self._log_q

    @property
    def log_p(self) -> dict[str, torch.Tensor]:
        if self._log_p is None or len(self._log_p) < len(self.samples):
            self._log_p = self._score("prior", self._log_p)
        return self._log_p

    @property
    def log_weight(self) -> torch.Tensor:
        if self._log_weight is None:
            self._log_weight = self.log_px + sum_terms(self.log_p.values(), self.log_px) \
                - sum_terms(self.log_q.values(), self.log_px)
        return self._log_weight

    @property
    def total_kl(self) -> torch.Tensor:
        return sum_terms(self.kl.values(), self.log_px)

    def __repr__(self) -> str:
        return f"ELBOTerms(elbo={self.elbo!r}, log_px={self.log_px!r}, kl={self.kl!r})"


def sum_terms(values, like: torch.Tensor) -> torch.Tensor:
    """The sum of some (B,) tensors, zeros like `like` when there are none (no zeros added)."""
    total = None
    for v in values:
        total = v if total is None else total + v
    return torch.zeros_like(like) if total is None else total


def _flat(inp):
    if isinstance(inp, tuple):
        for x in inp:
            yield from _flat(x)
    else:
        yield inp


def _gather(env: dict, inp):
    if isinstance(inp, tuple):
        return [_gather(env, x) for x in inp]
    return env[inp]


class HierarchicalVAE(nn.Module):
    """The compiled model. A plain `nn.Module`: `state_dict`, `.to(device)`, DDP and
    `torch.compile` work as usual.

    Args:
        graph: the :class:`ModelGraph` it was lowered from.
        ops: node id -> module of that computation.
    """

    def __init__(self, graph: ModelGraph, ops: dict[str, nn.Module]):
        super().__init__()
        self.graph = graph
        self.ops = nn.ModuleDict(ops)
        self._infer = self._steps(graph.infer_plan, sample_from="posterior")
        self._generate = self._steps(graph.generate_plan, sample_from="prior")
        self.observed = tuple(v.name for v in graph.observed)
        self.latents = tuple(graph.latent_order)
        # the node ids the scoring reads, formatted once rather than on every forward
        self._scored_observed = tuple((o, f"likelihood({o})") for o in self.observed)
        self._scored_latents = tuple((z, f"posterior({z})", f"prior({z})") for z in self.latents)
        # the inference dataflow's predecessors, as plain tuples: `evaluate` walks them inside
        # compiled code (a VampPrior's), where networkx cannot be traced
        view = self._inference_dataflow()
        self._dataflow_preds = {n: tuple(view.predecessors(n)) for n in view.nodes}
        # Modules that need the whole model (e.g. to evaluate a factor as a function) get a
        # reference to it; they must keep it out of their submodules (a weakref does).
        for node, module in ops.items():
            bind = getattr(module, "bind_model", None)
            if bind is not None:
                bind(self)

    # -- notebook display: the graphical model it was compiled from ------------------------------
    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = self.graph._repr_mimebundle_(include, exclude)
        if "text/plain" in bundle:
            bundle["text/plain"] = repr(self)
        return bundle

    def _repr_svg_(self):
        return self.graph._repr_svg_()

    # -- plans -----------------------------------------------------------------------------
    def _steps(self, plan, *, sample_from: str):
        steps = []
        for node in plan:
            info = self.graph.info(node)
            if isinstance(info, VarInfo):
                if info.kind == "observed" and sample_from == "posterior":
                    steps.append(("input", node, None))
                else:
                    src = f"likelihood({node})" if info.kind == "observed" else f"{sample_from}({node})"
                    steps.append(("sample", node, src))
            elif info.kind == "slice":
                steps.append(("slice", node, (info.inputs[0][1], info.slice)))
            else:
                steps.append(("op", node, info.inputs))
        return tuple(steps)

    def plan(self, mode: str = "infer") -> str:
        """The execution order of a pass, one step per line (for reading, not for running)."""
        steps = self._infer if mode == "infer" else self._generate
        lines = []
        for kind, node, arg in steps:
            if kind == "op":
                ins = ", ".join(f"{k}={v}" for k, v in arg)
                lines.append(f"{node} = {self.graph.info(node).op}({ins})")
            elif kind == "sample":
                lines.append(f"{node} ~ {arg}")
            elif kind == "slice":
                lines.append(f"{node} = {arg[0]}[{arg[1][0]}:{arg[1][1]}]")
            else:
                lines.append(f"{node} = <data>")
        return "\n".join(lines)

    # -- interpreter -----------------------------------------------------------------------
    def _run(self, steps, env: dict, batch: int, temperature: float = 1.0, mean_observed: bool = False,
             stop_after: Optional[set] = None) -> dict:
        def gather(inp):
            if isinstance(inp, tuple):
                return [gather(x) for x in inp]
            return env[inp]

        for kind, node, arg in steps:
            try:
                if kind == "op":
                    kwargs = {name: gather(inp) for name, inp in arg}
                    if not arg:
                        kwargs["batch"] = batch
                    env[node] = self.ops[node](**kwargs)
                elif kind == "sample":
                    dist = env[arg]
                    observed = arg.startswith("likelihood(")
                    if observed and mean_observed:
                        env[node] = dist.point()
                    else:
                        env[node] = dist.rsample(temperature) if (dist.has_rsample and not observed) \
                            else dist.sample(temperature)
                elif kind == "slice":
                    src, (a, b) = arg
                    env[node] = env[src][:, a:b]
                elif kind == "input" and node not in env:
                    raise KeyError(f"no data given for observed variable '{node}'")
            except Exception as err:  # re-raise with the spec location of the failing node
                if torch.compiler.is_compiling() or getattr(err, "_zoo_located", False):
                    raise
                info = self.graph.info(node)
                located = type(err)(f"while executing {node} ({info.span}): {err}") \
                    if type(err) in (RuntimeError, ValueError, KeyError, TypeError) else err
                located._zoo_located = True
                raise located from err
            if stop_after is not None and node in stop_after:
                stop_after.discard(node)
                if not stop_after:
                    break
        return env

    def _inputs(self, x: Data) -> dict:
        if isinstance(x, dict):
            return dict(x)
        if len(self.observed) != 1:
            raise ValueError(f"this model observes {', '.join(self.observed)}; pass a dict of tensors")
        return {self.observed[0]: x}

    def forward(self, x: Data, *, analytic_kl: bool = True) -> ELBOTerms:
        """Run the inference pass and score it.

        Args:
            x: the data batch (a tensor for a model with one observed variable, else a dict).
            analytic_kl: use closed-form KL divergences where they exist (lower variance);
                False uses ``log q(z) - log p(z)`` at the sample for every layer.

        Returns:
            :class:`ELBOTerms`, each entry of shape (B,).
        """
        env = self._inputs(x)
        batch = next(iter(env.values())).shape[0]
        env = self._run(self._infer, env, batch)
        log_px = sum_terms((env[lik].log_prob(env[o]) for o, lik in self._scored_observed), None)
        kl, log_q, log_p = {}, {}, {}
        for z, post, prior in self._scored_latents:  # log q, log p only where a KL has no closed form (or is not wanted)
            q, p, value = env[post], env[prior], env[z]
            analytic = q.kl(p) if analytic_kl else None
            if analytic is None:
                log_q[z], log_p[z] = q.log_prob(value), p.log_prob(value)
                analytic = log_q[z] - log_p[z]
            kl[z] = analytic
        elbo = log_px - sum_terms(kl.values(), log_px)
        samples = {z: env[z] for z in self.latents}
        dists = {k: v for k, v in env.items() if isinstance(v, Distribution)}
        return ELBOTerms(elbo, log_px, kl, log_q, log_p, None, samples, dists)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, *, mean: bool = True,
               return_latents: bool = False, fixed: Optional[dict] = None, chunk: Optional[int] = None):
        """Ancestral samples from the generative model.

        Args:
            n: number of samples.
            temperature: multiplies the standard deviation of every latent's prior.
            mean: return the likelihood's mean (e.g. Bernoulli probabilities) instead of a sample.
            return_latents: also return the dict of every latent's value.
            fixed: values for some latents (e.g. a pseudo-input), used instead of sampling them;
                a tensor with `n` rows is split with the samples, anything else is shared.
            chunk: in eval mode, draw at most this many samples per pass (default: all on an
                accelerator, :data:`SAMPLE_CHUNK` on the CPU). The samples are independent, so a
                pass over a slice of them is the same computation. On the CPU, slices keep every
                activation small enough to stay in cache and to be reused by the allocator, where
                one pass over a thousand images streams tensors of tens of megabytes through
                freshly mapped memory (`dvp_mnist`, 1,000 images in one pass: up to as much CPU
                time in page faults as in arithmetic). In training mode the whole batch is one
                pass, because batch normalisation normalises over it.

        Like any module, it runs in the current mode: call ``model.eval()`` first to sample with
        batch-normalisation running statistics (in training mode they are also updated).
        """
        if chunk is None:
            on_cpu = all(p.device.type == "cpu" for p in self.parameters())
            chunk = SAMPLE_CHUNK if on_cpu else n
        size = n if self.training else max(1, int(chunk))
        if n <= size:
            return self._sample(n, temperature, mean, return_latents, fixed or {})
        parts = [self._sample(min(size, n - start), temperature, mean, return_latents,
                              _rows(fixed or {}, start, size, n))
                 for start in range(0, n, size)]
        return _concat(parts)

    def _sample(self, n: int, temperature: float, mean: bool, return_latents: bool, fixed: dict):
        """One pass of :meth:`sample` over `n` samples."""
        env = dict(fixed)
        steps = tuple(s for s in self._generate if not (s[0] == "sample" and s[1] in env))
        env = self._run(steps, env, n, temperature=temperature, mean_observed=mean)
        out = env[self.observed[0]] if len(self.observed) == 1 else {o: env[o] for o in self.observed}
        if return_latents:
            return out, {z: env[z] for z in self.latents}
        return out

    @torch.no_grad()
    def reconstruct(self, x: Data, *, mean: bool = True) -> torch.Tensor:
        """Encode x, then decode the posterior sample (the likelihood's mean by default)."""
        terms = self.forward(x)
        dist = terms.distributions[f"likelihood({self.observed[0]})"]
        return dist.point() if mean else dist.sample()

    def log_likelihood(self, x: Data, importance_samples: int = 1, *, chunk: Optional[int] = None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) (Burda et al. 2016), shape (B,).

        ``log (1/K) sum_k p(x, z_k) / q(z_k | x)`` with z_k from the posterior, computed with
        sample-based log-densities for every layer and a log-sum-exp, batched over the K samples
        (`chunk` samples at a time; default: all at once, as memory allows).
        """
        inputs = self._inputs(x)
        batch = next(iter(inputs.values())).shape[0]
        k_total = int(importance_samples)
        chunk = max(1, min(chunk or k_total, k_total))
        running = None
        done = 0
        while done < k_total:
            k = min(chunk, k_total - done)
            rep = {name: t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])
                   for name, t in inputs.items()}
            lw = self.forward(rep, analytic_kl=False).log_weight.reshape(k, batch)
            chunk_lse = torch.logsumexp(lw, dim=0)
            running = chunk_lse if running is None else torch.logaddexp(running, chunk_lse)
            done += k
        return running - math.log(k_total)

    # -- sub-computations ----------------------------------------------------------------------
    def evaluate(self, node: str, values: dict) -> object:
        """Compute one node of the inference pass from given values of its upstream variables.

        Used by families that take a factor as a function: a VampPrior evaluates the posterior
        of its latent on learned pseudo-inputs with ``evaluate("posterior(z[1])", {"x": u})``.
        Only the steps upstream of `node` and downstream of the given values run: a given value
        (data, a latent, a pseudo-input) is used as is, never recomputed.
        """
        steps = self._upstream_steps(node, frozenset(values))
        env = dict(values)
        batch = next(iter(values.values())).shape[0]
        return self._run(steps, env, batch)[node]

    def _upstream_steps(self, node: str, given: frozenset = frozenset()):
        cache = self.__dict__.setdefault("_upstream_cache", {})
        key = (node, given)
        if key not in cache:
            needed, stack = {node}, [node]
            while stack:  # ancestors, not searching past the given nodes
                for pred in self._dataflow_preds[stack.pop()]:
                    if pred not in needed:
                        needed.add(pred)
                        if pred not in given:
                            stack.append(pred)
            cache[key] = tuple(s for s in self._infer if s[1] in needed and s[1] not in given)
        return cache[key]

    @torch.no_grad()
    def initialize_from_data(self, batches) -> None:
        """Run the data-dependent initialisation of every block that has one.

        A block opts in by defining ``init_from_data_update(**inputs)`` (called once per batch
        with the values of its tensor arguments) and ``init_from_data_end()``; for example the
        DCT pseudo-input transform records the largest absolute coefficient over the training set.
        Call it once, before training, with an iterable of data batches.
        """
        hooked = [n for n, m in self.ops.items() if hasattr(m, "init_from_data_update")]
        if not hooked:
            return
        infos = {n: self.graph.info(n) for n in hooked}
        for x in batches:
            env = self._inputs(x)
            batch = next(iter(env.values())).shape[0]
            for node in hooked:
                deps = {src for _, inp in infos[node].inputs for src in _flat(inp)}
                steps = tuple(s for s in self._infer if s[1] in self._ancestor_set(deps))
                env = self._run(steps, env, batch)
                self.ops[node].init_from_data_update(
                    **{name: _gather(env, inp) for name, inp in infos[node].inputs})
        for node in hooked:
            self.ops[node].init_from_data_end()

    def _ancestor_set(self, nodes) -> set:
        import networkx as nx

        view = self._inference_dataflow()
        out = set(nodes)
        for n in nodes:
            out |= nx.ancestors(view, n)
        return out

    def _inference_dataflow(self):
        """The dataflow of the inference pass: without the edges by which priors and likelihoods
        produce values (an observed x is given, not computed by its likelihood)."""
        import networkx as nx

        g = self.graph.graph
        return nx.subgraph_view(g, filter_edge=lambda a, b: g.edges[a, b]["data"]
                                and g.edges[a, b]["sample_model"] != "p")

    def num_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def _rows(values: dict, start: int, size: int, n: int) -> dict:
    """`values` for samples ``start .. start + size``: tensors with one row per sample are sliced."""
    return {k: v[start:start + size] if isinstance(v, torch.Tensor) and v.dim() and v.shape[0] == n else v
            for k, v in values.items()}


def _concat(parts: list):
    """The passes of a chunked :meth:`HierarchicalVAE.sample` joined along the sample dimension,
    keeping its return structure (a tensor, a dict of them, or a pair with the latents' dict)."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_concat([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: torch.cat([p[k] for p in parts]) for k in first}
    return torch.cat(parts)
