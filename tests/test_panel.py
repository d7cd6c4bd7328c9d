"""The panel's CSR arithmetic: rows of series laid one after another."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from forecastr.data.panel import row_offsets, row_owners, row_ranges


@given(lengths=st.lists(st.integers(0, 6), max_size=8), shift=st.integers(0, 50))
def test_row_helpers_equal_the_loops_they_replace(lengths, shift):
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = shift + np.r_[0, np.cumsum(lengths)[:-1]] * 2 if len(lengths) else lengths
    assert row_owners(lengths).tolist() == [i for i, n in enumerate(lengths) for _ in range(n)]
    assert row_offsets(lengths).tolist() == [k for n in lengths for k in range(n)]
    assert row_ranges(starts, lengths).tolist() == [
        int(s) + k for s, n in zip(starts, lengths) for k in range(n)]
