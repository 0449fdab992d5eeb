"""Image batches as the float tensors models take (torch imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["images_to_tensor"]


def images_to_tensor(images, *, channels: int = 3) -> torch.Tensor:
    """Images as a float32 tensor ``(N, C, H, W)`` in [0, 1], not normalised.

    uint8 input (numpy or torch) is read as ``(N, H, W, C)`` with values 0..255 (the EvalSet
    layout); float input as ``(N, C, H, W)`` with values in [0, 1] (the torch layout). A torch
    tensor stays on its device (move uint8 images to the GPU first and the conversion runs
    there).

    Parameters
    ----------
    images : numpy array or torch tensor
    channels : int
        The C the images must have.

    Raises
    ------
    TypeError
        Neither a numpy array nor a torch tensor, or neither uint8 nor floating.
    ValueError
        Not a 4-D batch of ``channels`` channels in the layout of its dtype.
    """
    import torch

    if isinstance(images, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(images))
    elif isinstance(images, torch.Tensor):
        tensor = images
    else:
        raise TypeError(
            f"images: expected a numpy array or torch tensor, got {type(images).__name__}"
        )
    if tensor.ndim != 4:
        raise ValueError(
            "images: expected a 4-D batch, (N, H, W, C) uint8 or (N, C, H, W) float, "
            f"got shape {tuple(tensor.shape)}"
        )
    if tensor.dtype == torch.uint8:
        if tensor.shape[-1] != channels:
            raise ValueError(
                f"images: uint8 images must be (N, H, W, {channels}), got {tuple(tensor.shape)}"
            )
        return tensor.permute(0, 3, 1, 2).float().div_(255.0)
    if tensor.is_floating_point():
        if tensor.shape[1] != channels:
            raise ValueError(
                f"images: float images must be (N, {channels}, H, W) in [0, 1], got "
                f"{tuple(tensor.shape)}"
            )
        return tensor.float()
    raise TypeError(f"images: expected dtype uint8 or floating, got {tensor.dtype}")
