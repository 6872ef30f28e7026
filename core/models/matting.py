"""Background-matting network with BackgroundMattingV2's coarse/refine split.

``MattingBase`` runs on the whole image at a reduced resolution (long side
about 384 px at inference) and predicts alpha, a foreground residual, an error
map and hidden features. ``MattingRefiner`` re-solves only selected patches at
full resolution from crops of the full-resolution photo and plate plus the base
outputs sampled at those pixels, so its cost grows with the number of patches
(the product's edge), not the megapixels. Patch selection and pasting live in
:mod:`core.models.patches`.

All image inputs are RGB float32 in [0, 1]; the networks normalise internally
and derive ``|photo - plate|`` (both nets) and the per-channel log ratio of photo
to plate (base only) themselves.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.models.u2net import plate_features

INPUT_MEAN = 0.5
INPUT_STD = 0.25


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def clamp_st(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Clamp in the forward pass, identity in the backward pass.

    A plain clamp has zero gradient outside [low, high]: pixels whose alpha starts
    below 0 never receive a signal and the matte stays stuck at 0 (seen in
    training). The straight-through version lets the loss pull them back.
    """
    return x + (x.clamp(low, high) - x).detach()


def _normalised_inputs(photo: torch.Tensor, plate: torch.Tensor) -> list[torch.Tensor]:
    return [(photo - INPUT_MEAN) / INPUT_STD, (plate - INPUT_MEAN) / INPUT_STD, (photo - plate).abs() / INPUT_STD]


def _residual(channels: int) -> nn.Sequential:
    """conv-BN-ReLU then a 1x1 convolution that starts at zero: added to its input, it starts as the identity."""
    block = nn.Sequential(_conv(channels, channels), nn.Conv2d(channels, channels, 1))
    nn.init.zeros_(block[1].weight)
    nn.init.zeros_(block[1].bias)
    return block


