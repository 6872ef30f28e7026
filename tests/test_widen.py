"""Growing the matting network: the wider network starts by computing exactly what the narrow one did."""
from __future__ import annotations

import pytest
import torch

from core.models.matting import MattingNetwork
from core.models.registry import ARCHITECTURES, WIDE_MATTING
from core.train.cli import main as train_main
from core.train.widen import matting_config, widen_matting

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random non-trivial weights everywhere (zero-initialised layers included) and batch-norm statistics."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(values * 0.5 + 0.5 if "running_var" in name else (values - 0.5) * 0.3)
    return model.eval()


def _inputs(seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(2, c, 40, 56, generator=generator) for c in (3, 3, 1)]


def test_widened_network_computes_what_the_narrow_one_did():
    narrow = _trained_like(MattingNetwork())
    wide = MattingNetwork(**WIDE_MATTING)
    grown = widen_matting(wide, narrow.state_dict())
    assert "base.dec3.0.0.weight" in grown and "base.head.weight" in grown
    wide.eval()
    with torch.no_grad():
        before, after = narrow.base(*_inputs()), wide.base(*_inputs())
        for a, b in zip(before, after):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
        # the refiner reads the base's outputs, so the whole network agrees too
        photo, plate = torch.rand(3, 3, 20, 20), torch.rand(3, 3, 20, 20)
        base = torch.rand(3, 13, 20, 20)
        for a, b in zip(narrow.refiner(photo, plate, base), wide.refiner(photo, plate, base)):
            torch.testing.assert_close(b, a)


def test_widened_network_can_learn_with_its_new_channels():
    wide = MattingNetwork(**WIDE_MATTING)
    widen_matting(wide, _trained_like(MattingNetwork()).state_dict())
    wide.train()
    alpha, *_ = wide.base(*_inputs())
    alpha.mean().backward()
    # the first step moves the zero weights that read the new channels (then the new filters learn)
    grad = wide.base.head.weight.grad
    assert grad[:, 16:].abs().sum() > 0  # head input channels 16..23 are new
    assert wide.base.full_res[0][1].weight.grad.abs().sum() > 0  # the new residual block's zero 1x1 conv


def test_concatenated_inputs_keep_their_trained_weights_in_place():
    narrow = _trained_like(MattingNetwork())
    wide = MattingNetwork(**WIDE_MATTING)
    widen_matting(wide, narrow.state_dict())
    old, new = narrow.base.dec3[0][0].weight, wide.base.dec3[0][0].weight  # reads cat(up(enc4), enc3): 96+64 -> 128+96
    assert torch.equal(new[:64, :96], old[:, :96]) and torch.equal(new[:64, 128:192], old[:, 96:])
    assert new[:64, 96:128].abs().sum() == 0 and new[:64, 192:].abs().sum() == 0


def test_matting_config_reads_the_shape_of_a_state_dict():
    assert matting_config(MattingNetwork().state_dict()) == {
        "widths": (24, 32, 64, 96), "decoder": (48, 32, 16), "full_res_blocks": 0, "hidden": 8}
    assert matting_config(ARCHITECTURES["bgm-wide-h8-p16"]().state_dict()) == {**WIDE_MATTING, "hidden": 8}


def test_widening_refuses_to_shrink():
    with pytest.raises(ValueError, match="cannot"):
        widen_matting(MattingNetwork(), MattingNetwork(**WIDE_MATTING).state_dict())


@pytest.mark.slow
def test_cli_widens_init_weights_trains_bf16_and_exports_the_wide_network(tmp_path, capsys, monkeypatch):
    import dataclasses

    import core.models.registry as registry

    # as when the registry ships the small network, whatever it ships today
    monkeypatch.setitem(registry.REGISTRY, "matting",
                        dataclasses.replace(registry.REGISTRY["matting"], architecture="bgm-small-h8-p16"))
    narrow = tmp_path / "narrow.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in MattingNetwork().state_dict().items()}, narrow)
    run, models = tmp_path / "run", tmp_path / "models"
    assert train_main(["matting", "--out", str(run), "--steps", "1", "--batch", "1", "--size", "48", "--workers", "0",
                       "--architecture", "bgm-wide-h8-p16", "--init-weights", str(narrow), "--bf16"]) == 0
    assert "widened" in capsys.readouterr().out
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert state["config"]["architecture"] == "bgm-wide-h8-p16"
    # resuming without the option keeps the run's shape
    assert train_main(["matting", "--out", str(run), "--steps", "2", "--resume", "--workers", "0"]) == 0
    assert train_main(["export", "matting", "--out", str(run), "--models-dir", str(models)]) == 0
    assert "the registry loads 'matting' as 'bgm-small-h8-p16'" in capsys.readouterr().out
    exported = torch.load(models / "matting_bgm.pt", weights_only=True)
    ARCHITECTURES["bgm-wide-h8-p16"]().load_state_dict(exported)


def test_architecture_is_a_matting_option():
    assert train_main(["coarse", "--out", "unused", "--architecture", "bgm-wide-h8-p16"]) == 2


def test_register_rewrites_the_checksum_and_the_architecture(tmp_path, monkeypatch):
    import shutil

    import core.models.registry as registry_module
    from core.train.export import register_checksum

    copy = tmp_path / "registry.py"
    shutil.copyfile(registry_module.__file__, copy)
    monkeypatch.setattr(registry_module, "__file__", str(copy))
    register_checksum("matting", "ab" * 32, "bgm-wide-h8-p16")
    text = copy.read_text()
    assert 'filename="matting_bgm.pt",\n        sha256="' + "ab" * 32 + '",\n        architecture="bgm-wide-h8-p16"' in text
    assert 'architecture="u2netp-stem4"' in text  # the coarse entry is untouched
    register_checksum("matting", "cd" * 32)  # without an architecture the registered one stays
    assert '"' + "cd" * 32 + '",\n        architecture="bgm-wide-h8-p16"' in copy.read_text()
