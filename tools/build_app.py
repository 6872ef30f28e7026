"""Build the packaged desktop app with PyInstaller (build.spec), then smoke-test it.

    python tools/build_app.py [--dist DIR] [--work DIR] [--clean] [--no-smoke-test]

Installs nothing: PyInstaller comes with ``pip install -e ".[build]"``. The result is a
one-folder app, DIST/matting-studio/matting-studio (default DIST: dist/), the same command
as a pip install. The smoke test runs the built program as a user would: ``--version``,
``cut`` on the bundled sample with the classical method and with the networks (which
proves the weights are found inside the bundle), and the desktop app for a few seconds
without a screen. It prints the build time and the bundle size; exit status 0 when the
build and every check pass, 1 otherwise.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "build.spec"
APP_NAME = "matting-studio"
SAMPLE_PHOTO = REPO / "resources" / "samples" / "product.jpg"
SAMPLE_PLATE = REPO / "resources" / "samples" / "product_plate.jpg"
MODELS = REPO / "resources" / "models"
RUN_TIMEOUT = 900  # seconds for one headless run; the build machines are shared and slow


class SmokeTestFailed(RuntimeError):
    """The built program did not behave as the installed command does."""


def pyinstaller_available() -> bool:
    return importlib.util.find_spec("PyInstaller") is not None


def executable_path(dist: Path) -> Path:
    """The built program inside ``dist`` (it may not exist)."""
    return Path(dist) / APP_NAME / (APP_NAME + (".exe" if sys.platform == "win32" else ""))


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) under ``folder``, symbolic links not followed."""
    total = count = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
            count += 1
    return total, count


def build(dist: Path, work: Path, clean: bool = False, log: Optional[Path] = None) -> float:
    """Run PyInstaller on build.spec into ``dist`` (intermediate files in ``work``); returns the seconds taken.

    PyInstaller's log goes to ``log`` (default WORK/pyinstaller.log); raises SmokeTestFailed with its
    tail if the build fails.
    """
    if clean and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    log = log or work / "pyinstaller.log"
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm",
               "--distpath", str(dist), "--workpath", str(work)] + (["--clean"] if clean else [])
    start = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SmokeTestFailed(f"PyInstaller failed (exit {code}); the end of {log}:\n{tail}")
    return seconds


