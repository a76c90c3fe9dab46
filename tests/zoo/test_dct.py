"""The pseudo-input transforms: DCT against scipy, exact inversion, low-pass filtering, S from data,
the deterministic data-range mapping, and the pseudo-inverses of downsampling and the learned map."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from dsl.errors import SpecSemanticError
from zoo.runtime.lower import lower
from zoo.nn.dct import DCT, dct2, dct_matrix, idct2
from zoo.nn.pseudo import Downsample, LearnedProjection
from zoo.registry import compile_spec


def _dct_block(shape=(2, 12, 10), size=4, data_range=(0.0, 1.0), clamp=True):
    c, h, w = shape
    return DCT(in_shapes={"x": shape}, out_shape=(c, size, size), size=size, data_range=data_range, clamp=clamp)


def test_dct2_matches_scipy_orthonormal_dctn():
    x = torch.rand(3, 2, 12, 10, dtype=torch.float64)
    ref = scipy.fft.dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1))
    np.testing.assert_allclose(dct2(x).numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(idct2(torch.from_numpy(ref)).numpy(), x.numpy(), atol=1e-12)


def test_dct_matrix_is_orthonormal_with_the_papers_entries():
    c = dct_matrix(7)
    assert torch.allclose(c @ c.t(), torch.eye(7, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(c[0], torch.full((7,), (1 / 7) ** 0.5, dtype=torch.float64))
    assert c[2, 3].item() == pytest.approx((2 / 7) ** 0.5 * np.cos(np.pi / 7 * 3.5 * 2))


def test_full_size_dct_inverts_exactly():
    block = _dct_block(shape=(2, 9, 9), size=9)
    x = torch.rand(5, 2, 9, 9)
    block.init_from_data_update(x=x)
    block.init_from_data_end()
    u = block(x)
    assert u.abs().max() <= 1.0
    assert torch.allclose(block.pseudo_inverse(u), x, atol=1e-5)


def test_crop_then_pseudo_inverse_is_low_pass_filtering():
    block = _dct_block(shape=(2, 12, 10), size=4, clamp=False)
    x = torch.rand(6, 2, 12, 10, dtype=torch.float64)
    mask = np.zeros((12, 10))
    mask[:4, :4] = 1
    low = scipy.fft.idctn(mask * scipy.fft.dctn(x.numpy(), norm="ortho", axes=(-2, -1)), norm="ortho", axes=(-2, -1))
    # the linear part: zero-padding the crop and inverting is the ideal low-pass filter
    lifted = block.lift(block.project(x.float())).double()
    np.testing.assert_allclose(lifted.numpy(), low, atol=1e-5)
    # the block: normalise by S, then multiply back, pad, invert, clamp to the data range
    block.init_from_data_update(x=x.float())
    block.init_from_data_end()
    np.testing.assert_allclose(block.pseudo_inverse(block(x.float())).double().numpy(), low.clip(0, 1), atol=1e-5)


def test_scale_is_the_max_abs_coefficient_over_all_batches_and_is_saved():
    x = torch.rand(40, 2, 12, 10)
    block = _dct_block()
    for chunk in x.split(7):
        block.init_from_data_update(x=chunk)
    block.init_from_data_end()
    expected = dct2(x.double())[..., :4, :4].abs().amax(0).float()
    assert torch.allclose(block.scale, expected, atol=1e-5)
    assert bool(block.initialized)
    fresh = _dct_block()
    fresh.load_state_dict(block.state_dict())
    assert torch.equal(fresh.scale, block.scale) and bool(fresh.initialized)
    u = block(x)
    assert u.abs().max().item() == pytest.approx(1.0, abs=1e-6)  # the extreme coefficient reaches +-1


def test_data_free_scale_bounds_every_image_in_range():
    block = _dct_block()
    extreme = (torch.rand(200, 2, 12, 10) > 0.5).float()  # corners of [0, 1]^D
    assert block.coefficients(extreme).abs().le(block.scale + 1e-6).all()
    with pytest.warns(UserWarning, match="initialize_from_data"):
        block.train()(extreme)


def test_range_mapping_does_not_depend_on_the_batch():
    """The official code maps [-1, 1] to [0, 1] only if the batch has a negative pixel (hazard 2.7.5)."""
    signed = _dct_block(data_range=(-1.0, 1.0), clamp=False).eval()
    unit = _dct_block(data_range=(0.0, 1.0), clamp=False).eval()
    bright = torch.rand(4, 2, 12, 10) * 0.5 + 0.5  # no pixel below 0: a batch the official code would not map
    assert torch.allclose(signed(bright), unit((bright + 1) / 2), atol=1e-6)
    assert torch.allclose(signed(bright[:1]), signed(bright)[:1], atol=1e-6)
    back = signed.pseudo_inverse(signed(bright))
    assert back.min() >= -1 and back.max() <= 1


def test_downsample_inverse_is_nearest_upsampling_for_integer_factors():
    block = Downsample(in_shapes={"x": (1, 28, 28)}, out_shape=(1, 7, 7), size=7)
    x = torch.rand(3, 1, 28, 28)
    u = block(x)
    assert torch.allclose(u, 2 * torch.nn.functional.avg_pool2d(x, 4) - 1, atol=1e-6)
    assert torch.allclose(block.pseudo_inverse(u), torch.nn.functional.avg_pool2d(x, 4).repeat_interleave(4, 2)
                          .repeat_interleave(4, 3), atol=1e-5)


def test_downsample_to_any_size_keeps_constants_and_inverts_from_the_right():
    block = Downsample(in_shapes={"x": (1, 28, 28)}, out_shape=(1, 5, 5), size=5)
    grey = torch.full((1, 1, 28, 28), 0.3)
    assert torch.allclose(block(grey), torch.full((1, 1, 5, 5), -0.4), atol=1e-6)
    assert torch.allclose(block.pseudo_inverse(block(grey)), grey, atol=1e-5)
    u = 0.2 * torch.randn(4, 1, 5, 5)  # images of these stay inside [0, 1]
    assert torch.allclose(block(block.pseudo_inverse(u)), u, atol=1e-5)


def test_learned_projection_pseudo_inverse_is_a_right_inverse():
    torch.manual_seed(1)
    block = LearnedProjection(in_shapes={"x": (1, 12, 12)}, out_shape=(1, 3, 3), size=3)
    with torch.no_grad():  # put the constant image in the row space, so a mid-grey image inverts in range
        block.linear.weight[0] = 1.0 / 12
    w = block.linear.weight.detach()
    x = (0.5 + 0.02 * (w.t() @ torch.randn(9, 4)).t() / w.norm(dim=1).max()).reshape(4, 1, 12, 12)
    u = block(x)
    back = block.pseudo_inverse(u)
    assert back.min() > 0 and back.max() < 1  # the clamp to the data range is not active here
    assert torch.allclose(back, x, atol=1e-4)  # x lies in the row space: recovered exactly
    assert torch.allclose(block(back), u, atol=1e-4)
    back.sum().backward()
    assert block.linear.weight.grad is not None


def test_pseudo_inverse_needs_a_transform(tmp_path):
    spec = tmp_path / "bad.hvae"
    spec.write_text(
        'observed x : [1, 8, 8] ~ bernoulli\n'
        'pseudo u : [1, 4, 4]\n'
        'prior u = normal(loc = 0, scale = 1)\n'
        'posterior u | x = normal(loc = avgpool(x), scale = param([1, 4, 4]))\n'
        'likelihood x | u = conv(pseudo_inverse(u, of = posterior(u), shape_ = [1, 8, 8]), k = 3)\n')
    with pytest.raises(SpecSemanticError, match="avgpool', which has no pseudo-inverse") as err:
        lower(compile_spec(str(spec)))
    assert "bad.hvae:5:" in str(err.value)
