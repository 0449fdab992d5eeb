"""Failure-mode table: export/import round trips and Jaccard overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from failwidgets.modes import (
    FailureMode,
    export_modes,
    import_modes,
    jaccard_matrix,
    modes_to_frame,
)

MODES = [
    FailureMode("barlow", "cat", "feature 12 > 0.5", np.array([1, 2, 3, 4]), 0.25, 0.6, 0.5),
    FailureMode("prime", "cat", "grass + striped", np.array([3, 4, 5, 6]), 0.3, 0.55, None),
]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path, suffix):
    back = import_modes(export_modes(MODES, tmp_path / f"modes{suffix}"))
    assert [m.description for m in back] == [m.description for m in MODES]
    np.testing.assert_array_equal(back[1].members, MODES[1].members)
    assert back[0].heldout_drop == 0.5 and back[1].heldout_drop is None
    assert (
        modes_to_frame(back)
        .drop(columns="members")
        .equals(modes_to_frame(MODES).drop(columns="members"))
    )


def test_jaccard():
    table = jaccard_matrix(MODES)
    assert table.iloc[0, 1] == pytest.approx(2 / 6)
    assert np.allclose(np.diag(table), 1)


def test_bad_path(tmp_path):
    with pytest.raises(ValueError, match="path: expected a .csv or .parquet"):
        export_modes(MODES, tmp_path / "modes.xlsx")
