"""Property-based attack on the views' browser interfaces (issue 14).

Every anywidget of the grid, the mode table and the concept-map, scenario, lattice, tree and
directions views receives state (``set_state``, as the comm delivers it) and custom messages
from the browser, and the views' traits are set from Python (the Explorer, the user). Random
sequences of JSON-like messages, states and assignments, mixed with valid ones, must give:

- a message: either an answer ``{"type": "error"}`` (or ``label_refused``) with nothing
  changed, or the effect of a valid message; never an exception out of the handler;
- a state or an assignment: either a ``TraitError`` naming the trait with nothing changed, or
  the new valid state;
- after every step, no stored value that its validator would refuse.

An oracle written here, independently of the widgets' checks, says which inputs are valid, so
a refused valid input and an accepted invalid one (a silent result) both fail. The counts of
cases tried, refused with an error and applied are printed at the end (``pytest -s``).
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import torch
import traitlets
from conftest import make_small_evalset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failwidgets.methods.prime import MAX_SET_SIZE
from failwidgets.modes import FailureMode
from failwidgets.widgets.grid import SELECT_MODES, SORT_MODES, ImageGrid
from failwidgets.widgets.mode_table import SORT_COLUMNS, ModeTable

torch.set_num_threads(1)

SETTINGS = settings(
    deadline=None,
    derandomize=True,  # the same cases on every run: a CI failure is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TALLY: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    widgets = sorted({name for name, _ in TALLY})
    lines = [
        f"{name:>22}: tried {TALLY[name, 'tried']:5d}, refused with an error "
        f"{TALLY[name, 'refused']:5d}, applied {TALLY[name, 'applied']:5d}"
        for name in widgets
    ]
    tried = sum(TALLY[name, "tried"] for name in widgets)
    refused = sum(TALLY[name, "refused"] for name in widgets)
    applied = sum(TALLY[name, "applied"] for name in widgets)
    print("\nwidget property suite (silent results: 0, or a test above failed)")
    print("\n".join(lines))
    print(json.dumps({"tried": tried, "refused": refused, "applied": applied, "silent": 0}))


# ---------------------------------------------------------------------- strategies
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has no NaN: the browser sends null
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def maybe(valid):
    """Mostly a valid value, else anything JSON can carry."""
    return st.one_of(valid, valid, valid, JSON)


@st.composite
def message(draw, kind: str, fields: dict, junk_types=("zoom", "")):
    """A message of ``kind`` whose fields are each present or missing, valid or not; or junk."""
    # (hypothesis favours small draws: the well-formed message is the one at 0)
    roll = draw(st.integers(0, 15))
    if roll == 15:
        return draw(JSON)  # not even an object, mostly
    if roll == 14:
        return {"type": draw(st.sampled_from(junk_types) | JSON), **draw(st.dictionaries(
            st.text(max_size=6), JSON, max_size=2))}  # fmt: skip
    content = {"type": kind}
    for name, strategy in fields.items():
        if draw(st.integers(0, 11)) < 11:  # a field is sometimes missing
            content[name] = draw(strategy)
    return content


def json_int(value) -> bool:
    """An integer as JSON gives it (``True`` is not one)."""
    return type(value) is int


def request_id_ok(value) -> bool:
    return value is None or json_int(value) or (isinstance(value, str) and len(value) <= 200)


# ---------------------------------------------------------------------- checks shared by all
def plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return repr(value)


def frozen(*values) -> str:
    """A comparable picture of a state (NaN-safe)."""
    return json.dumps(values, sort_keys=True, default=plain)


def own_state(widget) -> dict:
    """The widget's own synced traits (not the anywidget base class's)."""
    from failwidgets.widgets.guard import _ANYWIDGET_KEYS

    return {name: getattr(widget, name) for name in widget.keys if name not in _ANYWIDGET_KEYS}


def assert_valid(*objects) -> None:
    """No stored value that its validator would refuse (or change)."""
    for obj in objects:
        for name in obj._trait_validators:
            value = getattr(obj, name)
            again = obj.traits()[name]._cross_validate(obj, value)
            assert frozen(again) == frozen(value), f"{type(obj).__name__}.{name} = {value!r}"


def listen(widget) -> list:
    """Record what ``widget`` sends to the browser: (content, buffers) pairs and resent states."""
    sent: list = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    widget.send_state = lambda key=None: sent.append(({"type": "__state__", "keys": key}, None))
    return sent


def tally(name: str, refused: bool) -> None:
    TALLY[name, "tried"] += 1
    TALLY[name, "refused" if refused else "applied"] += 1


def run_message(name, widget, handler, sent, content, valid, snapshot, check=()):
    """One browser message: nothing escapes; refused exactly when invalid; refused = unchanged."""
    before = snapshot()
    n = len(sent)
    handler(widget, content, [])
    replies = [reply for reply in sent[n:] if reply[0].get("type") != "__state__"]
    refused = [c for c, _ in replies if c.get("type") in ("error", "label_refused")]
    assert bool(refused) == (not valid), (content, [c for c, _ in replies][:2])
    if refused:
        assert len(replies) == 1 and replies[0][1] is None
        assert isinstance(refused[0]["error"], str) and refused[0]["error"]
        assert snapshot() == before, content
    else:
        for assertion in check:
            assertion(content, replies)
    tally(name, bool(refused))
    return replies


def run_state(name, widget, state, valid, snapshot, *objects):
    """One update from the browser: a TraitError naming a trait with nothing kept, or valid."""
    before = snapshot()
    try:
        widget.set_state(state)
    except traitlets.TraitError as error:
        assert not valid, (state, error)
        assert snapshot() == before, state
        text = str(error)
        assert text.startswith("state:") or any(str(key) in text for key in state), text
        tally(name, True)
    else:
        assert valid, state
        tally(name, False)
    assert_valid(widget, *objects)


def run_assign(name, obj, trait, value, valid, snapshot, *objects):
    """One Python-side assignment: a TraitError naming the trait with nothing changed, or valid."""
    before = snapshot()
    try:
        setattr(obj, trait, value)
    except traitlets.TraitError as error:
        assert not valid, (trait, value, error)
        assert trait in str(error), error
        assert snapshot() == before, (trait, value)
        tally(name, True)
    else:
        assert valid, (trait, value)
        tally(name, False)
    assert_valid(obj, *objects)


def state_strategy(valid: dict, kernel: dict):
    """A state dict naming some traits (browser-settable or the kernel's) and unknown keys."""
    keys = st.sampled_from([*valid, *kernel, "no_such_trait"])
    strategies = {**valid, **kernel, "no_such_trait": JSON}
    states = st.lists(keys, unique=True, min_size=1, max_size=3).flatmap(
        lambda names: st.fixed_dictionaries({k: maybe(strategies[k]) for k in names})
    )
    return states | states | states | st.lists(JSON, max_size=2)  # sometimes not even a dict


# ---------------------------------------------------------------------- ImageGrid
GRID_KERNEL = {
    "total": st.integers(0, 100),
    "has_scores": st.booleans(),
    "n_incorrect": st.integers(0, 5),
    "title": st.text(max_size=5),
    "_data_version": st.integers(0, 5),
}


@pytest.fixture(scope="module")
def small():
    return make_small_evalset(n=24, size=8)


def grid_state_valid(grid: ImageGrid, state) -> bool:
    if not isinstance(state, dict):
        return False
    n = grid.evalset.n
    rules = {
        "page": lambda v: json_int(v) and v >= 0,  # past the end: the last page
        "page_size": lambda v: json_int(v) and 1 <= v <= 1000,
        "thumb_size": lambda v: json_int(v) and 16 <= v <= 512,
        "sort": lambda v: (
            isinstance(v, str) and v in SORT_MODES and (v == "none" or grid.scores is not None)
        ),
        "selected": lambda v: isinstance(v, list) and all(json_int(i) and 0 <= i < n for i in v),
    }
    return all(
        key not in grid.keys or (key in rules and rules[key](value)) for key, value in state.items()
    )


def grid_message_valid(grid: ImageGrid, content) -> bool:
    if not isinstance(content, dict):
        return False
    if content.get("type") == "page":
        return json_int(content.get("page")) and request_id_ok(content.get("request_id"))
    if content.get("type") != "select":
        return False
    mode = content.get("mode")
    if not (isinstance(mode, str) and mode in SELECT_MODES):
        return False
    if mode == "clear":
        return True
    position, index = content.get("position"), content.get("index")
    if not (json_int(position) and json_int(index) and 0 <= position < grid.total):
        return False
    return int(grid.display_indices()[position]) == index


def grid_steps(total: int, n: int):
    position = st.integers(-2, total + 1)
    click = message(
        "select",
        {
            "mode": st.sampled_from(SELECT_MODES) | JSON,
            "position": maybe(position),
            "index": st.just("AT") | maybe(st.integers(-1, n)),  # "AT": the sample shown there
        },
    )
    page = message(
        "page", {"page": maybe(st.integers(-2, 6)), "request_id": maybe(st.text(max_size=8))}
    )
    state = state_strategy(
        {
            "page": st.integers(-1, 8),
            "page_size": st.sampled_from([0, 1, 5, 1000, 1001]),
            "thumb_size": st.integers(0, 600),
            "sort": st.sampled_from(SORT_MODES),
            "selected": st.lists(st.integers(-1, n), max_size=4),
        },
        GRID_KERNEL,
    )
    return st.lists(
        st.tuples(st.just("message"), click | page) | st.tuples(st.just("state"), state),
        min_size=1,
        max_size=8,
    )


def grid_snapshot(grid):
    return lambda: frozen(own_state(grid), grid.indices, grid._content.anchor)


def check_page_reply(grid):
    def check(content, replies):
        if content.get("type") != "page":
            return
        ((reply, buffers),) = replies
        assert reply["type"] == "page"
        assert reply["page"] == min(max(0, content["page"]), grid.n_pages - 1)
        assert len(buffers) == sum(item["buffer"] >= 0 for item in reply["items"])
        shown = grid.page_indices(reply["page"]).tolist()
        assert [item["index"] for item in reply["items"]] == shown

    return check


@settings(SETTINGS, max_examples=120)
@given(data=st.data(), with_scores=st.booleans())
def test_image_grid_messages_and_state(small, data, with_scores):
    rng = np.random.default_rng(0)
    indices = np.r_[np.arange(small.n)[::-1], [3, 3, 5]]
    scores = rng.normal(size=len(indices)) if with_scores else None
    if scores is not None:
        scores[::5] = np.nan
    grid = ImageGrid(small, indices, scores, page_size=7, thumb_size=16)
    sent = listen(grid)
    snapshot = grid_snapshot(grid)
    for kind, step in data.draw(grid_steps(len(indices), small.n)):
        if kind == "state":
            run_state("ImageGrid state", grid, step, grid_state_valid(grid, step), snapshot)
            continue
        if isinstance(step, dict) and step.get("index") == "AT":
            position = step.get("position")
            inside = json_int(position) and 0 <= position < grid.total
            step["index"] = int(grid.display_indices()[position]) if inside else 0
        run_message(
            "ImageGrid message",
            grid,
            grid._on_message,
            sent,
            step,
            grid_message_valid(grid, step),
            snapshot,
            check=[check_page_reply(grid)],
        )
        assert_valid(grid)


# ---------------------------------------------------------------------- ModeTable
def table_modes() -> list[FailureMode]:
    return [
        FailureMode("prime", "cat", "A + B", np.array([1, 2, 3]), 0.2, 0.5),
        FailureMode("barlow", "dog", "x > 1", np.array([4, 5]), 0.4, float("nan")),
        FailureMode("ces", "cat", "<b>red</b>", np.array([6]), 0.1, 0.7, 0.3),
    ]


@settings(SETTINGS, max_examples=120)
@given(data=st.data())
def test_mode_table_messages_and_state(data):
    table = ModeTable(table_modes())
    clicked = []
    table.on_select(clicked.append)
    sent = listen(table)

    def snapshot():
        return frozen(own_state(table), len(clicked))

    select = message("select", {"id": maybe(st.integers(-1, 3))})
    state = state_strategy(
        {"sort_by": st.sampled_from(SORT_COLUMNS), "ascending": st.booleans()},
        {
            "rows": st.just([]),
            "selected_id": st.integers(-2, 5),
            "class_name": st.text(max_size=4),
            "caption": st.text(max_size=4),
            "busy": st.booleans(),
            "agreement": st.just({}),
        },
    )
    steps = st.tuples(st.just("message"), select) | st.tuples(st.just("state"), state)
    for kind, step in data.draw(st.lists(steps, min_size=3, max_size=8)):
        if kind == "state":
            valid = table_state_valid(table, step)
            run_state("ModeTable state", table, step, valid, snapshot)
        else:
            valid = (
                isinstance(step, dict)
                and step.get("type") == "select"
                and json_int(step.get("id"))
                and 0 <= step["id"] < 3
            )
            n = len(clicked)
            run_message("ModeTable message", table, table._on_message, sent, step, valid, snapshot)
            if valid:
                assert len(clicked) == n + 1 and table.selected_id == step["id"]
        # what the failed sort_by="nope" used to break
        frame = table.frame()
        assert len(frame) == 3 and table.selected_mode in (None, *table.modes)


def table_state_valid(table: ModeTable, state) -> bool:
    if not isinstance(state, dict):
        return False
    rules = {
        "sort_by": lambda v: isinstance(v, str) and v in SORT_COLUMNS,
        # traitlets' Bool takes 0 and 1 for False and True
        "ascending": lambda v: type(v) is bool or (json_int(v) and v in (0, 1)),
    }
    return all(
        key not in table.keys or (key in rules and rules[key](value))
        for key, value in state.items()
    )


# ---------------------------------------------------------------------- LatticeView
@pytest.fixture(scope="module")
def lattice_world():
    from test_lattice_view import planted_evalset

    from failwidgets.methods.prime import Prime

    evalset = planted_evalset()
    return evalset, Prime(min_support=10).fit(evalset, evalset.metadata).result_


FRACTION = st.floats(-0.5, 1.5) | st.sampled_from([0, 1, 0.3])


@settings(SETTINGS, max_examples=50)
@given(data=st.data())
def test_lattice_view_messages_state_and_thresholds(lattice_world, data):
    from failwidgets.widgets.lattice import LatticeView

    evalset, result = lattice_world
    view = LatticeView(evalset, result=result, a=0.3, max_context=2, max_nodes=12, background=False)
    canvas = view.canvas
    sent = listen(canvas)
    selections = []
    view.on_select(selections.append)
    rows = [node["row"] for node in canvas.graph["nodes"]]

    def snapshot():
        return frozen(
            own_state(canvas),
            view.thresholds(),
            view.class_name,
            view.selected_tags,
            view.selected_members,
            view.grid.indices,
            view.grid.title,
            len(selections),
        )

    select = message("select", {"row": st.sampled_from(rows) | maybe(st.integers(-1, 10**6))})
    state = state_strategy(
        {"query": st.text(max_size=4)},
        {"graph": st.just({"nodes": [{"row": 10**6}]}), "selected_row": st.integers(-1, 9)},
    )
    assignment = st.one_of(
        st.tuples(st.sampled_from(["a", "b2", "b3", "b4"]), maybe(FRACTION)),
        st.tuples(st.just("s"), maybe(st.integers(0, 40))),
        st.tuples(st.just("max_size"), maybe(st.integers(0, MAX_SET_SIZE + 1))),
        st.tuples(st.just("class_name"), maybe(st.sampled_from(["square", "circle", "hexagon"]))),
    )
    steps = (
        st.tuples(st.just("message"), select)
        | st.tuples(st.just("state"), state)
        | st.tuples(st.just("assign"), assignment)
    )
    for kind, step in data.draw(st.lists(steps, min_size=3, max_size=8)):
        if kind == "message":
            drawn = {node["row"] for node in canvas.graph["nodes"]}
            valid = (
                isinstance(step, dict)
                and step.get("type") == "select"
                and json_int(step.get("row"))
                and step["row"] in drawn
            )
            run_message(
                "LatticeView message", canvas, canvas._on_message, sent, step, valid, snapshot
            )
        elif kind == "state":
            valid = isinstance(step, dict) and all(
                key not in canvas.keys or (key == "query" and isinstance(value, str))
                for key, value in step.items()
            )
            run_state("LatticeView state", canvas, step, valid, snapshot, view)
        else:
            trait, value = step
            real = isinstance(value, (int, float)) and not isinstance(value, bool)
            valid = {
                "s": json_int(value) and value >= result.min_support,
                "max_size": json_int(value) and 1 <= value <= MAX_SET_SIZE,
                "class_name": value is None
                or (isinstance(value, str) and value in ("square", "circle"))
                or (json_int(value) and 0 <= value < 2),
            }.get(trait, real and 0 <= value <= 1)
            run_assign("LatticeView assignment", view, trait, value, valid, snapshot, canvas)
        assert_valid(view, canvas, view.grid)


# ---------------------------------------------------------------------- TreeView
@pytest.fixture(scope="module")
def tree_world():
    from test_tree_view import planted_evalset

    return planted_evalset()  # 600 images, classes cat / dog / an XSS-like name, 12 features


def rule_features(tree: dict, node: int) -> list[int]:
    """Features on the path to ``node`` and of its own split, read off the drawn tree."""
    nodes = {n["id"]: n for n in tree["nodes"]}
    path, at = [], nodes[node]
    while at["parent"] >= 0:
        path.append(at["edge"]["feature"])
        at = nodes[at["parent"]]
    features = path[::-1] + ([nodes[node]["feature"]] if nodes[node]["feature"] >= 0 else [])
    return list(dict.fromkeys(features))


@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_tree_view_messages_state_and_settings(tree_world, data):
    from failwidgets.methods.barlow import GROUPINGS
    from failwidgets.widgets.tree import MAX_DEPTH, TreeView

    evalset, features = tree_world
    n_features = features.shape[1]
    view = TreeView(evalset, features, class_name="cat", depth=2, k=4, background=False)
    canvas = view.canvas
    sent = listen(canvas)
    selections = []
    view.on_select(selections.append)
    names = list(evalset.class_names)

    def snapshot():
        return frozen(
            own_state(canvas),
            {t: getattr(view, t) for t in view._trait_validators},
            view.selected_node,
            view.selected_members,
            view.visual,
            view.grid.indices,
            view.grid.title,
            len(selections),
        )

    def drawn() -> list[int]:
        return [node["id"] for node in canvas.tree["nodes"]]

    select = message("select", {"node": st.just("DRAWN") | maybe(st.integers(-1, 9))})
    feature = message("feature", {"feature": maybe(st.integers(-1, n_features))})
    request = message("visual-request", {})
    state = state_strategy(
        {}, {"tree": st.just({"status": "ok", "nodes": []}), "selected_node": st.integers(-2, 9)}
    )
    assignment = st.one_of(
        st.tuples(st.just("class_name"), maybe(st.sampled_from([*names, 0, 1, 3, "bird"]))),
        st.tuples(st.just("grouping"), maybe(st.sampled_from([*GROUPINGS, "labels"]))),
        st.tuples(st.sampled_from(["delta", "tau"]), maybe(FRACTION)),
        st.tuples(st.just("depth"), maybe(st.integers(0, MAX_DEPTH + 1))),
        st.tuples(st.just("k"), maybe(st.integers(0, n_features + 1))),
    )
    steps = (
        st.tuples(st.just("message"), select | feature | request)
        | st.tuples(st.just("state"), state)
        | st.tuples(st.just("assign"), assignment)
    )

    def check_reply(content, replies):
        kind = content["type"]
        if kind == "visual-request":
            ((reply, _),) = replies
            assert reply["type"] == "visual" and reply == view.visual
        elif kind == "select":
            assert view.selected_node == canvas.selected_node == content["node"]
            assert selections and selections[-1].members.tolist() == view.selected_members.tolist()
        else:
            assert view.visual["feature"] == content["feature"]

    for kind, step in data.draw(st.lists(steps, min_size=3, max_size=8)):
        if kind == "message":
            if isinstance(step, dict) and step.get("node") == "DRAWN":
                step["node"] = data.draw(st.sampled_from(drawn())) if drawn() else 0
            node = view.selected_node
            valid = isinstance(step, dict) and (
                step.get("type") == "visual-request"
                or (
                    step.get("type") == "select"
                    and json_int(step.get("node"))
                    and step["node"] in drawn()
                )
                or (
                    step.get("type") == "feature"
                    and json_int(step.get("feature"))
                    and node is not None
                    and step["feature"] in rule_features(canvas.tree, node)
                )
            )
            run_message(
                "TreeView message",
                canvas,
                canvas._on_message,
                sent,
                step,
                valid,
                snapshot,
                check=[check_reply],
            )
        elif kind == "state":
            valid = isinstance(step, dict) and all(key not in canvas.keys for key in step)
            run_state("TreeView state", canvas, step, valid, snapshot, view)
        else:
            trait, value = step
            real = isinstance(value, (int, float)) and not isinstance(value, bool)
            valid = {
                "class_name": (isinstance(value, str) and value in names)
                or (json_int(value) and 0 <= value < len(names)),
                "grouping": isinstance(value, str) and value in GROUPINGS,
                "depth": json_int(value) and 1 <= value <= MAX_DEPTH,
                "k": json_int(value) and 1 <= value <= n_features,
            }.get(trait, real and 0 <= value <= 1)
            run_assign("TreeView assignment", view, trait, value, valid, snapshot, canvas)
        assert_valid(view, canvas, view.grid)
        json.dumps(canvas.tree)
    view.close()


# ---------------------------------------------------------------------- ScenarioView
@pytest.fixture(scope="module")
def scenario_world():
    from test_scenario_view import CLASS_NAMES, MeanColour, colour_world

    from failwidgets.data import EvalSet
    from failwidgets.methods.defuse import Defuse
    from failwidgets.methods.vae import BetaVAE, VAEConfig

    images, labels = colour_world(n=60)
    classifier = MeanColour().eval()
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        predictions = classifier(x).argmax(1).numpy()
    evalset = EvalSet.from_arrays(images, labels, predictions, CLASS_NAMES)
    torch.manual_seed(0)
    vae = BetaVAE(VAEConfig(image_size=8, latent_dim=3, channels=8, hidden=16))
    defuse = Defuse(vae, classifier, n_samples=6, max_per_image=2, max_components=6, progress=False)
    defuse.fit(evalset.images_at(np.arange(evalset.n)), evalset.labels)
    assert len(defuse.scenarios_) >= 2
    return evalset, classifier, vae, defuse


def label_valid(content, ids, class_names) -> bool:
    if not json_int(content.get("id")) or content["id"] not in ids:
        return False
    fields = {k: content[k] for k in ("is_failure", "correct_label") if k in content}
    if not fields:
        return False
    is_failure = fields.get("is_failure")
    if not (is_failure is None or type(is_failure) is bool):
        return False
    label = fields.get("correct_label")
    return (
        label is None
        or (json_int(label) and 0 <= label < len(class_names))
        or (isinstance(label, str) and label in class_names)
    )


@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_scenario_view_messages_state_and_settings(scenario_world, tmp_path_factory, data):
    from failwidgets.widgets.scenarios import ScenarioView

    evalset, classifier, vae, defuse = scenario_world
    path = tmp_path_factory.mktemp("labels") / "labels.json"
    view = ScenarioView(
        evalset, classifier, vae, defuse=defuse, labels_path=path, split=None, background=False
    )
    canvas = view.canvas
    sent = listen(canvas)
    ids = list(defuse.scenarios_.ids)
    names = list(evalset.class_names)

    def snapshot():
        return frozen(
            own_state(canvas),
            view.tau,
            view.class_name,
            view.sample_version,
            view.selected_scenario,
            view.selected_members,
            view.labels.items(),
            view.grid.indices,
            view.grid.title,
        )

    some_id = st.sampled_from(ids) | maybe(st.integers(-1, 9))
    strips = message(
        "strips",
        {
            "ids": maybe(st.lists(st.sampled_from(ids), max_size=len(ids)))
            | st.lists(some_id, max_size=len(ids) + 2)
            | st.lists(st.sampled_from(ids), min_size=2000, max_size=2000),
            "request_id": maybe(st.text(max_size=6)),
        },
    )
    select = message("select", {"id": some_id})
    label = message(
        "label",
        {
            "id": some_id,
            "is_failure": maybe(st.sampled_from([True, False, None])),
            "correct_label": maybe(st.sampled_from([*names, 0, 2, 3, -1, "purple", None])),
        },
    )
    state = state_strategy({}, {"view_model": st.just({"rows": []}), "selected": st.integers()})
    assignment = st.tuples(st.just("tau"), maybe(st.floats(-0.5, 1.5))) | st.tuples(
        st.just("class_name"), maybe(st.sampled_from([None, *names, "purple"]))
    )
    steps = (
        st.tuples(st.just("message"), strips | select | label)
        | st.tuples(st.just("state"), state)
        | st.tuples(st.just("assign"), assignment)
    )

    def check_strips(content, replies):
        if content.get("type") != "strips":
            return
        ((reply, buffers),) = replies
        wanted = [i for i in dict.fromkeys(content["ids"]) if i in ids]
        assert [strip["id"] for strip in reply["strips"]] == wanted
        assert len(buffers) == len(wanted) * view.n_samples_shown

    for kind, step in data.draw(st.lists(steps, min_size=3, max_size=6)):
        if kind == "message":
            valid = isinstance(step, dict) and (
                (
                    step.get("type") == "strips"
                    and isinstance(step.get("ids"), list)
                    and all(json_int(i) for i in step["ids"])
                    and len(step["ids"]) <= len(ids)
                    and request_id_ok(step.get("request_id"))
                )
                or (step.get("type") == "select" and json_int(step.get("id")) and step["id"] in ids)
                or (step.get("type") == "label" and label_valid(step, ids, names))
            )
            run_message(
                "ScenarioView message",
                canvas,
                canvas._on_message,
                sent,
                step,
                valid,
                snapshot,
                check=[check_strips],
            )
        elif kind == "state":
            valid = isinstance(step, dict) and all(key not in canvas.keys for key in step)
            run_state("ScenarioView state", canvas, step, valid, snapshot, view)
        else:
            trait, value = step
            if trait == "tau":
                real = isinstance(value, (int, float)) and not isinstance(value, bool)
                valid = real and 0 < value <= 1
            else:
                valid = value is None or (isinstance(value, str) and value in names)
            run_assign("ScenarioView assignment", view, trait, value, valid, snapshot, canvas)
        assert_valid(view, canvas, view.grid)
        json.dumps(canvas.view_model)


# ---------------------------------------------------------------------- ConceptMapView
@pytest.fixture(scope="module")
def concept_world():
    from test_concept_map_view import COLOURS, SIZE, XSS, Top, bottom, make_world

    from failwidgets.features.split import SplitModel
    from failwidgets.methods.ces import ConceptExplainer, ConceptSet, learn_concept_bank

    evalset, _ = make_world()
    split = SplitModel.from_callables(bottom, Top(), layer="pool", input_size=(3, SIZE, SIZE))
    concepts = ConceptSet.from_evalset(
        evalset, [*COLOURS, "bright", XSS], indices=evalset.split_indices("train"), max_examples=20
    )
    bank = learn_concept_bank(split, concepts, min_accuracy=0.0)
    return evalset, ConceptExplainer(split, bank, delta=0.3)


@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_concept_map_view_messages_state_and_settings(concept_world, data):
    from failwidgets.widgets.concept_map import DIRECTIONS, ConceptMapView

    evalset, explainer = concept_world
    view = ConceptMapView(evalset, explainer, background=False)
    panel, grid = view.panel, view.grid
    sent = listen(panel)
    listen(grid)
    bank_names = list(view.bank.names)
    names = list(evalset.class_names)
    n = evalset.n

    def snapshot():
        return frozen(
            own_state(panel),
            {t: getattr(view, t) for t in view._trait_validators},
            view.explained,
            view.selected_concept,
            view.selected_members,
            own_state(grid),
            grid.indices,
        )

    concept = message(
        "concept",
        {
            "index": st.just("AT") | maybe(st.integers(-1, len(bank_names))),
            "name": maybe(st.sampled_from([*bank_names, "zebra"])),
        },
        junk_types=("show_explained", "zoom"),
    )
    panel_state = state_strategy({}, {"view_model": st.just({}), "busy": st.booleans()})
    grid_state = state_strategy({"selected": st.lists(st.integers(-1, n), max_size=5)}, {})
    assignment = st.one_of(
        st.tuples(st.just("class_name"), maybe(st.sampled_from([*names, "zebra"]))),
        st.tuples(st.just("target"), maybe(st.sampled_from([None, *names, 0, 2, 3, -1, "x"]))),
        st.tuples(st.just("delta"), maybe(st.sampled_from([0.3, 1e3, 0, -1, 1e-3]))),
        st.tuples(st.just("direction"), maybe(st.sampled_from([*DIRECTIONS, "both"]))),
        st.tuples(st.just("embedding"), maybe(st.sampled_from(["pca", "tsne", "umap"]))),
        st.tuples(st.sampled_from(["n_labels", "n_bars"]), maybe(st.integers(-1, 6))),
    )
    steps = (
        st.tuples(st.just("message"), concept)
        | st.tuples(st.just("panel state"), panel_state)
        | st.tuples(st.just("grid state"), grid_state)
        | st.tuples(st.just("assign"), assignment)
    )
    for kind, step in data.draw(st.lists(steps, min_size=3, max_size=6)):
        if kind == "message":
            if isinstance(step, dict) and step.get("index") == "AT":
                name = step.get("name")
                step["index"] = bank_names.index(name) if name in bank_names else 0
            valid = isinstance(step, dict) and (
                step.get("type") == "show_explained"
                or (
                    step.get("type") == "concept"
                    and json_int(step.get("index"))
                    and 0 <= step["index"] < len(bank_names)
                    and bank_names[step["index"]] == step.get("name")
                )
            )
            run_message(
                "ConceptMapView message", panel, view._on_panel_message, sent, step, valid, snapshot
            )
        elif kind == "panel state":
            valid = isinstance(step, dict) and all(key not in panel.keys for key in step)
            run_state("ConceptMapView state", panel, step, valid, snapshot, view)
        elif kind == "grid state":
            valid, previous = grid_state_valid(grid, step), grid.selected.tolist()
            run_state("ConceptMapView grid state", grid, step, valid, snapshot, view)
            if valid and len(grid.selected) and grid.selected.tolist() != previous:
                # a selection in the grid becomes the explained set
                assert view.explained.tolist() == grid.selected.tolist()
        else:
            trait, value = step
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            valid = {
                "class_name": isinstance(value, str) and value in names,
                "target": value is None
                or (json_int(value) and 0 <= value < len(names))
                or (isinstance(value, str) and value in names),
                "delta": number and math.isfinite(value) and value > 0,
                "direction": isinstance(value, str) and value in DIRECTIONS,
                "embedding": isinstance(value, str)
                and (value == "pca" or (value == "tsne" and len(bank_names) >= 4)),
                "n_labels": json_int(value) and value >= 0,
                "n_bars": json_int(value) and value >= 1,
            }[trait]
            run_assign("ConceptMapView assignment", view, trait, value, valid, snapshot, panel)
        assert_valid(view, panel, grid)
        json.dumps(panel.view_model)
    view.close()


# ---------------------------------------------------------------------- DirectionsView
@pytest.fixture(scope="module")
def directions_world():
    from test_directions_view import CLASS_NAMES, WORDS, PlantedTextEncoder, planted

    from failwidgets.methods.directions import FailureDirectionsResult

    world = planted()
    es = world["evalset"]
    result = FailureDirectionsResult.from_arrays(
        world["X"],
        es.labels,
        es.correct,
        es.split,
        CLASS_NAMES,
        text_encoder=PlantedTextEncoder(world["u"]),
        caption_words=WORDS,
        n_jobs=1,
    )
    return es, result


@settings(SETTINGS, max_examples=50)
@given(data=st.data())
def test_directions_view_messages_state_and_settings(directions_world, data):
    from failwidgets.widgets.directions import SIDES, DirectionsView

    evalset, result = directions_world
    view = DirectionsView(evalset, result, k=5, n_captions=3)
    panel = view.panel
    sent = listen(panel)
    names = list(result.class_names)
    selections = []
    view.on_select(selections.append)

    def snapshot():
        return frozen(
            own_state(panel),
            view.class_name,
            view.k,
            view.n_captions,
            view.selected_members,
            view.grid.indices,
            view.grid.title,
            view.chart.marks[0].selected,
            len(selections),
        )

    caption = message(
        "caption",
        {
            "side": maybe(st.sampled_from(SIDES)),
            "rank": maybe(st.integers(-1, 4)),
            "caption": st.just("AT") | maybe(st.text(max_size=6)),
        },
        junk_types=("tail", "zoom"),
    )
    panel_state = state_strategy({}, {"view_model": st.just({"hard": []})})
    assignment = st.one_of(
        st.tuples(st.just("class_name"), maybe(st.sampled_from([*names, "dog"]))),
        st.tuples(st.sampled_from(["k", "n_captions"]), maybe(st.integers(-1, 30))),
    )
    bars = st.lists(st.integers(-2, len(names) + 1) | st.sampled_from([0.0, 1.0, 0.5]), max_size=2)
    steps = (
        st.tuples(st.just("message"), caption)
        | st.tuples(st.just("state"), panel_state)
        | st.tuples(st.just("assign"), assignment)
        | st.tuples(st.just("bars"), bars)
    )
    for kind, step in data.draw(st.lists(steps, min_size=3, max_size=6)):
        if kind == "message":
            listed = {side: view.captions(side)["caption"].tolist() for side in SIDES}
            if isinstance(step, dict) and step.get("caption") == "AT":
                side, rank = step.get("side"), step.get("rank")
                ok = side in SIDES and json_int(rank) and 0 <= rank < len(listed[side])
                step["caption"] = listed[side][rank] if ok else "a photo"
            valid = isinstance(step, dict) and (
                (step.get("type") == "tail" and view.skipped_reason is None)
                or (
                    step.get("type") == "caption"
                    and isinstance(step.get("side"), str)
                    and step["side"] in SIDES
                    and json_int(step.get("rank"))
                    and 0 <= step["rank"] < len(listed[step["side"]])
                    and listed[step["side"]][step["rank"]] == step.get("caption")
                )
            )
            run_message(
                "DirectionsView message", panel, view._on_panel_message, sent, step, valid, snapshot
            )
        elif kind == "state":
            valid = isinstance(step, dict) and all(key not in panel.keys for key in step)
            run_state("DirectionsView state", panel, step, valid, snapshot, view)
        elif kind == "bars":
            # the chart's selection comes from the browser (bqplot): a bar that does not exist
            # changes nothing; an existing one selects its class
            before = view.class_name
            view.chart.marks[0].selected = step
            last = step[-1] if step else None
            exists = last is not None and float(last).is_integer() and 0 <= last < len(names)
            assert view.class_name == (names[int(last)] if exists else before)
            assert list(view.chart.marks[0].selected) == [view.class_index]
            tally("DirectionsView chart", not exists)
        else:
            trait, value = step
            valid = {
                "class_name": isinstance(value, str) and value in names,
                "k": json_int(value) and value >= 1,
                "n_captions": json_int(value) and value >= 1,
            }[trait]
            run_assign("DirectionsView assignment", view, trait, value, valid, snapshot, panel)
        assert_valid(view, panel, view.grid)
        json.dumps(panel.view_model)
