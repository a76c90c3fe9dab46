"""Table 5 of the deep attentive VAE paper: every ablation case is attentive16 plus flags, and its
parameter count is the paper's (bench/table5.py prints the table). Models are built on the meta
device: shapes only, no memory for weights."""
from __future__ import annotations

import pytest
import torch

from bench.table5 import CASES, EXACT, build_case, count_case, official_count
from zoo.runtime.lower import lower
from zoo.registry import compile_spec


@pytest.fixture(scope="module")
def counts():
    return {c.case: count_case(c.flags) for c in CASES}


def test_all_sixteen_cases_are_within_two_percent_of_the_paper(counts):
    for c in CASES:
        total, official = counts[c.case]
        paper = c.paper_millions * 1e6
        assert abs(official - paper) / paper < 0.02, (c.case, official, paper)
        assert abs(total - paper) / paper < 0.02, (c.case, total, paper)


def test_cases_1_9_and_16_are_exact(counts):
    for case, published in EXACT.items():
        assert counts[case][1] == published


def test_every_case_but_three_agrees_to_the_printed_digits(counts):
    # the paper prints millions to three decimals, sometimes rounded and sometimes truncated;
    # case 3 is printed 2,586 parameters low, which no variation of the configuration explains
    for c in CASES:
        off = abs(counts[c.case][1] - c.paper_millions * 1e6)
        assert (off < 1000) != (c.case == 3), (c.case, off)


def test_the_official_count_leaves_out_only_the_older_context_layernorms(counts):
    # 14 LayerNorms over a context and its key (276 + 20 channels) in the 16-layer model
    total, official = counts[16]
    assert total - official == 14 * 2 * (276 + 20)
    # without attention in the prior there are none
    assert counts[9][0] == counts[9][1] and counts[10][0] == counts[10][1]


def test_the_flags_switch_the_mechanisms_off():
    model = build_case(dict(L=3, depthwise_prior=False, depthwise_posterior=False, nonlocal_cells=False))
    kinds = {type(m).__name__ for m in model.modules()}
    assert not kinds & {"Attend", "ReZero", "GeluNormBlock", "NonLocal", "NonLocalBlock", "LayerNorm"}
    full = build_case(dict(L=3))
    kinds = {type(m).__name__ for m in full.modules()}
    assert {"Attend", "ReZero", "GeluNormBlock", "NonLocal", "LayerNorm"} <= kinds


def test_omniglot_has_the_readme_count():
    with torch.device("meta"):
        model = lower(compile_spec("attentive15_omniglot"))
    # 7.87M in the official README; the official count_params convention gives 7,873,624, of which
    # 6,426 are the non-local block the upsampling shortcut inherits
    assert official_count(model) == 7_873_624
    assert model.num_parameters() - official_count(model) == 13 * 2 * (72 + 8)
