"""The conditional MADE of SeRe Appendix 9.2: degrees, masks and the autoregressive property.

The gradient tests differentiate every output with respect to every input and compare the set of
nonzero derivatives with the property: output d depends on data input j exactly when
deg(j) < deg(d), and on every conditioning input unless d has the lowest degree (whose outputs
are biases, as in any MADE).
"""
from __future__ import annotations

import pytest
import torch
from torch.autograd.functional import jacobian

from zoo.nn.made import ConditionalMADE, made_degrees, made_masks


def _dependence(made: ConditionalMADE, data: int, cond: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs*D, D) and (outputs*D, C) booleans: which outputs have a nonzero derivative."""
    x, c = torch.randn(data, dtype=torch.float64), torch.randn(cond, dtype=torch.float64)
    made = made.double()
    jx = jacobian(lambda v: made(v.unsqueeze(0), c.unsqueeze(0)).flatten(), x)
    jc = jacobian(lambda v: made(x.unsqueeze(0), v.unsqueeze(0)).flatten(), c)
    return jx.abs() > 0, jc.abs() > 0


@pytest.mark.parametrize("order", ["random", "left_to_right"])
def test_made_outputs_depend_exactly_on_lower_degrees_and_on_every_conditioning_input(order):
    data, cond = 7, 3
    # tanh, not relu: a relu unit inactive at the test point would hide an allowed dependence
    made = ConditionalMADE(data, cond, (24, 24), outputs=2, act="tanh", order=order,
                           generator=torch.Generator().manual_seed(3))
    on_x, on_c = _dependence(made, data, cond)
    deg = made.data_degrees
    allowed = deg[None, :] < deg[:, None]  # (D out, D in)
    for k in range(2):  # shift and log-scale blocks
        block_x = on_x[k * data: (k + 1) * data]
        assert torch.equal(block_x, allowed), "an output depends on a data input of equal or higher degree"
        block_c = on_c[k * data: (k + 1) * data]
        first = deg == deg.min()
        assert not block_c[first].any()  # biases only
        assert block_c[~first].all(), "a conditioning input is masked out of some output"


def test_relu_made_never_depends_on_equal_or_higher_degrees():
    made = ConditionalMADE(9, 4, (32, 32), outputs=2, generator=torch.Generator().manual_seed(5))
    on_x, _ = _dependence(made, 9, 4)
    deg = made.data_degrees
    forbidden = deg[None, :] >= deg[:, None]
    assert not (on_x.reshape(2, 9, 9) & forbidden).any()


def test_degrees_follow_the_mask_offset_construction():
    data, cond = 10, 4
    degrees = made_degrees(data, cond, (16, 5), order="random", generator=torch.Generator().manual_seed(0))
    inputs = degrees[0]
    assert inputs[:cond].tolist() == [1, 2, 3, 4]
    assert sorted(inputs[cond:].tolist()) == list(range(cond + 1, cond + data + 1))
    assert inputs[cond:].tolist() != list(range(cond + 1, cond + data + 1))  # this seed permutes
    for hidden in degrees[1:]:
        assert hidden.min() >= cond + 1 and hidden.max() <= cond + data - 1
    # "equal" hidden degrees: 16 units spread evenly over the 9 useful degrees
    counts = torch.bincount(degrees[1] - cond - 1, minlength=data - 1)
    assert counts.max() - counts.min() <= 1


def test_conditioning_inputs_connect_to_every_first_layer_unit():
    data, cond = 6, 5
    masks = made_masks(made_degrees(data, cond, (9, 9), generator=torch.Generator().manual_seed(1)), cond)
    assert masks[0][:, :cond].all()
    assert masks[-1].shape == (data, 9)  # outputs for the data inputs only


def test_orderings_travel_with_the_state_dict():
    a = ConditionalMADE(5, 2, (8,), generator=torch.Generator().manual_seed(0))
    b = ConditionalMADE(5, 2, (8,), generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a.input_degrees, b.input_degrees)
    b.load_state_dict(a.state_dict())
    x, c = torch.randn(3, 5), torch.randn(3, 2)
    torch.testing.assert_close(b(x, c), a(x, c))


def test_made_without_hidden_layers_is_still_autoregressive():
    made = ConditionalMADE(4, 2, (), outputs=1, generator=torch.Generator().manual_seed(2))
    on_x, on_c = _dependence(made, 4, 2)
    deg = made.data_degrees
    assert torch.equal(on_x, deg[None, :] < deg[:, None])
    assert on_c.all()  # direct connections from the conditioning inputs to every output
