"""Training losses for the coarse-mask and matting networks (DESIGN.md, "Networks").

All inputs are (B, C, H, W) float32 tensors; alpha-like maps are in [0, 1]
unless named ``*_logits``. Each function returns a scalar tensor.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _gaussian_window(size: int, sigma: float, device, dtype) -> torch.Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim_loss(pred: torch.Tensor, target: torch.Tensor, window: int = 11) -> torch.Tensor:
    """1 - mean SSIM of two (B, 1, H, W) maps in [0, 1] (11x11 Gaussian window, as in BASNet)."""
    kernel = _gaussian_window(window, 1.5, pred.device, pred.dtype)
    pad = window // 2

    def blur(x):
        return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), kernel)

    mu_p, mu_t = blur(pred), blur(target)
    var_p = blur(pred * pred) - mu_p**2
    var_t = blur(target * target) - mu_t**2
    cov = blur(pred * target) - mu_p * mu_t
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2))
    return 1 - ssim.mean()


def iou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU per image, averaged; (B, 1, H, W) in [0, 1]."""
    inter = (pred * target).sum((1, 2, 3))
    union = (pred + target - pred * target).sum((1, 2, 3))
    return (1 - (inter + 1) / (union + 1)).mean()


def coarse_loss(logits: list[torch.Tensor], alpha: torch.Tensor, hybrid: bool = True) -> tuple[torch.Tensor, dict]:
    """Deep supervision: BCE on the fused and every side output, plus BASNet's SSIM + IoU on the fused one.

    logits: list of (B, 1, H, W) logits, fused first (as :class:`CoarseU2Net` returns them).
    alpha: (B, 1, H, W) true alpha in [0, 1], used as a soft BCE target.
    """
    bce = [F.binary_cross_entropy_with_logits(x, alpha) for x in logits]
    total = sum(bce)
    parts = {"bce_fused": bce[0].detach(), "bce_sides": (sum(bce[1:]) / len(bce[1:])).detach()}
    if hybrid:
        prob = torch.sigmoid(logits[0])
        ssim = ssim_loss(prob, alpha)
        iou = iou_loss(prob, alpha)
        total = total + ssim + iou
        parts.update(ssim=ssim.detach(), iou=iou.detach())
    return total, parts


_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4


def sobel(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, 2, H, W) horizontal and vertical Sobel gradients (replicate padding)."""
    kernel = torch.stack([_SOBEL, _SOBEL.t()])[:, None].to(x)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel)


def _matte_terms(alpha_pred, foreground_pred, alpha, foreground, photo, plate) -> tuple:
    """L1 alpha, L1 Sobel gradient of alpha, L1 foreground where the target alpha > 0, and L1 of the
    recomposite (predicted alpha and foreground over the plate) against the photo (shapes as below)."""
    l_alpha = F.l1_loss(alpha_pred, alpha)
    l_grad = F.l1_loss(sobel(alpha_pred), sobel(alpha))
    inside = (alpha > 0).to(alpha)
    l_fg = (inside * (foreground_pred - foreground).abs()).sum() / (3 * inside.sum() + 1)
    l_comp = F.l1_loss(alpha_pred * foreground_pred + (1 - alpha_pred) * plate, photo)
    return l_alpha, l_grad, l_fg, l_comp


def matting_loss(
    alpha_pred: torch.Tensor,
    foreground_pred: torch.Tensor,
    error_pred: torch.Tensor | None,
    alpha: torch.Tensor,
    foreground: torch.Tensor,
    photo: torch.Tensor,
    plate: torch.Tensor,
) -> tuple[torch.Tensor, dict]:
    """Background-matting losses at one resolution (all maps at the same H x W).

    alpha_pred, alpha: (B, 1, H, W) [0, 1]; foreground_pred, foreground, photo,
    plate: (B, 3, H, W) [0, 1]; error_pred: (B, 1, H, W) >= 0 or None.
    Sum of L1 alpha, L1 Sobel gradient of alpha, L1 foreground where alpha > 0,
    L1 recomposite against the photo (plate as backdrop; shadows make this
    term imperfect by design, so it is weighted lower), and MSE of the error
    map against the detached |alpha_pred - alpha|.
    """
    l_alpha, l_grad, l_fg, l_comp = _matte_terms(alpha_pred, foreground_pred, alpha, foreground, photo, plate)
    total = l_alpha + l_grad + l_fg + 0.5 * l_comp
    parts = {"alpha": l_alpha.detach(), "grad": l_grad.detach(), "fg": l_fg.detach(), "comp": l_comp.detach()}
    if error_pred is not None:
        target = (alpha_pred - alpha).abs().detach()
        l_err = F.mse_loss(error_pred, target)
        total = total + l_err
        parts["err"] = l_err.detach()
    return total, parts


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """LSGAN (Mao et al. 2017) as in Background Matting: the discriminator says 1 for real photos, 0 for composites.

    real_scores, fake_scores: (B, 1, h, w) patch scores (unbounded). Returns half the
    sum of the two mean squared errors (the LSGAN convention) and both terms.
    """
    l_real = F.mse_loss(real_scores, torch.ones_like(real_scores))
    l_fake = F.mse_loss(fake_scores, torch.zeros_like(fake_scores))
    return 0.5 * (l_real + l_fake), {"adv_d_real": l_real.detach(), "adv_d_fake": l_fake.detach()}


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The matting network's adversarial loss: mean squared distance of the composites' scores from 1 ("real")."""
    return F.mse_loss(fake_scores, torch.ones_like(fake_scores))


def teacher_loss(
    alpha: torch.Tensor,
    foreground: torch.Tensor,
    alpha_teacher: torch.Tensor,
    foreground_teacher: torch.Tensor,
    photo: torch.Tensor,
    plate: torch.Tensor,
) -> tuple[torch.Tensor, dict]:
    """Background Matting's self-supervision on unlabeled real pairs, against a fixed teacher's prediction.

    alpha, alpha_teacher: (B, 1, H, W) [0, 1]; foreground, foreground_teacher, photo,
    plate: (B, 3, H, W) [0, 1]. 2 x L1 alpha + 4 x L1 Sobel gradient of alpha + L1
    foreground where the teacher's alpha > 0 + L1 recomposite (alpha F + (1 - alpha)
    plate) against the photo: the weights of Sengupta et al. 2020.
    """
    l_alpha, l_grad, l_fg, l_comp = _matte_terms(alpha, foreground, alpha_teacher, foreground_teacher, photo, plate)
    total = 2 * l_alpha + 4 * l_grad + l_fg + l_comp
    return total, {"alpha": l_alpha.detach(), "grad": l_grad.detach(), "fg": l_fg.detach(), "comp": l_comp.detach()}
