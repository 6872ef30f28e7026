"""Layering rules that keep the core usable without a GUI and the CLI quick to start."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_core_never_imports_qt():
    out = _python(
        "import pkgutil, importlib, sys, core\n"
        "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.') if not m.name.endswith('__main__')]\n"
        "for name in names: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qtawesome', 'studio'))\n"
        "print(len(names), bad)\n")
    count, bad = out.split(" ", 1)
    assert int(count) >= 10
    assert bad.strip() == "[]"


def test_every_module_imports_on_its_own():
    """Each module of core and studio imports first in a fresh interpreter state (no import cycle
    that works only in one order)."""
    out = _python(
        "import pkgutil, importlib, sys, core, studio\n"
        "names = [m.name for pkg in (core, studio) for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')\n"
        "         if not m.name.endswith('__main__')]\n"
        "failed = []\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in ('core', 'studio')]:\n"
        "        del sys.modules[loaded]\n"
        "    try: importlib.import_module(name)\n"
        "    except ImportError as err: failed.append(f'{name}: {err}')\n"
        "print(len(names), failed)\n")
    count, failed = out.split(" ", 1)
    assert int(count) >= 30
    assert failed.strip() == "[]"


def test_version_answers_without_torch_qt_or_opencv():
    out = _python(
        "import sys, contextlib, io\n"
        "from studio.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try: main(['--version'])\n"
        "    except SystemExit as e: assert e.code == 0\n"
        "heavy = sorted(m for m in ('torch', 'PySide6', 'cv2', 'numpy') if m in sys.modules)\n"
        "print(buf.getvalue().strip(), heavy)\n")
    assert out.startswith("matting-studio ") and out.strip().endswith("[]")


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed")
def test_import_linter_contract_holds():
    done = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KEPT" in done.stdout