def app_env(config_home: Optional[Path] = None) -> dict:
    """The environment for running the built program: no weights override (the bundled weights must be
    found), no Python paths, and optionally a private settings folder."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MATTING_STUDIO_MODELS", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    if config_home is not None:
        env["XDG_CONFIG_HOME"] = str(config_home)
    return env


def run_app(exe: Path, args: Sequence[str], cwd: Path, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], cwd=cwd, env=app_env(cwd / "config"), capture_output=True,
                          text=True, timeout=timeout)


def check_rgba_png(path: Path, size: tuple[int, int]) -> str:
    """Raise SmokeTestFailed unless ``path`` is a PNG with an alpha channel of ``size`` (width, height)."""
    from PIL import Image

    if not path.is_file():
        raise SmokeTestFailed(f"{path} was not written")
    with Image.open(path) as image:
        if image.format != "PNG" or image.mode not in ("RGBA", "LA") or image.size != size:
            raise SmokeTestFailed(f"{path} is a {image.format} {image.mode} {image.size[0]}x{image.size[1]} "
                                  f"image, expected a {size[0]}x{size[1]} PNG with alpha")
        return f"{image.size[0]}x{image.size[1]} {image.mode} PNG"


def check_cut(exe: Path, tmp: Path, method: str) -> str:
    """Cut the bundled sample out with ``method``; returns a one-line summary."""
    from PIL import Image

    out = tmp / f"out-{method}.png"
    args = ["cut", str(SAMPLE_PHOTO), "--plate", str(SAMPLE_PLATE), "-o", str(out), "--method", method, "--force"]
    start = time.perf_counter()
    done = run_app(exe, args, tmp)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SmokeTestFailed(f"cut --method {method} exited with {done.returncode}:\n{done.stderr}{done.stdout}")
    with Image.open(SAMPLE_PHOTO) as photo:
        size = photo.size
    summary = check_rgba_png(out, size)
    output = "\n    ".join(done.stdout.strip().splitlines())
    return f"cut --method {method}: exit 0, {summary} in {seconds:.1f} s\n    {output}"


def check_gui_starts(exe: Path, tmp: Path, seconds: float = 20.0) -> str:
    """Start the desktop app without arguments on Qt's offscreen platform; it must still be running after
    ``seconds`` with no traceback on stderr. Returns a one-line summary."""
    env = app_env(tmp / "config")
    env["QT_QPA_PLATFORM"] = "offscreen"
    err_path = tmp / "gui-stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen([str(exe)], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
            mapped = _mapped_libraries(proc.pid) if proc.poll() is None else ""
            exited = proc.poll()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    stderr = err_path.read_text(errors="replace")
    if exited is not None:
        raise SmokeTestFailed(f"the desktop app exited with {exited} within {seconds:g} s:\n{stderr}")
    if "Traceback" in stderr or "Error:" in stderr:
        raise SmokeTestFailed(f"the desktop app reported an error:\n{stderr}")
    loaded = [name for name in ("libqoffscreen", "libQt6Widgets", "libtorch_cpu") if name in mapped]
    detail = f"; loaded: {', '.join(loaded)}" if loaded else ""
    said = repr(stderr.strip()) if stderr.strip() else "empty"
    return f"desktop app (offscreen): running after {seconds:g} s, stderr {said}{detail}"


def _mapped_libraries(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:  # not Linux
        return ""


def smoke_test(dist: Path, tmp: Path, gui_seconds: float = 20.0) -> list[str]:
    """Run every check on the built program; returns their summaries, raises SmokeTestFailed on the first failure."""
    from core import __version__

    exe = executable_path(dist)
    if not exe.is_file():
        raise SmokeTestFailed(f"{exe} was not built")
    lines = []
    done = run_app(exe, ["--version"], tmp, timeout=120)
    expected = f"{APP_NAME} {__version__}"
    if done.returncode != 0 or done.stdout.strip() != expected:
        raise SmokeTestFailed(f"--version exited with {done.returncode}, printed {done.stdout!r} "
                              f"(expected {expected!r}):\n{done.stderr}")
    lines.append(f"--version: exit 0, {done.stdout.strip()}")
    lines.append(check_cut(exe, tmp, "classical"))
    if any(MODELS.glob("*.pt")):
        lines.append(check_cut(exe, tmp, "network"))
    if gui_seconds > 0:
        lines.append(check_gui_starts(exe, tmp, gui_seconds))
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Build the one-folder desktop app with PyInstaller and smoke-test it.")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=REPO / "build", help="PyInstaller's work folder (default: build/)")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache and work folder first")
    parser.add_argument("--no-smoke-test", dest="smoke", action="store_false", help="only build")
    parser.add_argument("--gui-seconds", type=float, default=20.0,
                        help="how long the desktop app must keep running in the smoke test (0: skip it)")
    args = parser.parse_args(argv)
    if not pyinstaller_available():
        print('build_app: PyInstaller is not installed; install it with: pip install -e ".[build]"', file=sys.stderr)
        return 1
    dist, work = args.dist.resolve(), args.work.resolve()
    sys.path.insert(0, str(REPO))  # the smoke test compares with core.__version__
    try:
        print(f"build_app: pyinstaller {SPEC.name} -> {executable_path(dist)} (log: {work / 'pyinstaller.log'})",
              flush=True)
        seconds = build(dist, work, clean=args.clean)
        size, files = folder_size(dist / APP_NAME)
        print(f"build_app: built in {seconds:.0f} s; bundle {dist / APP_NAME}: {size / 2**20:.0f} MiB in {files} files",
              flush=True)
        if args.smoke:
            with tempfile.TemporaryDirectory(prefix="ms-smoke-") as tmp:
                for line in smoke_test(dist, Path(tmp), args.gui_seconds):
                    print(f"smoke test: {line}", flush=True)
            print("build_app: smoke test passed")
    except SmokeTestFailed as err:
        print(f"build_app: {err}", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as err:
        print(f"build_app: {' '.join(map(str, err.cmd))} did not finish within {err.timeout:g} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
