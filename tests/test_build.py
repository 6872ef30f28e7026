"""The packaged desktop app (build.spec): built with PyInstaller, it runs like the installed command.

A build takes minutes, so these tests run only when asked: MATTING_STUDIO_BUILD_TEST=1 and PyInstaller
installed (pip install -e ".[build]"). MATTING_STUDIO_DIST=DIR tests an existing build in DIR instead
of building into a temporary folder.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import REPO, SAMPLES
from core import __version__

ENABLED = os.environ.get("MATTING_STUDIO_BUILD_TEST") == "1"
HAVE_PYINSTALLER = importlib.util.find_spec("PyInstaller") is not None

pytestmark = [
    pytest.mark.build,
    pytest.mark.slow,
    pytest.mark.skipif(not ENABLED, reason="builds the desktop app (minutes); set MATTING_STUDIO_BUILD_TEST=1"),
    pytest.mark.skipif(not HAVE_PYINSTALLER, reason='PyInstaller is not installed (pip install -e ".[build]")'),
]


def _load_build_tool():
    spec = importlib.util.spec_from_file_location("build_app", REPO / "tools" / "build_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_build_tool()


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    """The built executable: MATTING_STUDIO_DIST's, else a fresh build in a temporary folder."""
    given = os.environ.get("MATTING_STUDIO_DIST")
    if given:
        exe = tool.executable_path(Path(given).resolve())
        assert exe.is_file(), f"MATTING_STUDIO_DIST={given} holds no {exe.name} build"
        return exe
    root = tmp_path_factory.mktemp("bundle")
    done = subprocess.run([sys.executable, str(REPO / "tools" / "build_app.py"), "--dist", str(root / "dist"),
                           "--work", str(root / "build"), "--no-smoke-test"],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr + done.stdout
    exe = tool.executable_path(root / "dist")
    assert exe.is_file()
    return exe


def test_version_answers(app, tmp_path):
    done = tool.run_app(app, ["--version"], tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"matting-studio {__version__}"


@pytest.mark.parametrize("method", ["classical", "network"])
def test_cut_writes_rgba_png_of_the_sample_size(app, tmp_path, method):
    if method == "network" and not any((REPO / "resources" / "models").glob("*.pt")):
        pytest.skip("no network weights in resources/models")
    out = tmp_path / "out.png"
    done = tool.run_app(app, ["cut", str(SAMPLES / "product.jpg"), "--plate", str(SAMPLES / "product_plate.jpg"),
                              "-o", str(out), "--method", method], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    with Image.open(SAMPLES / "product.jpg") as photo, Image.open(out) as cut:
        assert cut.format == "PNG" and cut.mode == "RGBA"
        assert cut.size == photo.size
        alpha = cut.getchannel("A")
        low, high = alpha.getextrema()
        assert low == 0 and high == 255  # a real cut-out: transparent backdrop, opaque product


def test_bad_input_exits_1_naming_the_file(app, tmp_path):
    missing = tmp_path / "no-such-photo.jpg"
    done = tool.run_app(app, ["cut", str(missing), "--plate", str(SAMPLES / "product_plate.jpg"),
                              "-o", str(tmp_path / "out.png")], tmp_path, timeout=300)
    assert done.returncode == 1
    assert "no-such-photo.jpg" in done.stderr and "Traceback" not in done.stderr


def test_desktop_app_starts_offscreen(app, tmp_path):
    assert "running" in tool.check_gui_starts(app, tmp_path, seconds=15)
