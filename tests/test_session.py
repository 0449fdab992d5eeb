"""Explorer sessions (save/load) and the static HTML report."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from test_explorer import make_world
from test_explorer_from_evalset import ColourNet

from failwidgets.data import EvalSet
from failwidgets.session import (
    SESSION_VERSION,
    SessionMismatchError,
    _from_runs,
    _runs,
    read_session,
)
from failwidgets.widgets.explorer import Explorer


@pytest.fixture(scope="module")
def world():
    evalset, odd, embeddings, features = make_world()
    return dict(evalset=evalset, odd=odd, embeddings=embeddings, features=features)


def assets(world, tmp_path):
    return dict(
        features=world["features"],
        embeddings=world["embeddings"],
        classifier=ColourNet(),
        split="test",
        heldout_split="val",
        methods=["barlow", "prime", "directions"],
        progress=False,
        background=False,
        cache_dir=tmp_path / "cache",
        options={
            "barlow": {"depth": 1, "k": 3},
            "prime": {"a": 0.3, "min_support": 5},
            "directions": {"k": 20, "fit": {"n_jobs": 1}},
        },
    )


@pytest.fixture(scope="module")
def saved(world, tmp_path_factory):
    """An Explorer set up by a user, saved; and its path."""
    tmp = tmp_path_factory.mktemp("session")
    explorer = Explorer.from_evalset(world["evalset"], **assets(world, tmp))
    other = explorer.evalset.class_names[2]
    explorer.class_name = other
    explorer.set_threshold("barlow", "delta", 0.07)
    explorer.set_threshold("prime", "a", 0.25)
    explorer.table.sort_by = "size"
    explorer.table.ascending = True
    explorer.wait()
    mode = explorer.shown_modes[0]
    explorer.select_mode(mode)
    explorer.grid.selected = np.asarray(mode.members[:3])
    explorer.select_tab("prime")
    path = explorer.save(tmp / "session.json")
    yield dict(explorer=explorer, path=path, mode=mode, tmp=tmp, class_name=other)
    explorer.close()


def test_the_file_is_versioned_json_with_the_state(saved):
    state = read_session(saved["path"])
    assert state["format"] == "failwidgets-session" and state["version"] == SESSION_VERSION
    assert state["class_name"] == saved["class_name"]
    assert state["thresholds"]["barlow"]["delta"] == pytest.approx(0.07)
    assert state["thresholds"]["prime"]["a"] == pytest.approx(0.25)
    assert state["table"]["sort_by"] == "size" and state["table"]["ascending"] is True
    assert state["tab"] == "prime"
    assert state["selected_mode"]["description"] == saved["mode"].description
    assert len(state["table"]["modes"]) == len(saved["explorer"].shown_modes)


def test_load_restores_class_thresholds_selection_table_and_tab(world, saved):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        restored = Explorer.load(saved["path"], world["evalset"], **assets(world, saved["tmp"]))
    assert not [w for w in record if "session" in str(w.message)]
    try:
        before = saved["explorer"]
        assert restored.class_name == saved["class_name"]
        assert restored.thresholds() == before.thresholds()
        assert restored.table.sort_by == "size" and restored.table.ascending
        assert restored.selected_tab == "prime"
        mode = restored.selected_mode
        assert mode is not None and mode.description == saved["mode"].description
        np.testing.assert_array_equal(mode.members, np.sort(saved["mode"].members))
        np.testing.assert_array_equal(
            np.sort(restored.grid.selected), np.sort(saved["mode"].members[:3])
        )
        assert [m.description for m in restored.saved_modes] == [
            m.description for m in before.shown_modes
        ]
        for got, want in zip(restored.saved_modes, before.shown_modes):
            np.testing.assert_array_equal(got.members, np.sort(want.members))
        # the recomputed table equals the saved one: same data, same thresholds
        assert [m.description for m in restored.shown_modes] == [
            m.description for m in restored.saved_modes
        ]
    finally:
        restored.close()


def test_another_evalset_is_refused_with_a_clear_error(world, saved):
    es = world["evalset"]
    labels = es.labels.copy()
    labels[0] = (labels[0] + 1) % len(es.class_names)
    changed = EvalSet.from_arrays(
        es.images_at(np.arange(es.n)), labels, es.predictions, es.class_names, split=es.split
    )
    with pytest.raises(SessionMismatchError, match="evalset: this is not the EvalSet"):
        Explorer.load(saved["path"], changed, **assets(world, saved["tmp"]))
    smaller = EvalSet.from_arrays(
        es.images_at(np.arange(10)), es.labels[:10], es.predictions[:10], es.class_names
    )
    with pytest.raises(SessionMismatchError, match="saved with .* samples"):
        Explorer.load(saved["path"], smaller)


def test_bad_files_raise_errors_that_name_the_problem(tmp_path, saved, world):
    with pytest.raises(FileNotFoundError, match="path: no session file"):
        read_session(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a session file"):
        read_session(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a failwidgets session file"):
        read_session(tmp_path / "other.json")
    state = json.loads(saved["path"].read_text())
    state["version"] = SESSION_VERSION + 1
    (tmp_path / "newer.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="newer failwidgets"):
        read_session(tmp_path / "newer.json")
    with pytest.raises(TypeError, match="path: expected a file path"):
        saved["explorer"].save(3)
    with pytest.raises(ValueError, match="does not exist"):
        saved["explorer"].save(tmp_path / "no" / "such" / "s.json")


def test_an_unknown_threshold_is_warned_about_not_silently_dropped(world, saved, tmp_path):
    state = json.loads(saved["path"].read_text())
    state["thresholds"]["barlow"]["made_up"] = 1.0
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(state))
    with pytest.warns(UserWarning, match=r"not restored: threshold barlow\.made_up"):
        explorer = Explorer.load(path, world["evalset"], **assets(world, saved["tmp"]))
    explorer.close()


def test_selections_travel_as_runs():
    indices = np.array([5, 1, 2, 3, 9, 10, 2])
    runs = _runs(indices)
    assert runs == [[1, 4], [5, 6], [9, 11]]
    np.testing.assert_array_equal(_from_runs(runs, "x", 20), [1, 2, 3, 5, 9, 10])
    assert _runs(np.arange(1_000_000)) == [[0, 1_000_000]]
    with pytest.raises(ValueError, match="x: bad run"):
        _from_runs([[3, 2]], "x", 20)
    with pytest.raises(ValueError, match="x: bad run"):
        _from_runs([[0, 21]], "x", 20)


def test_the_report_is_one_self_contained_escaped_page(saved):
    explorer = saved["explorer"]
    path = explorer.to_html(saved["tmp"] / "report.html", thumbnails=4)
    text = path.read_text()
    frame = explorer.failure_modes()
    assert text.startswith("<!DOCTYPE html>")
    for method in set(frame["method"]):
        assert f"<h2>{method} " in text
    assert text.count("<tr><td>") == len(frame)
    n_thumbs = sum(min(4, len(m)) for m in frame["members"])
    assert text.count('src="data:image/jpeg;base64,') == n_thumbs
    assert not re.search(r'src="(?!data:)', text)  # nothing fetched
    assert "<svg" in text  # the drop chart
    size = path.stat().st_size
    assert size < 2_000_000, size


def test_report_text_from_the_data_is_escaped(world, tmp_path):
    es = world["evalset"]
    names = ["<b>cat</b>", "dog & co", "x<script>"]
    evil = EvalSet.from_arrays(
        es.images_at(np.arange(es.n)), es.labels, es.predictions, names, split=es.split
    )
    explorer = Explorer.from_evalset(
        evil, **{**assets(world, tmp_path), "methods": ["barlow", "directions"]}
    )
    try:
        text = explorer.to_html(tmp_path / "r.html", thumbnails=1).read_text()
        assert "<script>" not in text and "<b>cat</b>" not in text
        assert "&lt;b&gt;cat&lt;/b&gt;" in text or "&lt;b&gt;cat" in text
        bundle = explorer._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert "static copy" in bundle["text/html"] and "<script>" not in bundle["text/html"]
    finally:
        explorer.close()


def test_a_notebook_saved_without_widget_state_shows_the_static_summary(saved):
    """nbconvert (as GitHub, nbviewer and exports render) falls back to the text/html copy."""
    import nbformat
    from nbconvert import HTMLExporter

    bundle = saved["explorer"]._repr_mimebundle_()
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("explorer")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    notebook.cells = [cell]
    body, _ = HTMLExporter().from_notebook_node(notebook)
    assert "static copy: run the notebook to interact" in body
    assert saved["mode"].description.split(" ")[0] in body


def test_a_refresh_re_measures_only_new_rules(saved, monkeypatch):
    """Held-out drops are remembered per rule: an unchanged table costs no re-application."""
    import failwidgets.rules.heldout_cache as rules

    explorer = saved["explorer"]
    calls = []
    original = rules.with_heldout

    def counting(modes, *args, **kwargs):
        calls.append(len(modes))
        return original(modes, *args, **kwargs)

    monkeypatch.setattr(rules, "with_heldout", counting)
    explorer._modes._heldout = None
    first = explorer.failure_modes()
    measured = sum(calls)
    again = explorer.failure_modes()
    assert measured > 0 and sum(calls) == measured  # the second pass re-applied no rule
    assert first["heldout_drop"].equals(again["heldout_drop"])
    assert first["heldout_drop"].notna().any()
