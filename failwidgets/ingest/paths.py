"""Image paths that must stay under a root folder.

Policy (used by ``EvalSet.from_folder`` and ``EvalSet.from_dataframe(root=...)``):

- a path is relative to ``root``; an absolute path, or one whose ``..`` parts lead out of
  ``root``, is refused (``cat/../dog/x.png`` is fine: it stays inside);
- symbolic links are followed only while they stay inside ``root``: a symlinked file, or a file in
  a symlinked folder, that resolves outside ``root`` is refused, unless
  ``follow_external_symlinks=True`` (for a root built of links into a shared image store);
- every path must name an existing regular file (a directory or a broken link is refused).

Each check costs one ``lstat`` per file and one ``realpath`` per distinct folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

__all__ = ["inside", "resolve_under_root", "check_files"]


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both absolute and normalised)."""
    return path == folder or path.startswith(os.path.join(folder, ""))


def _is_normal_relative(text: str) -> bool:
    """Whether ``text`` is already a normalised relative POSIX path (no ``.``, ``..`` or empty
    parts), so joining it to a folder needs no ``normpath`` (a fast path for big tables)."""
    if os.sep != "/" or text in (".", ".."):
        return False
    return not (
        text.startswith(("/", "./", "../"))
        or text.endswith(("/", "/.", "/.."))
        or "//" in text
        or "/./" in text
        or "/../" in text
    )


def resolve_under_root(
    paths: Sequence,
    root: str | os.PathLike,
    *,
    argument: str,
    label: str = "row",
    follow_external_symlinks: bool = False,
) -> list[str]:
    """Absolute, normalised paths of ``paths`` joined to ``root``, each checked by the policy.

    Errors are ValueErrors that start with ``argument`` and name the offending ``label`` (e.g.
    ``"image: row 3: path '../x.png' leaves root /data"``).
    """
    root_text = os.fspath(root)
    if not os.path.isdir(root_text):
        raise ValueError(f"root: not a directory: {root_text}")
    root_abs = os.path.normpath(os.path.abspath(root_text))
    prefix = os.path.join(root_abs, "")
    resolved = []
    for position, path in enumerate(paths):
        where = f"{argument}: {label} {position}"
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"{where}: expected a file path, got {type(path).__name__}")
        text = os.fspath(path)
        if not text:
            raise ValueError(f"{where}: empty path")
        if os.path.isabs(text):
            raise ValueError(
                f"{where}: absolute path {text!r}; paths must be relative to root {root_abs}"
            )
        if _is_normal_relative(text):
            resolved.append(prefix + text)
            continue
        joined = os.path.normpath(os.path.join(root_abs, text))
        if not joined.startswith(prefix):
            raise ValueError(f"{where}: path {text!r} leaves root {root_abs}")
        resolved.append(joined)
    check_files(
        resolved,
        argument=argument,
        label=label,
        root=root_abs,
        follow_external_symlinks=follow_external_symlinks,
    )
    return resolved


def check_files(
    paths: Sequence[str],
    *,
    argument: str,
    label: str = "row",
    root: str | None = None,
    follow_external_symlinks: bool = False,
) -> None:
    """Check that every path is an existing file (and, with ``root``, the symlink policy)."""
    real_root = os.path.realpath(root) if root is not None else None
    real_prefix = None if real_root is None else os.path.join(real_root, "")
    folder_inside: dict[str, str | None] = {}
    for position, path in enumerate(paths):
        where = f"{argument}: {label} {position}"
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise ValueError(f"{where}: file not found: {path}") from None
        except OSError as error:
            raise ValueError(f"{where}: cannot access {path}: {error.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            target = os.path.realpath(path)
            if not os.path.isfile(target):
                raise ValueError(f"{where}: {path} is a broken link or not a file")
            if real_prefix is not None and not follow_external_symlinks:
                if not target.startswith(real_prefix):
                    raise ValueError(
                        f"{where}: {path} is a symbolic link to {target}, outside root "
                        f"{root}; pass follow_external_symlinks=True to allow it"
                    )
        elif not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{where}: not a file: {path}")
        if real_root is None or follow_external_symlinks:
            continue
        folder = os.path.dirname(path)
        if folder not in folder_inside:
            real = os.path.realpath(folder)
            folder_inside[folder] = None if inside(real, real_root) else real
        outside = folder_inside[folder]
        if outside is not None:
            raise ValueError(
                f"{where}: {path} lies in a folder that links to {outside}, outside root "
                f"{root}; pass follow_external_symlinks=True to allow it"
            )
