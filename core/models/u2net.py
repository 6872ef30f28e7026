"""U2-Net style coarse-mask network (Qin et al. 2020), sized for CPU training.

Residual U-blocks (RSU7..RSU4, RSU4F) nested in an outer U; each decoder stage
has a side output and a 1x1 conv fuses all side outputs; every output is
supervised (deep supervision) with :func:`coarse_loss`.

Input is the photo and the aligned plate, 6 channels RGB in [0, 1]. The network
normalises them itself and derives two plate-comparison features, so callers
never need to know the normalisation: ``|photo - plate|`` (3 channels) and
``log((photo + 0.02) / (plate + 0.02))`` per channel (3 channels, clipped to
[-3, 3]); a cast shadow scales the backdrop, which makes the three log ratios
equal, while a product changes them unequally. 12 channels enter the first layer.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Constant normalisation applied inside :meth:`CoarseU2Net.forward`.
INPUT_MEAN = 0.5
INPUT_STD = 0.25
RATIO_EPS = 0.02


def plate_features(photo: torch.Tensor, plate: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) photo and plate in [0, 1] -> (B, 6, H, W): |photo - plate| / 0.25 and the clipped log ratios."""
    diff = (photo - plate).abs() / INPUT_STD
    ratio = torch.log((photo + RATIO_EPS) / (plate + RATIO_EPS)).clamp(-3, 3)
    return torch.cat([diff, ratio], 1)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, dilation: int = 1, stride: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


