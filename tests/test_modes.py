"""Failure-mode table: export/import round trips and Jaccard overlaps."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from failwidgets.modes import (
    FailureMode,
    export_modes,
    frame_to_modes,
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


# -- exact round trips and checked imports (issue 14) ----------------------------------------------
TRICKY = [
    "NA",
    "None",
    "null",
    "#N/A",
    "",
    "nan",
    "NaN",
    "007",
    "0123",
    "1e5",
    "TRUE",
    " x ",
    'a "quoted", comma',
    "line\nbreak",
    "ünïcødé ✓ 🐱",
    "-",
    "n/a",
    "\r",  # a lone carriage return is a line break to the CSV reader unless quoted
    "a\r\nb",
]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_text_columns_come_back_exactly(tmp_path, suffix):
    modes = [
        FailureMode(text, text, text, np.array([i, 0], dtype=np.int64), 0.1 * i, -0.2, None)
        for i, text in enumerate(TRICKY)
    ]
    modes.append(FailureMode("m", "c", "0123", np.array([], dtype=np.int64)))  # NaN floats
    back = import_modes(export_modes(modes, tmp_path / f"modes{suffix}"))
    assert [(m.method, m.class_name, m.description) for m in back] == [
        (m.method, m.class_name, m.description) for m in modes
    ]
    assert all(type(m.description) is str for m in back)
    for a, b in zip(back, modes):
        assert a.members.dtype == np.int64 and a.members.tolist() == b.members.tolist()
        np.testing.assert_array_equal([a.accuracy, a.drop], [b.accuracy, b.drop])  # NaN == NaN
        assert a.heldout_drop == b.heldout_drop


def _csv_with_members(tmp_path, members: str):
    path = export_modes(MODES[:1], tmp_path / "modes.csv")
    text = path.read_text().replace('"[1, 2, 3, 4]"', members)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("members", "error", "match"),
    [
        ('"[1.5, -3]"', TypeError, r"members: row 0: 1.5 is not an integer index"),
        ('"[1, -3]"', ValueError, r"members: row 0: index -3 is negative"),
        ('"[1, true]"', TypeError, r"members: row 0: True is not an integer index"),
        ('"[1, ""2""]"', TypeError, r"members: row 0: '2' is not an integer index"),
        ('"{""a"": 1}"', ValueError, r"members: row 0: expected a JSON list"),
        ('"[1, 2"', ValueError, r"members: row 0: not a JSON list"),
        ('"[]"', ValueError, r"size: row 0: says 4 members, but members lists 0"),
    ],
)
def test_bad_members_are_refused_naming_row_and_column(tmp_path, members, error, match):
    with pytest.raises(error, match=match):
        import_modes(_csv_with_members(tmp_path, members))


def test_bad_csv_files_name_the_path_or_the_column(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="path: .*empty.csv is not a failure-mode CSV"):
        import_modes(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"method,class_name\n\xe9,\xff\n")
    with pytest.raises(ValueError, match="path: .*latin.csv is not a failure-mode CSV"):
        import_modes(latin)
    path = export_modes(MODES[:1], tmp_path / "modes.csv")
    path.write_text(path.read_text().replace(",0.25,", ",high,"))
    with pytest.raises(ValueError, match=r"accuracy: row 0: 'high' is not a number"):
        import_modes(path)
    with pytest.raises(ValueError, match=r"frame: missing columns \['members'\]"):
        frame_to_modes(modes_to_frame(MODES).drop(columns="members"))
    with pytest.raises(TypeError, match="path: expected a file path"):
        import_modes(None)


def test_frames_with_other_types_are_refused_not_coerced():
    frame = modes_to_frame(MODES)
    with pytest.raises(TypeError, match=r"description: row 1: expected text, got float nan"):
        frame_to_modes(frame.assign(description=["x", float("nan")]))
    with pytest.raises(TypeError, match=r"accuracy: row 0: expected a number, got str"):
        frame_to_modes(frame.assign(accuracy=["0.5", 0.3]))
    floats = [np.array([1.0, 2.0]), np.array([3, 4])]
    with pytest.raises(TypeError, match=r"members: row 0: expected integer indices, got dtype"):
        frame_to_modes(frame.assign(members=floats, size=[2, 2]))
    with pytest.raises(TypeError, match="frame: expected a pandas DataFrame"):
        frame_to_modes([{"method": "x"}])


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    for call in (
        lambda: export_modes(MODES, tmp_path / "modes.parquet"),
        lambda: import_modes(tmp_path / "modes.parquet"),
    ):
        with pytest.raises(ImportError, match=r'pip install "failwidgets\[parquet\]"'):
            call()
    assert not (tmp_path / "modes.parquet").exists()


def test_parquet_with_an_unusable_pyarrow_names_the_extra(tmp_path, monkeypatch):
    import pandas as pd

    path = export_modes(MODES, tmp_path / "modes.parquet")  # a real file to read back

    def refuse(*args, **kwargs):  # what pandas raises for a pyarrow it cannot use
        raise ImportError("Pandas requires version '10.0.1' or newer of 'pyarrow'")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", refuse)
    monkeypatch.setattr(pd, "read_parquet", refuse)
    message = r"""pandas cannot use the installed pyarrow \(Pandas requires version.*pip install "failwidgets\[parquet\]\""""
    with pytest.raises(ImportError, match=message):
        export_modes(MODES, tmp_path / "other.parquet")
    with pytest.raises(ImportError, match=message):
        import_modes(path)
    assert not (tmp_path / "other.parquet").exists()
