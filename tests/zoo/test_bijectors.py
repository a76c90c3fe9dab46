"""Every bijector inverts exactly and reports the log-determinant torch.autograd computes.

Covered: the diagonal-plus-rank-one affine bijector (with and without a conditioning input), the
rational-quadratic spline coupling flow (inside and outside its interval), the batch-norm
bijector, one MAF layer, whole conditional MAFs, the dequantize-and-logit data transform, and the
whole self-reflective MAF likelihood against a change of variables done by autograd end to end.
All in float64 on small dimensions.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from zoo.nn.bijectors import AffineRank1, SplineCoupling, rank1_apply
from zoo.nn.flows import BatchNormBijector, ConditionalMAF, LogitTransform, MAFFamily, MAFLayer
from zoo.nn.splines import rq_spline_forward, spline_parameters


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _autograd_log_det(fn, x_row: torch.Tensor) -> torch.Tensor:
    """log|det J| of fn at one input (the function maps (1, n) -> (1, n))."""
    jac = jacobian(lambda v: fn(v.unsqueeze(0)).squeeze(0), x_row)
    return torch.linalg.slogdet(jac.reshape(x_row.numel(), x_row.numel()))[1]


def _check_bijector(forward, inverse, x: torch.Tensor, *, rtol=1e-9):
    """forward/inverse return (value, log_det); check inversion and log-dets for every row."""
    y, log_det = forward(x)
    x_back, inv_log_det = inverse(y)
    torch.testing.assert_close(x_back, x, rtol=rtol, atol=1e-9)
    torch.testing.assert_close(inv_log_det, -log_det, rtol=rtol, atol=1e-9)
    for i in range(x.shape[0]):
        want = _autograd_log_det(lambda v: forward_row(forward, v, i), x[i])
        torch.testing.assert_close(log_det[i], want, rtol=1e-7, atol=1e-8)
        want_inv = _autograd_log_det(lambda v: forward_row(inverse, v, i), y[i])
        torch.testing.assert_close(inv_log_det[i], want_inv, rtol=1e-7, atol=1e-8)


def forward_row(fn, v, i):
    """Evaluate a batched map on one row i (its conditioning rows are bound inside fn by index)."""
    return fn(v, row=i)[0]


def _batched(bij, cond):
    def fwd(v, row=None):
        c = cond if row is None or cond is None else cond[row: row + 1]
        return bij.forward_and_log_det(v, c)

    def inv(v, row=None):
        c = cond if row is None or cond is None else cond[row: row + 1]
        return bij.inverse_and_log_det(v, c)
    return fwd, inv


@pytest.mark.parametrize("with_cond", [True, False])
def test_affine_rank1_inverts_with_exact_log_det(with_cond):
    n, c = 7, 3
    bij = AffineRank1(in_shapes={"x": (n,), "cond": (c,) if with_cond else None}, out_shape=(n,))
    cond = torch.randn(5, c) if with_cond else None
    _check_bijector(*_batched(bij, cond), 3 * torch.randn(5, n))


def test_affine_rank1_is_the_documented_map():
    """y = c + (diag(d) + u u^T) x with d = softplus(elu(raw)) (SeRe eq. 11)."""
    bij = AffineRank1(in_shapes={"x": (4,), "cond": (2,)}, out_shape=(4,))
    x, cond = torch.randn(3, 4), torch.randn(3, 2)
    shift, d, u = bij.parameters_of(cond, 3)
    raw = bij.scale_diag(cond, 3)
    torch.testing.assert_close(d, torch.nn.functional.softplus(torch.nn.functional.elu(raw)))
    matrices = torch.diag_embed(d) + u.unsqueeze(2) * u.unsqueeze(1)
    torch.testing.assert_close(bij(x, cond), shift + torch.einsum("bij,bj->bi", matrices, x))
    torch.testing.assert_close(rank1_apply(x, shift, d, u), bij(x, cond))


def test_affine_rank1_on_an_image_shaped_latent_keeps_the_shape():
    bij = AffineRank1(in_shapes={"x": (2, 3, 3), "cond": (4, 3, 3)}, out_shape=(2, 3, 3))
    x, cond = torch.randn(2, 2, 3, 3), torch.randn(2, 4, 3, 3)
    y = bij(x, cond)
    assert y.shape == x.shape
    torch.testing.assert_close(bij.inverse(y, cond), x)


@pytest.mark.parametrize("with_cond", [True, False])
def test_spline_coupling_inverts_with_exact_log_det(with_cond):
    n, c = 8, 3
    shapes = {"x": (n,), "cond": (c,) if with_cond else None}
    bij = SplineCoupling(in_shapes=shapes, out_shape=(n,), hidden=(6, 6), bins=5, bound=3.0, splines=3, mask=2)
    cond = torch.randn(4, c) if with_cond else None
    x = 2.0 * torch.randn(4, n)
    x[0, :3] = torch.tensor([-5.0, 4.0, 3.5])  # outside [-3, 3]: the identity there
    _check_bijector(*_batched(bij, cond), x)


def test_spline_coupling_keeps_the_masked_coordinates_of_each_layer():
    bij = SplineCoupling(in_shapes={"x": (6,), "cond": (2,)}, out_shape=(6,), bins=4, bound=3.0, splines=3, mask=2)
    assert [layer.masked for layer in bij.layers] == [0, 2, 4]
    x, cond = torch.randn(3, 6), torch.randn(3, 2)
    last = bij.layers[-1]
    y, _ = last(x, cond)
    torch.testing.assert_close(y[:, :4], x[:, :4])
    assert not torch.allclose(y[:, 4:], x[:, 4:])


def test_rational_quadratic_spline_hits_its_knots_with_their_slopes():
    k, bound = 4, 2.0
    w, h, s = spline_parameters(torch.randn(1, 1, k), torch.randn(1, 1, k), torch.randn(1, 1, k - 1),
                                bound=bound, min_width=1e-3, min_slope=1e-3)
    knots_x = torch.cumsum(w, -1)[..., :-1] - bound  # interior knots
    knots_y = torch.cumsum(h, -1)[..., :-1] - bound
    y, log_deriv = rq_spline_forward(knots_x.reshape(1, -1), w.expand(1, k - 1, k), h.expand(1, k - 1, k),
                                     s.expand(1, k - 1, k - 1), bound=bound)
    torch.testing.assert_close(y, knots_y.reshape(1, -1))
    torch.testing.assert_close(log_deriv.exp(), s.reshape(1, -1))
    total = sum(w.flatten()).item()
    assert total == pytest.approx(2 * bound)


def test_batchnorm_bijector_in_evaluation_inverts_with_exact_log_det():
    bn = BatchNormBijector(5)
    with torch.no_grad():
        bn.log_gamma.normal_()
        bn.beta.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    bn.eval()
    fwd = lambda v, row=None: bn(v)  # noqa: E731
    inv = lambda v, row=None: bn.inverse(v)  # noqa: E731
    _check_bijector(fwd, inv, torch.randn(4, 5))


def test_batchnorm_bijector_in_training_uses_the_batch_and_keeps_running_averages():
    bn = BatchNormBijector(3, momentum=0.5)
    x = 3.0 + 2.0 * torch.randn(256, 3)
    u, log_det = bn.inverse(x)
    torch.testing.assert_close(u.mean(0), torch.zeros(3), atol=1e-9, rtol=0)
    torch.testing.assert_close(log_det, (-0.5 * torch.log(x.var(0, unbiased=False) + bn.eps)).sum().expand(256))
    torch.testing.assert_close(bn.running_mean, 0.5 * x.mean(0))
    torch.testing.assert_close(bn.running_var, 0.5 + 0.5 * x.var(0, unbiased=True))


def test_one_maf_layer_inverts_with_exact_log_det():
    layer = MAFLayer(6, 2, (12, 12))
    cond = torch.randn(3, 2)
    fwd = lambda v, row=None: layer(v, cond if row is None else cond[row: row + 1])  # noqa: E731
    inv = lambda v, row=None: layer.inverse(v, cond if row is None else cond[row: row + 1])  # noqa: E731
    _check_bijector(fwd, inv, torch.randn(3, 6))


def test_a_whole_conditional_maf_with_batchnorm_inverts_with_exact_log_det():
    flow = ConditionalMAF(5, [3, 2, 4], flows=2, hidden=(10, 10), batchnorm=True)
    assert len(flow.steps) == 2 * 3 + (2 * 3 - 1)  # six MADEs, a batch-norm bijector between each two
    with torch.no_grad():
        for step in flow.steps:
            if isinstance(step, BatchNormBijector):
                step.log_gamma.normal_(0, 0.3)
                step.running_var.uniform_(0.5, 2.0)
    flow.eval()
    cond = [torch.randn(3, 3), torch.randn(3, 2), torch.randn(3, 4)]

    def rows(i):
        return cond if i is None else [c[i: i + 1] for c in cond]
    fwd = lambda v, row=None: flow(v, rows(row))  # noqa: E731
    inv = lambda v, row=None: flow.inverse(v, rows(row))  # noqa: E731
    _check_bijector(fwd, inv, torch.randn(3, 5))


def test_logit_transform_log_det_and_round_trip_over_every_level():
    t = LogitTransform(alpha=0.05, bits=8)
    levels = torch.arange(256.0)
    x = (2 * levels / 255 - 1).reshape(4, 64)
    noise = torch.rand(4, 64)
    y, log_det = t.to_logit(x, noise)
    torch.testing.assert_close(t.to_data(y), x)
    v_prime = torch.round((x + 1) * 127.5) + noise

    def logit_of(vp):
        p = 0.05 + 0.95 * vp / 256
        return torch.log(p) - torch.log1p(-p)
    for i in range(4):
        want = _autograd_log_det(logit_of, v_prime[i])
        torch.testing.assert_close(log_det[i], want)


def test_maf_likelihood_is_a_change_of_variables_from_the_dequantized_image():
    """log_prob(x; w) = log N(e; 0, I) + log|det de/dv'| at v' = v + w, with e the base noise: the
    whole chain (logit, flows, batch norm, unit-rank base) differentiated by autograd at once."""
    shape, d = (1, 2, 2), 4
    fam = MAFFamily(in_shapes={"loc": shape, "scale": shape, "factor": shape, "cond": [(3,), (2,)]},
                    target_shape=shape, flows=2, hidden=(8, 8), alpha=0.05)
    fam.eval()
    loc, scale, factor = torch.randn(1, *shape), torch.randn(1, *shape), 0.5 * torch.randn(1, *shape)
    cond = [torch.randn(1, 3), torch.randn(1, 2)]
    dist = fam(loc, scale, factor, cond)
    x = (2 * torch.randint(0, 256, (1, *shape)) / 255 - 1).double()
    noise = torch.rand(1, d)
    got = dist.log_prob(x, noise)

    def to_base_noise(vp):  # v' (1, D) -> e (1, D), independent of the log-det bookkeeping
        p = 0.05 + 0.95 * vp / 256
        y = torch.log(p) - torch.log1p(-p)
        u, _ = fam.flow.inverse(y, cond)
        from zoo.nn.bijectors import rank1_solve
        return rank1_solve(u, dist.loc, dist.diag, dist.factor)
    v_prime = torch.round((x.flatten(1) + 1) * 127.5) + noise
    e = to_base_noise(v_prime)
    want = -0.5 * (e * e).sum() - 0.5 * d * math.log(2 * math.pi) + _autograd_log_det(to_base_noise, v_prime[0])
    torch.testing.assert_close(got[0], want)


def test_maf_samples_are_8_bit_images_and_the_mean_is_the_image_of_the_base_mean():
    shape = (1, 2, 3)
    fam = MAFFamily(in_shapes={"loc": shape, "scale": shape, "factor": shape, "cond": [(2,)]}, target_shape=shape,
                    flows=1, hidden=(6,))
    fam.eval()
    dist = fam(torch.randn(5, *shape), torch.randn(5, *shape), torch.randn(5, *shape), [torch.randn(5, 2)])
    x = dist.sample()
    assert x.shape == (5, *shape)
    levels = (x + 1) * 127.5
    torch.testing.assert_close(levels, torch.round(levels))
    assert x.min() >= -1 and x.max() <= 1
    assert torch.isfinite(dist.log_prob(x)).all()
    torch.testing.assert_close(dist.mean, dist.sample(temperature=0.0))