def _upsample_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    if x.shape[-2:] == ref.shape[-2:]:
        return x
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """Residual U-block of ``height`` levels (RSU7 has height 7, ..., RSU4 has 4).

    (B, cin, H, W) -> (B, cout, H, W); H and W need not be powers of two
    (pooling uses ceil mode and decoders upsample to the skip's size).
    """

    def __init__(self, height: int, cin: int, mid: int, cout: int):
        super().__init__()
        self.conv_in = ConvBNReLU(cin, cout)
        self.encoders = nn.ModuleList([ConvBNReLU(cout, mid)] + [ConvBNReLU(mid, mid) for _ in range(height - 2)])
        self.bottom = ConvBNReLU(mid, mid, dilation=2)
        self.decoders = nn.ModuleList([ConvBNReLU(2 * mid, mid) for _ in range(height - 2)] + [ConvBNReLU(2 * mid, cout)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hx_in = self.conv_in(x)
        skips = []
        h = hx_in
        for i, enc in enumerate(self.encoders):
            if i > 0:
                h = F.max_pool2d(h, 2, ceil_mode=True)
            h = enc(h)
            skips.append(h)
        h = self.bottom(h)
        for dec, skip in zip(self.decoders, reversed(skips)):
            h = dec(torch.cat([_upsample_like(h, skip), skip], 1))
        return h + hx_in


class RSU4F(nn.Module):
    """Dilated residual U-block without pooling (for the lowest resolutions); shape-preserving."""

    def __init__(self, cin: int, mid: int, cout: int):
        super().__init__()
        self.conv_in = ConvBNReLU(cin, cout)
        self.e1 = ConvBNReLU(cout, mid, 1)
        self.e2 = ConvBNReLU(mid, mid, 2)
        self.e3 = ConvBNReLU(mid, mid, 4)
        self.bottom = ConvBNReLU(mid, mid, 8)
        self.d3 = ConvBNReLU(2 * mid, mid, 4)
        self.d2 = ConvBNReLU(2 * mid, mid, 2)
        self.d1 = ConvBNReLU(2 * mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hx_in = self.conv_in(x)
        h1 = self.e1(hx_in)
        h2 = self.e2(h1)
        h3 = self.e3(h2)
        h4 = self.bottom(h3)
        h = self.d3(torch.cat([h4, h3], 1))
        h = self.d2(torch.cat([h, h2], 1))
        h = self.d1(torch.cat([h, h1], 1))
        return h + hx_in


class CoarseU2Net(nn.Module):
    """U2-Net(p) on photo + aligned plate.

    ``mid``/``out`` are the RSU inner/outer widths (U2-Netp: 16/64). With
    ``stem_stride`` 2 or 4, one or two strided 3x3 convs reduce the resolution
    before the U (the original U2-Net has none, stride 1). On this 2-core CPU,
    one thread, batch 4 at 256 px, forward + backward ran at 0.25 samples/s
    with stride 1, 1.2 with stride 2 and 3.2 with stride 4, so the shipped
    coarse network uses stride 4: the mask is coarse by design and the
    matting network refines it. Side outputs are bilinearly upsampled back to
    the input size either way.

    forward(x): x (B, 6, H, W) float32, photo RGB then aligned plate RGB, [0, 1].
    Returns a list of 7 logit maps (B, 1, H, W), unbounded: the fused output
    first, then the side outputs from the finest (stage 1) to the coarsest (6).
    Apply ``torch.sigmoid`` to the first for the coarse mask in [0, 1].
    """

    def __init__(self, mid: int = 16, out: int = 64, stem_stride: int = 1):
        super().__init__()
        self.stem_stride = stem_stride
        cin = 12
        if stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {stem_stride}.")
        if stem_stride == 1:
            self.stem = nn.Identity()
        else:
            layers = [ConvBNReLU(cin, 2 * mid, stride=2)]
            if stem_stride == 4:
                layers.append(ConvBNReLU(2 * mid, 2 * mid, stride=2))
            self.stem = nn.Sequential(*layers)
            cin = 2 * mid
        self.stage1 = RSU(7, cin, mid, out)
        self.stage2 = RSU(6, out, mid, out)
        self.stage3 = RSU(5, out, mid, out)
        self.stage4 = RSU(4, out, mid, out)
        self.stage5 = RSU4F(out, mid, out)
        self.stage6 = RSU4F(out, mid, out)
        self.stage5d = RSU4F(2 * out, mid, out)
        self.stage4d = RSU(4, 2 * out, mid, out)
        self.stage3d = RSU(5, 2 * out, mid, out)
        self.stage2d = RSU(6, 2 * out, mid, out)
        self.stage1d = RSU(7, 2 * out, mid, out)
        self.sides = nn.ModuleList([nn.Conv2d(out, 1, 3, padding=1) for _ in range(6)])
        self.fuse = nn.Conv2d(6, 1, 1)

    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """(B, 6, H, W) [0, 1] -> (B, 12, H, W): normalised photo and plate, then :func:`plate_features`."""
        if x.dim() != 4 or x.shape[1] != 6:
            raise ValueError(f"CoarseU2Net expects a (B, 6, H, W) tensor of photo and plate, got {tuple(x.shape)}.")
        return torch.cat([(x - INPUT_MEAN) / INPUT_STD, plate_features(x[:, :3], x[:, 3:])], 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        size = x.shape[-2:]
        h = self.stem(self.prepare(x))
        h1 = self.stage1(h)
        h2 = self.stage2(F.max_pool2d(h1, 2, ceil_mode=True))
        h3 = self.stage3(F.max_pool2d(h2, 2, ceil_mode=True))
        h4 = self.stage4(F.max_pool2d(h3, 2, ceil_mode=True))
        h5 = self.stage5(F.max_pool2d(h4, 2, ceil_mode=True))
        h6 = self.stage6(F.max_pool2d(h5, 2, ceil_mode=True))
        d5 = self.stage5d(torch.cat([_upsample_like(h6, h5), h5], 1))
        d4 = self.stage4d(torch.cat([_upsample_like(d5, h4), h4], 1))
        d3 = self.stage3d(torch.cat([_upsample_like(d4, h3), h3], 1))
        d2 = self.stage2d(torch.cat([_upsample_like(d3, h2), h2], 1))
        d1 = self.stage1d(torch.cat([_upsample_like(d2, h1), h1], 1))
        sides = [
            F.interpolate(side(d), size=size, mode="bilinear", align_corners=False)
            for side, d in zip(self.sides, (d1, d2, d3, d4, d5, h6))
        ]
        fused = self.fuse(torch.cat(sides, 1))
        return [fused, *sides]


def build_u2netp(stem_stride: int = 4) -> CoarseU2Net:
    """The U2-Netp configuration (mid 16, out 64; 1.16 M parameters with the stride-4 stem)."""
    return CoarseU2Net(mid=16, out=64, stem_stride=stem_stride)
