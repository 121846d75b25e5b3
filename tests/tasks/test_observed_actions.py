"""``ObservedActions``: the one place that picks the ``last_action`` term's entries (the driven
actions) out of the full action."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.errors import Sim2RealError
from sim2real.tasks.observations import ObservedActions


class TestObservedActions:
    def test_a_tuple_and_an_array_of_indices_give_one_frozen_index(self):
        # RobotSpec.action_index is a tuple, PolicyMetadata.action_index an array
        from_spec, from_meta = ObservedActions(5, (0, 2, 3)), ObservedActions(5, np.array([0, 2, 3]))
        for observed in (from_spec, from_meta):
            assert observed.index.dtype == np.intp and observed.index.tolist() == [0, 2, 3]
            assert observed.size == 3 and not observed.every
            with pytest.raises(ValueError):
                observed.index[0] = 1

    def test_select_picks_the_driven_entries_of_a_batch_and_of_one_action(self):
        observed = ObservedActions(5, (0, 2, 3))
        batch = np.arange(10.0).reshape(2, 5)
        np.testing.assert_array_equal(observed.select(batch), [[0.0, 2.0, 3.0], [5.0, 7.0, 8.0]])
        out = np.zeros(3)
        assert observed.select(batch[1], out=out) is out
        np.testing.assert_array_equal(out, [5.0, 7.0, 8.0])

    def test_every_action_driven_gives_the_action_itself(self):
        action = np.arange(4.0)
        for observed in (ObservedActions(4), ObservedActions(4, (0, 1, 2, 3))):
            assert observed.every and observed.select(action) is action
            out = np.zeros(4)
            assert observed.select(action, out=out) is out and out.tolist() == action.tolist()

    def test_the_driven_entries_alone_are_refused_not_indexed_again(self):
        with pytest.raises(Sim2RealError, match="from the full action of 5, got 3 values"):
            ObservedActions(5, (0, 2, 3)).select(np.zeros((2, 3)))

    @pytest.mark.parametrize("driven", [(), (0, 5), (-1, 2), (2, 0), (1, 1), (0.0, 1.0), ((0, 1),), (True,)])
    def test_indices_that_are_not_increasing_actions_are_refused(self, driven):
        with pytest.raises(Sim2RealError, match="driven actions"):
            ObservedActions(5, driven)
