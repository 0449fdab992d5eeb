"""EvalSet.from_folder: hidden folders, paths that leave root, the symlink policy, CSV errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from failwidgets.data import EvalSet


def make_folder(tmp_path, classes=("bird", "plane"), per_class=2, predictions=None):
    root = tmp_path / "root"
    rows = []
    for ci, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for j in range(per_class):
            rel = f"{name}/{j}.png"
            Image.fromarray(np.full((4, 4, 3), 40 * ci + j, np.uint8)).save(root / rel)
            rows.append({"path": rel, "prediction": ci, "note": f"{name}{j}"})
    table = pd.DataFrame(rows)
    if predictions is not None:
        table["prediction"] = predictions
    csv = tmp_path / "preds.csv"
    table.to_csv(csv, index=False)
    return root, csv, table


def test_hidden_folders_are_not_classes(tmp_path):
    root, csv, _ = make_folder(tmp_path)
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".cache" / "x").mkdir(parents=True)
    es = EvalSet.from_folder(root, csv)  # integer predictions, so a shift would show
    assert es.class_names == ["bird", "plane"]
    assert es.correct.all()


def test_numeric_class_folders_read_predictions_as_names(tmp_path):
    root, csv, _ = make_folder(
        tmp_path, classes=("1", "10", "2"), predictions=["1", "1", "10", "10", "2", "2"]
    )
    es = EvalSet.from_folder(root, csv)
    assert es.class_names == ["1", "10", "2"] and es.correct.all()


def test_paths_inside_root_after_normalising(tmp_path):
    root, csv, table = make_folder(tmp_path)
    table.loc[0, "path"] = "plane/../bird/0.png"  # stays inside root; labelled by where it lands
    table.to_csv(csv, index=False)
    es = EvalSet.from_folder(root, csv)
    assert es.labels[0] == 0 and es.image(0)[0, 0, 0] == 0


@pytest.mark.parametrize(
    "path, message",
    [
        ("bird/../../secret.png", r"path 'bird/\.\./\.\./secret\.png' leaves root"),
        ("../secret.png", r"path '\.\./secret\.png' leaves root"),
        ("ABSOLUTE", r"absolute path"),
        ("bird/missing.png", r"file not found"),
        ("secret2.png", r"'secret2\.png' is not inside a class folder"),
        ("bird/notes.txt", r"'bird/notes\.txt' is not an image file name"),
    ],
)
def test_paths_that_leave_root_are_refused(tmp_path, path, message):
    root, csv, table = make_folder(tmp_path)
    secret = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(secret)
    Image.new("RGB", (2, 2)).save(root / "secret2.png")
    (root / "bird" / "notes.txt").write_text("x")
    table.loc[1, "path"] = str(secret) if path == "ABSOLUTE" else path
    table.to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"^predictions_csv: column 'path': row 1: .*" + message):
        EvalSet.from_folder(root, csv)


def test_symlink_policy(tmp_path):
    root, csv, table = make_folder(tmp_path)
    outside = tmp_path / "store"
    outside.mkdir()
    Image.new("RGB", (2, 2), (9, 9, 9)).save(outside / "far.png")
    (root / "bird" / "far.png").symlink_to(outside / "far.png")
    (root / "bird" / "near.png").symlink_to(root / "plane" / "0.png")
    table.loc[0, "path"] = "bird/near.png"  # a link that stays inside root is followed
    table.to_csv(csv, index=False)
    es = EvalSet.from_folder(root, csv)
    assert es.image(0)[0, 0, 0] == 40
    table.loc[1, "path"] = "bird/far.png"  # a link that leads outside is refused...
    table.to_csv(csv, index=False)
    with pytest.raises(
        ValueError, match=r"^predictions_csv: column 'path': row 1: .*symbolic link"
    ):
        EvalSet.from_folder(root, csv)
    allowed = EvalSet.from_folder(root, csv, follow_external_symlinks=True)  # ...unless allowed
    assert allowed.image(1)[0, 0, 0] == 9
    # a class folder that is a link out of root
    (root / "cloud").symlink_to(outside, target_is_directory=True)
    table.loc[1, "path"] = "cloud/far.png"
    table.to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"row 1: .*lies in a folder that links to .*store"):
        EvalSet.from_folder(root, csv)
    assert EvalSet.from_folder(root, csv, follow_external_symlinks=True).class_names == [
        "bird",
        "cloud",
        "plane",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"^predictions_csv: the file is empty"),
        (b'path,prediction\n"bird/0.png,0\n', r"^predictions_csv: not a valid CSV file"),
        (b"path,prediction\nbird/0.png,1,2,3\n", r"^predictions_csv: not a valid CSV file"),
        (b"path,prediction\n\xff\xfe\xfa,0\n", r"^predictions_csv: not UTF-8 text"),
        (b"path,prediction\n", r"^predictions_csv: no rows"),
        (b"file,prediction\nbird/0.png,0\n", r"^predictions_csv: missing column 'path'"),
        (b"path,prediction\nbird/0.png,\n", r"^predictions_csv: row 0 has no 'prediction'"),
        (b"path,prediction\nbird/0.png,zebra\n", r"^predictions_csv: column 'prediction': unknown"),
        (b"path,prediction\nbird/0.png,7\n", r"^predictions_csv: column 'prediction': index 7"),
        (
            b"path,prediction,prob_bird\nbird/0.png,0,1.0\n",
            r"^predictions_csv: prob_<class> columns: missing column\(s\) \['prob_plane'\]",
        ),
        (
            b"path,prediction,prob_bird,prob_plane,prob_owl\nbird/0.png,0,1,0,0\n",
            r"^predictions_csv: prob_<class> columns: column\(s\) \['prob_owl'\]",
        ),
        (
            b"path,prediction,prob_bird,prob_plane\nbird/0.png,0,0.9,0.3\n",
            r"^predictions_csv: probabilities: row 0 sums to 1.2",
        ),
        (
            b"path,prediction,prob_bird,prob_plane\nbird/0.png,0,high,low\n",
            r"^predictions_csv: probabilities: expected numbers",
        ),
    ],
)
def test_bad_csv_names_predictions_csv(tmp_path, content, message):
    root, csv, _ = make_folder(tmp_path)
    csv.write_bytes(content)
    error = TypeError if "expected numbers" in message else ValueError
    with pytest.raises(error, match=message):
        EvalSet.from_folder(root, csv)


def test_csv_path_errors(tmp_path):
    root, csv, _ = make_folder(tmp_path)
    with pytest.raises(ValueError, match="^predictions_csv: file not found"):
        EvalSet.from_folder(root, tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="^predictions_csv: is a directory"):
        EvalSet.from_folder(root, tmp_path)
    with pytest.raises(ValueError, match="^root: not a directory"):
        EvalSet.from_folder(tmp_path / "nope", csv)
    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)
    with pytest.raises(ValueError, match="^root: no class sub-folders"):
        EvalSet.from_folder(empty, csv)
