"""Planning a batch: which photo is cut against which plate, and where each output goes.

Three ways to pair (``plan_batch``): one plate for a whole folder (a tripod set-up),
plates named after their photos (NAME.jpg beside NAME_plate.jpg), or a CSV mapping.
Everything is checked before any work starts, so a typo costs no time.
"""
from __future__ import annotations

import csv
import fnmatch
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import MattingError
from .export import FORMATS, ExportOptions
from .imageio import READ_SUFFIXES

#: A file whose name ends with one of these (before the suffix) is a plate, never a photo.
PLATE_TAGS = ("_plate", "-plate", "_back", "-back")
OUTPUT_SUFFIXES = {"png": ".png", "webp": ".webp", "tiff": ".tif"}
_SUFFIX_FORMATS = {".png": "png", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff"}


@dataclass(frozen=True)
class BatchJob:
    """One photo to cut against its plate, and the file to write."""

    photo: Path
    plate: Path
    output: Path


def plan_batch(input_dir=None, *, plate=None, pattern: Optional[str] = None, pairs_csv=None, output_dir,
               export: ExportOptions = ExportOptions()) -> list[BatchJob]:
    """The jobs for a folder of photos, or for a pairs CSV.

    plate: one plate for every photo (a tripod set-up). Without it each photo NAME.jpg
        takes the plate beside it named NAME_plate.*, NAME-plate.* or NAME_back.*.
    pattern: which files in ``input_dir`` are photos (e.g. "*.jpg", case-insensitive);
        default every JPEG, PNG, TIFF, WebP and BMP. Plates are never photos. Natural order.
    pairs_csv: instead of a folder, a CSV with a header ``photo,plate[,output]``; photo and
        plate paths are relative to the CSV, output names relative to ``output_dir``.
    Outputs are ``output_dir/NAME`` + the format's suffix (.png, .webp, .tif).
    Raises MattingError (one sentence) for a missing folder, CSV or plate, no photos,
    two photos writing the same output, or an output that would overwrite an input.
    """
    output_dir = Path(output_dir).expanduser()
    fmt = export.format or "png"
    if fmt not in FORMATS:
        raise MattingError(f"format {fmt!r} is not supported; choose {', '.join(FORMATS)}")
    if pairs_csv is not None:
        if input_dir is not None:
            raise MattingError("give either a folder of photos or a pairs CSV, not both "
                               "(the CSV's paths are relative to the CSV)")
        if plate is not None:
            raise MattingError("the pairs CSV names each photo's plate; drop the single plate")
        jobs = _jobs_from_csv(Path(pairs_csv).expanduser(), output_dir, export.format)
    else:
        if input_dir is None:
            raise MattingError("give the folder of photos, or a pairs CSV")
        folder = _check_folder(Path(input_dir).expanduser())
        if output_dir.resolve() == folder.resolve():
            raise MattingError("is also the photo folder; choose another output folder so that "
                               "cut-outs are never taken for photos", output_dir)
        plate = _check_plate(Path(plate).expanduser()) if plate is not None else None
        photos = _list_photos(folder, pattern, plate)
        pairs = [(p, plate) for p in photos] if plate is not None else _pair_by_name(folder, photos)
        jobs = [BatchJob(p, q, output_dir / (p.stem + OUTPUT_SUFFIXES[fmt])) for p, q in pairs]
    _check_outputs(jobs)
    return jobs


def natural_key(name: str) -> list:
    """Sort key putting "IMG_2" before "IMG_10" (case-insensitive)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def is_plate_name(path: Path) -> bool:
    return path.stem.lower().endswith(PLATE_TAGS)


def _check_folder(folder: Path) -> Path:
    if not folder.exists():
        raise MattingError("folder not found; check the path", folder)
    if not folder.is_dir():
        raise MattingError("is a file, not a folder; give the folder that holds the photos", folder)
    return folder


def _check_plate(plate: Path) -> Path:
    if not plate.exists():
        raise MattingError("plate not found; check the path and the file name", plate)
    if plate.is_dir():
        raise MattingError("is a folder; the plate must be one image file", plate)
    return plate


def _image_files(folder: Path) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise MattingError(f"cannot be listed ({exc.strerror or exc}); check its permissions", folder) from None
    # hidden files include the writers' temporary files and macOS's ._ resource forks
    return [p for p in entries if not p.name.startswith(".") and p.is_file()]


def _list_photos(folder: Path, pattern: Optional[str], plate: Optional[Path]) -> list[Path]:
    files = _image_files(folder)
    if pattern:
        matched = [p for p in files if fnmatch.fnmatchcase(p.name.lower(), pattern.lower())]
    else:
        matched = [p for p in files if p.suffix.lower() in READ_SUFFIXES]
    plate_key = plate.resolve() if plate is not None else None
    photos = [p for p in matched if not is_plate_name(p) and p.resolve() != plate_key]
    if not photos:
        what = f"match {pattern!r}" if pattern else "(JPEG, PNG, TIFF, WebP or BMP) are"
        raise MattingError(f"no photos {what} in this folder (plates do not count); check the folder "
                           "and the pattern", folder)
    return sorted(photos, key=lambda p: natural_key(p.name))


def _pair_by_name(folder: Path, photos: list[Path]) -> list[tuple[Path, Path]]:
    plates: dict[str, Path] = {}
    for p in sorted(_image_files(folder), key=lambda p: natural_key(p.name)):
        if p.suffix.lower() in READ_SUFFIXES and is_plate_name(p):
            plates.setdefault(p.stem.lower(), p)
    pairs, found = [], 0
    for photo in photos:
        plate = next((plates[k] for k in (photo.stem.lower() + tag for tag in PLATE_TAGS) if k in plates), None)
        found += plate is not None
        # a photo without a plate fails on its own at run time, naming the plate it expected
        pairs.append((photo, plate or photo.with_name(f"{photo.stem}_plate{photo.suffix}")))
    if not found:
        raise MattingError("no plates found beside the photos; name each plate NAME_plate.jpg (or NAME-plate, "
                           "NAME_back) beside NAME.jpg, or give one plate for the whole folder", folder)
    return pairs


def _jobs_from_csv(path: Path, output_dir: Path, fmt: Optional[str]) -> list[BatchJob]:
    if not path.is_file():
        raise MattingError("pairs CSV not found; check the path", path)
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MattingError(f"cannot be read as a UTF-8 CSV ({exc}); save it as CSV UTF-8", path) from None
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "photo" not in header or "plate" not in header:
        raise MattingError("the first line must name the columns: photo,plate (and optionally output)", path)
    column = {name: header.index(name) for name in ("photo", "plate", "output") if name in header}
    base, jobs = path.parent, []
    for line, row in enumerate(rows[1:], start=2):
        cells = {name: row[i].strip() if i < len(row) else "" for name, i in column.items()}
        if not any(cells.values()):
            continue
        if not cells["photo"] or not cells["plate"]:
            raise MattingError(f"line {line} needs both a photo and a plate", path)
        photo, plate = base / Path(cells["photo"]).expanduser(), base / Path(cells["plate"]).expanduser()
        for what, file in (("photo", photo), ("plate", plate)):
            if not file.is_file():
                raise MattingError(f"line {line}: the {what} {file} was not found; relative paths start at "
                                   "the CSV's folder", path)
        jobs.append(BatchJob(photo, plate, _csv_output(cells.get("output", ""), photo, output_dir, fmt, path, line)))
    if not jobs:
        raise MattingError("lists no photos; add one line photo,plate[,output] per photo after the header", path)
    return jobs


def _csv_output(name: str, photo: Path, output_dir: Path, fmt: Optional[str], path: Path, line: int) -> Path:
    if not name:
        return output_dir / (photo.stem + OUTPUT_SUFFIXES[fmt or "png"])
    output = output_dir / Path(name).expanduser()
    suffix_format = _SUFFIX_FORMATS.get(output.suffix.lower())
    if suffix_format is None:
        return output.with_name(output.name + OUTPUT_SUFFIXES[fmt or "png"])
    if fmt is not None and suffix_format != fmt:
        raise MattingError(f"line {line}: the output {name} does not end in {OUTPUT_SUFFIXES[fmt]} "
                           f"although the format is {fmt}; make them agree", path)
    return output


def _check_outputs(jobs: Sequence[BatchJob]) -> None:
    inputs = {p.resolve() for job in jobs for p in (job.photo, job.plate)}
    writers: dict[Path, BatchJob] = {}
    for job in jobs:
        key = job.output.resolve()
        if key in inputs:
            raise MattingError("would overwrite an input; choose another output folder or name", job.output)
        if key in writers:
            raise MattingError(f"{writers[key].photo.name} and {job.photo.name} would both be written here; "
                               "rename one of them or name the outputs in a pairs CSV", job.output)
        writers[key] = job
