"""Learning-rate and KL warm-up schedules, including the geometric warm-up of the SeRe paper."""
from __future__ import annotations

import math

import pytest

from zoo.config import KLWarmupConfig, LRScheduleConfig
from zoo.training.schedules import geometric_level, kl_beta, kl_warmup_epochs, learning_rate, staircase_epochs


# -- KL warm-up ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [2, 3, 8, 10])
def test_geometric_warmup_follows_the_formula(levels):
    """beta_0 = 0, beta_n = 10^((n - N)/(N - 1)); level n lasts 2^n epochs; beta = 1 after 2^N - 1 epochs."""
    cfg = KLWarmupConfig(name="geometric", levels=levels)
    expected = []
    for n in range(levels):
        beta_n = 0.0 if n == 0 else 10.0 ** ((n - levels) / (levels - 1))
        expected += [beta_n] * 2 ** n
    horizon = 2 ** levels - 1
    assert len(expected) == horizon
    got = [kl_beta(cfg, e) for e in range(horizon)]
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert all(kl_beta(cfg, e) == 1.0 for e in range(horizon, horizon + 50))
    assert kl_warmup_epochs(cfg) == horizon


def test_geometric_warmup_landmarks_of_the_paper():
    ten = KLWarmupConfig(name="geometric", levels=10)
    assert kl_beta(ten, 0) == 0.0
    assert kl_beta(ten, 1) == pytest.approx(0.1)        # beta_1 = 0.1
    assert kl_beta(ten, 1022) == pytest.approx(10 ** (-1 / 9))
    assert kl_beta(ten, 1023) == 1.0                    # 1023 epochs: the paper's "1024 warm-up epochs"
    assert kl_warmup_epochs(KLWarmupConfig(name="geometric", levels=8)) == 255   # CIFAR "256+"
    assert [geometric_level(e) for e in range(8)] == [0, 1, 1, 2, 2, 2, 2, 3]
    betas = [kl_beta(ten, e) for e in range(1100)]
    assert all(b <= c for b, c in zip(betas, betas[1:])), "the warm-up never lowers beta"


def test_geometric_warmup_with_a_reconstruction_phase():
    cfg = KLWarmupConfig(name="geometric", levels=8, delay_epochs=350)
    assert all(kl_beta(cfg, e) == 0.0 for e in range(351))       # 350 epochs of beta = 0, then level 0
    assert kl_beta(cfg, 351) == pytest.approx(0.1)
    assert kl_beta(cfg, 350 + 255) == 1.0
    assert kl_warmup_epochs(cfg) == 350 + 255


def test_linear_warmup_matches_the_attentive_vae_and_the_ladder_vae():
    davi = KLWarmupConfig(name="linear", epochs=16, start=0.1)
    assert [kl_beta(davi, e) for e in (0, 8, 15, 16, 100)] == pytest.approx([0.1, 0.55, 0.1 + 0.9 * 15 / 16, 1, 1])
    lvae = KLWarmupConfig(name="linear", epochs=200)
    assert kl_beta(lvae, 0) == 0.0 and kl_beta(lvae, 100) == 0.5 and kl_beta(lvae, 200) == 1.0
    assert kl_beta(KLWarmupConfig(name="none"), 0) == 1.0
    assert kl_beta(KLWarmupConfig(name="none", delay_epochs=3), 2) == 0.0


# -- learning rate -----------------------------------------------------------------------------------

def test_warmup_then_cosine_to_the_floor():
    cfg = LRScheduleConfig(name="cosine", warmup_epochs=5, warmup_start_lr=1e-4, min_lr=1e-4)
    lr = lambda e: learning_rate(cfg, 1e-2, e, 400)  # noqa: E731
    assert lr(0) == pytest.approx(1e-4)
    assert lr(2.5) == pytest.approx(1e-4 + (1e-2 - 1e-4) / 2)
    assert lr(5) == pytest.approx(1e-2)
    assert lr(5 + 395 / 2) == pytest.approx((1e-2 + 1e-4) / 2)
    assert lr(400) == pytest.approx(1e-4) and lr(1000) == pytest.approx(1e-4)


def test_epoch_granularity_holds_the_rate_within_an_epoch():
    cfg = LRScheduleConfig(name="cosine", warmup_epochs=5, min_lr=1e-4, granularity="epoch")
    assert learning_rate(cfg, 1e-2, 10.0, 400) == learning_rate(cfg, 1e-2, 10.99, 400)
    assert learning_rate(cfg, 1e-2, 10.0, 400) > learning_rate(cfg, 1e-2, 11.0, 400)
    assert learning_rate(cfg, 1e-2, 2.5, 400) == pytest.approx(1e-2 / 2)  # warm-up stays per step


def test_sgdr_restarts_with_growing_periods():
    """The attentive VAE's 900-epoch run: 5 warm-up epochs, then periods of 300 and 600 epochs."""
    cfg = LRScheduleConfig(name="cosine_restarts", warmup_epochs=5, min_lr=1e-4, period_epochs=300, period_mult=2)
    lr = lambda e: learning_rate(cfg, 1e-2, e, 900)  # noqa: E731
    assert lr(5) == pytest.approx(1e-2)
    assert lr(5 + 150) == pytest.approx((1e-2 + 1e-4) / 2)
    assert lr(5 + 299.999) == pytest.approx(1e-4, abs=1e-7)
    assert lr(5 + 300) == pytest.approx(1e-2)                # restart
    assert lr(5 + 300 + 300) == pytest.approx((1e-2 + 1e-4) / 2)
    assert lr(5 + 900) == pytest.approx(1e-2)                # third period starts at 5 + 300 + 600
    flat = LRScheduleConfig(name="cosine_restarts", period_epochs=10, period_mult=1)
    assert learning_rate(flat, 1.0, 3.0, 100) == pytest.approx(learning_rate(flat, 1.0, 13.0, 100))


def test_staircase_is_burdas_schedule():
    cfg = LRScheduleConfig(name="staircase", stages=8, stage_base=3, final_factor=0.1)
    assert staircase_epochs(cfg) == 3280
    starts = [0, 1, 4, 13, 40, 121, 364, 1093]
    for i, start in enumerate(starts):
        assert learning_rate(cfg, 1e-3, start, 3280) == pytest.approx(1e-3 * 10 ** (-i / 7))
        assert learning_rate(cfg, 1e-3, start + 3 ** i - 0.01, 3280) == pytest.approx(1e-3 * 10 ** (-i / 7))
    assert learning_rate(cfg, 1e-3, 5000, 3280) == pytest.approx(1e-4)


def test_constant_schedule_and_warmup():
    cfg = LRScheduleConfig(name="constant", warmup_epochs=2)
    assert [learning_rate(cfg, 1.0, e, 10) for e in (0, 1, 2, 9)] == [0.0, 0.5, 1.0, 1.0]
    assert all(math.isfinite(learning_rate(LRScheduleConfig(name="cosine"), 1.0, e / 7, 1)) for e in range(20))
