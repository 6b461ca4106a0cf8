"""Crop geometry shared by the ImageNet loader and the 10-patch test: torchvision's five/ten crops."""

from __future__ import annotations

import torch

PATCHES = 10  # crops per image in the 10-patch test: TenCrop's four corners and center, and mirrors


def five_spots(h: int, w: int, crop: int) -> tuple[tuple[int, int], ...]:
    """Top-left corners of torchvision's five_crop: four corners, then the center (its rounding)."""
    center = (int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0)))
    return (0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), center


def ten_crops(images: torch.Tensor, crop: int = 224) -> torch.Tensor:
    """(N, C, H, W) -> (N * 10, C, crop, crop): per image, TenCrop's order (corners, center, mirrored)."""
    spots = five_spots(*images.shape[-2:], crop)
    # Mirrored crops are taken from the mirrored image, as TenCrop does (not the mirror of each crop:
    # they differ for the center crop when W - crop is odd).
    views = [im[..., y : y + crop, x : x + crop] for im in (images, images.flip(-1)) for y, x in spots]
    return torch.stack(views, 1).flatten(0, 1)  # (N, PATCHES, C, crop, crop) -> (N * 10, ...)
