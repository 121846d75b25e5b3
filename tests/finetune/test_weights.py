"""Sample weights: higher return or advantage -> higher weight; normalized, clipped, discounted right."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.errors import Sim2RealError
from sim2real.finetune.weights import (
    WeightConfig,
    awr_weights,
    discounted_returns,
    returns_to_go,
    softmax_weights,
)


class TestAwr:
    def test_higher_advantage_gets_higher_weight(self):
        adv = np.random.default_rng(0).normal(size=500)
        w = awr_weights(adv, temperature=1.0, max_weight=1e9)
        order = np.argsort(adv)
        assert np.all(np.diff(w[order]) >= 0)
        assert w[np.argmax(adv)] > w[np.argmin(adv)] * 10

    def test_mean_one_before_clip_and_clipped_at_max(self):
        adv = np.r_[np.zeros(99), 50.0]
        w = awr_weights(adv, temperature=0.1, max_weight=5.0)
        assert w.max() == pytest.approx(5.0)
        assert np.mean(awr_weights(np.linspace(-1, 1, 50), 1.0, 1e9)) == pytest.approx(1.0)

    def test_lower_temperature_is_greedier(self):
        adv = np.linspace(-1, 1, 101)
        hot, cold = awr_weights(adv, 5.0, 1e9), awr_weights(adv, 0.2, 1e9)
        assert cold.max() > hot.max()

    def test_equal_advantages_give_equal_weights(self):
        assert np.array_equal(awr_weights(np.full(7, 3.0)), np.ones(7))


class TestSoftmax:
    def test_episode_with_higher_return_weighs_more(self):
        w = softmax_weights([1.0, 5.0, 3.0], temperature=1.0, max_weight=100.0)
        assert w[1] > w[2] > w[0]
        assert np.mean(softmax_weights([1.0, 5.0, 3.0], 1.0, 1e9)) == pytest.approx(1.0)


class TestReturns:
    def test_discounted_return_matches_the_closed_form(self):
        r = np.array([1.0, 2.0, 3.0])
        g = discounted_returns(r, 0.5)
        assert np.allclose(g, [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3])

    def test_returns_do_not_leak_across_episodes(self):
        r = np.ones(6)
        g = returns_to_go(r, np.array([0, 0, 0, 1, 1, 1]), 1.0)
        assert np.allclose(g, [3, 2, 1, 3, 2, 1])

    def test_gamma_from_horizon(self):
        assert WeightConfig(horizon_s=0.5).gamma(0.002) == pytest.approx(np.exp(-0.004))

    @pytest.mark.parametrize("kwargs", [{"scheme": "bogus"}, {"temperature": 0.0}, {"max_weight": -1.0}])
    def test_bad_config_is_refused(self, kwargs):
        with pytest.raises(Sim2RealError):
            WeightConfig(**kwargs)