class MattingBase(nn.Module):
    """Small U-Net (0.61 M parameters at the default widths) on photo, aligned plate and coarse mask.

    widths: the encoder's four levels; decoder: the widths of the decoder at 1/4, 1/2 and the
    base's full resolution; full_res_blocks: residual conv blocks after the last decoder level.

    forward(photo, plate, coarse):
        photo, plate: (B, 3, h, w) float32 [0, 1]; coarse: (B, 1, h, w) [0, 1]. Any h, w.
    Returns (alpha, foreground_residual, error, hidden), all (B, *, h, w):
        alpha (1 ch) [0, 1]; foreground_residual (3 ch) in [-1, 1], foreground = clamp(photo + residual, 0, 1);
        error (1 ch) [0, 1], the predicted |alpha - true alpha|; hidden (``hidden`` ch) >= 0, for the refiner.
    """

    def __init__(self, hidden: int = 8, widths: tuple[int, ...] = (24, 32, 64, 96),
                 decoder: tuple[int, ...] = (48, 32, 16), full_res_blocks: int = 0):
        super().__init__()
        w1, w2, w3, w4 = widths
        d2, d1, d0 = decoder
        self.hidden = hidden
        cin = 13  # photo, plate, |photo - plate|, coarse mask, log ratios (appended last: see u2net.plate_features)
        # the convolutions that read a concatenation, with the widths of its parts (core.train.widen uses it)
        self.concat_inputs = {"dec3.0.0": (w4, w3), "dec2.0.0": (w3, w2), "dec1.0": (d2, w1), "dec0.0": (d1, cin)}
        self.enc1 = nn.Sequential(_conv(cin, w1, 2), _conv(w1, w1))
        self.enc2 = nn.Sequential(_conv(w1, w2, 2), _conv(w2, w2))
        self.enc3 = nn.Sequential(_conv(w2, w3, 2), _conv(w3, w3))
        self.enc4 = nn.Sequential(_conv(w3, w4, 2), _conv(w4, w4))
        self.context = nn.Sequential(_conv(w4, w4, dilation=2), _conv(w4, w4, dilation=4))
        self.dec3 = nn.Sequential(_conv(w4 + w3, w3), _conv(w3, w3))
        self.dec2 = nn.Sequential(_conv(w3 + w2, d2), _conv(d2, d2))
        self.dec1 = _conv(d2 + w1, d1)
        self.dec0 = _conv(d1 + cin, d0)
        self.full_res = nn.ModuleList(_residual(d0) for _ in range(full_res_blocks))
        self.head = nn.Conv2d(d0, 5 + hidden, 3, padding=1)

    def forward(self, photo: torch.Tensor, plate: torch.Tensor, coarse: torch.Tensor):
        ratio = plate_features(photo, plate)[:, 3:]
        x0 = torch.cat([*_normalised_inputs(photo, plate), coarse * 2 - 1, ratio], 1)
        e1 = self.enc1(x0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        e4 = e4 + self.context(e4)
        d = self.dec3(torch.cat([_up(e4, e3), e3], 1))
        d = self.dec2(torch.cat([_up(d, e2), e2], 1))
        d = self.dec1(torch.cat([_up(d, e1), e1], 1))
        d = self.dec0(torch.cat([_up(d, x0), x0], 1))
        for block in self.full_res:
            d = d + block(d)
        out = self.head(d)
        alpha = clamp_st(out[:, :1], 0, 1)
        residual = clamp_st(out[:, 1:4], -1, 1)
        error = clamp_st(out[:, 4:5], 0, 1)
        hidden = F.relu(out[:, 5:])
        return alpha, residual, error, hidden


def _up(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class MattingRefiner(nn.Module):
    """Tiny convolutional net that re-solves full-resolution patches.

    forward(photo, plate, base): a batch of K crops of side ``patch + 2 * context``:
        photo, plate: (K, 3, P+2c, P+2c) float32 [0, 1] full-resolution pixels;
        base: (K, 5 + hidden, P+2c, P+2c), the base's alpha, foreground residual, error and hidden
        features bilinearly sampled at the same full-resolution pixels.
    Returns (alpha, foreground_residual) for the central P x P pixels: (K, 1, P, P) in [0, 1] and
    (K, 3, P, P) in [-1, 1]. Both are corrections of the sampled base values (residual learning),
    so an untrained refiner reproduces the upsampled base.
    """

    def __init__(self, hidden: int = 8, patch: int = 16, context: int = 2, width: int = 16):
        super().__init__()
        if context != 2:
            raise ValueError("MattingRefiner's two valid 3x3 convolutions consume exactly 2 pixels of context.")
        self.patch, self.context = patch, context
        cin = 9 + 5 + hidden
        self.conv1 = nn.Conv2d(cin, width, 3)
        self.conv2 = nn.Conv2d(width, 16, 3)
        self.out = nn.Conv2d(16, 4, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, photo: torch.Tensor, plate: torch.Tensor, base: torch.Tensor):
        x = torch.cat([*_normalised_inputs(photo, plate), base[:, :1] * 2 - 1, base[:, 1:]], 1)
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        delta = self.out(h)
        c = self.context
        centre = base[:, :, c:-c, c:-c]
        alpha = clamp_st(centre[:, :1] + delta[:, :1], 0, 1)
        residual = clamp_st(centre[:, 1:4] + delta[:, 1:4], -1, 1)
        return alpha, residual


class MattingNetwork(nn.Module):
    """The base and the refiner as one module (one state dict, one weights file)."""

    def __init__(self, hidden: int = 8, patch: int = 16, widths: tuple[int, ...] = (24, 32, 64, 96),
                 decoder: tuple[int, ...] = (48, 32, 16), full_res_blocks: int = 0):
        super().__init__()
        self.base = MattingBase(hidden=hidden, widths=widths, decoder=decoder, full_res_blocks=full_res_blocks)
        self.refiner = MattingRefiner(hidden=hidden, patch=patch)
