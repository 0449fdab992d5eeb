"""What the Explorer hands to others: exported tables, saved sessions and static reports.

:class:`ExplorerSharing` is a mixin of :class:`~failwidgets.widgets.explorer.Explorer`: the
public methods that write or restore state (:meth:`export`, :meth:`save`, :meth:`load`,
:meth:`to_html`), the static HTML shown by front ends that have no kernel, and the state those
read (:attr:`shown_modes`, :attr:`table_scope`, :attr:`selected_tab`, :attr:`labels_path`).
The work is done in :mod:`failwidgets.modes`, :mod:`failwidgets.session` and
:mod:`failwidgets.report`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data import EvalSet
from ..modes import FailureMode, export_modes, frame_to_modes, import_modes, modes_to_frame

__all__ = ["ExplorerSharing"]


class ExplorerSharing:
    """Mixin: export, sessions and reports of an Explorer."""

    def export(self, path) -> Path:
        """Write :meth:`failure_modes` to ``path`` (``.csv`` or ``.parquet``); returns the path.

        Read it back with :meth:`Explorer.import_modes`.
        """
        frame = self.failure_modes()
        return export_modes(frame_to_modes(frame), path)

    @staticmethod
    def import_modes(path) -> pd.DataFrame:
        """Failure modes written by :meth:`export`, as the same DataFrame
        (:func:`~failwidgets.modes.frame_to_modes` turns it into FailureMode objects)."""
        return modes_to_frame(import_modes(path))

    @property
    def shown_modes(self) -> list[FailureMode]:
        """The failure modes the table shows now (its class or all classes)."""
        return list(self._last_modes)

    @property
    def table_scope(self) -> str:
        """What the failure-mode table lists: ``"class"`` (the selected class) or ``"all"``."""
        return self._table_scope.value

    @table_scope.setter
    def table_scope(self, value: str) -> None:
        if value not in ("class", "all"):
            raise ValueError(f"table_scope: expected 'class' or 'all', got {value!r}")
        self._table_scope.value = value

    @property
    def selected_tab(self) -> str:
        """The open tab: a view's name, or ``"table"`` for the failure-mode table."""
        names = list(self.views)
        index = self.tabs.selected_index
        return names[index] if index is not None and index < len(names) else "table"

    def select_tab(self, name: str) -> bool:
        """Open the tab of view ``name`` (or ``"table"``); False when there is no such tab."""
        names = list(self.views)
        if name == "table":
            self.tabs.selected_index = len(names)
            return True
        if name not in names:
            return False
        self.tabs.selected_index = names.index(name)
        return True

    @property
    def labels_path(self) -> Path | None:
        """Where the Defuse scenario labels are written (None without a scenario view)."""
        for view in self.views.values():
            path = getattr(view, "labels_path", None)
            if isinstance(path, (str, Path)):
                return Path(path)
        return None

    def save(self, path) -> Path:
        """Save this session (class, thresholds, selection, table, tab, labels location) to
        ``path`` as versioned JSON; :meth:`Explorer.load` restores it. Returns the path."""
        from ..session import save_session

        return save_session(self, path)

    @classmethod
    def load(cls, path, evalset: EvalSet, **assets):
        """Rebuild the Explorer of a saved session for ``evalset`` and restore its state.

        ``**assets`` are :meth:`from_evalset`'s arguments (the same model, features,
        embeddings, tags... as when it was saved). The EvalSet must be the session's one
        (same samples, labels, predictions and images), else
        :class:`~failwidgets.session.SessionMismatchError` says what differs. The table as
        saved is in ``saved_modes``; what could not be restored is warned about.
        """
        from ..session import load_session

        return load_session(path, evalset, cls.from_evalset, **assets)

    def to_html(self, path, thumbnails: int = 8) -> Path:
        """Write a self-contained HTML report of every method's failure modes (descriptions,
        figures, held-out drop, thumbnails of members), readable with no kernel."""
        from ..report import write_report

        return write_report(self, path, thumbnails=thumbnails)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):  # a static summary for front ends with no kernel
            from ..report import summary_html

            try:
                bundle["text/html"] = summary_html(self)
            except Exception:  # never let the fallback break the widget's display
                pass
        return bundle
