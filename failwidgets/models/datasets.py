"""torchvision datasets from a local folder, never downloaded.

For the bring-your-own-model notebook: CIFAR-10/100 in torchvision's "python version" layout
(``<root>/cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta``) and ImageFolder
trees (``<root>/<class>/<image>``). All loading is torchvision's own; only the checks and
error messages are added. CIFAR datasets expose ``.data`` (uint8 N x 32 x 32 x 3),
``.targets`` and ``.classes``, which feed ``EvalSet.from_arrays`` directly.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_cifar10", "load_cifar100", "load_image_folder"]

_SPLITS = ("train", "test")


def _unverified(cls):
    """A subclass of a torchvision CIFAR class that checks files exist but skips their MD5."""
    return type(
        f"Unverified{cls.__name__}",
        (cls,),
        {
            "train_list": [[name, None] for name, _ in cls.train_list],
            "test_list": [[name, None] for name, _ in cls.test_list],
            "meta": {**cls.meta, "md5": None},
            "__doc__": f"{cls.__name__} without the MD5 checks (file existence only).",
        },
    )


def _load_cifar(cls, label: str, url: str, root, split, transform, target_transform, verify):
    if split not in _SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if root is None:
        raise TypeError(f"root: expected the folder that holds {cls.base_folder}/, got None")
    root = Path(root).expanduser()
    if root.name == cls.base_folder:  # accept the inner folder itself
        root = root.parent
    folder = root / cls.base_folder
    expected = [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    missing = [name for name in expected if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"root: {label} not found at {str(folder)!r} (missing {', '.join(missing)}). "
            f"Put the extracted 'python version' archive there ({url}), e.g. by running "
            f"torchvision.datasets.{cls.__name__}({str(root)!r}, download=True) on a machine with "
            "network access; failwidgets never downloads it."
        )
    dataset_cls = cls if verify else _unverified(cls)
    try:
        return dataset_cls(
            str(root),
            train=(split == "train"),
            transform=transform,
            target_transform=target_transform,
            download=False,
        )
    except RuntimeError as error:
        raise ValueError(
            f"root: the {label} files under {str(folder)!r} fail torchvision's MD5 check "
            f"({error}); re-extract the original archive, or pass verify=False to skip the check"
        ) from error


def load_cifar10(root, split: str = "test", *, transform=None, target_transform=None, verify=True):
    """CIFAR-10 from ``root`` (the folder holding ``cifar-10-batches-py/``), no download.

    Parameters
    ----------
    root : folder with ``cifar-10-batches-py/`` (the folder itself is accepted too).
    split : ``"train"`` (50,000 images) or ``"test"`` (10,000).
    transform, target_transform : as torchvision's (applied to PIL images / int labels).
    verify : check the files' MD5 sums as torchvision does (False: existence only).

    Returns
    -------
    ``torchvision.datasets.CIFAR10`` with ``.data`` uint8 (N, 32, 32, 3), ``.targets``,
    ``.classes``.
    """
    from torchvision.datasets import CIFAR10

    return _load_cifar(
        CIFAR10, "CIFAR-10", CIFAR10.url, root, split, transform, target_transform, verify
    )


def load_cifar100(root, split: str = "test", *, transform=None, target_transform=None, verify=True):
    """CIFAR-100 from ``root`` (the folder holding ``cifar-100-python/``), no download.

    Same arguments and return value as :func:`load_cifar10` (fine labels, 100 classes).
    """
    from torchvision.datasets import CIFAR100

    return _load_cifar(
        CIFAR100, "CIFAR-100", CIFAR100.url, root, split, transform, target_transform, verify
    )


def load_image_folder(root, *, transform=None, target_transform=None):
    """torchvision ``ImageFolder`` over ``root/<class name>/<image file>``.

    Raises a clear error when ``root`` is missing or holds no class folders with images.
    """
    from torchvision.datasets import ImageFolder

    if root is None:
        raise TypeError("root: expected a folder of class sub-folders, got None")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"root: no folder at {str(root)!r}")
    try:
        return ImageFolder(str(root), transform=transform, target_transform=target_transform)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"root: {str(root)!r} must hold one sub-folder per class with image files: {error}"
        ) from error
