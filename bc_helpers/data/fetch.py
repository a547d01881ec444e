"""Unpack and verify a downloaded Kaggle archive without ever harming data already in place.

Called by `data/fetch.sh` after the Kaggle client has downloaded the archive:
`python -m bc_helpers.data.fetch --dataset idc --archive FILE.zip --out data/raw/idc`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from ..errors import WorkbookError
from ..files import write_json_atomic
from .datasets import index_dataset

MARKER = ".fetched.json"
# Images each full Kaggle dataset holds once indexed (IDC: the paper's count, duplicates removed).
EXPECTED_IMAGES = {"idc": 277_524}


def unpack(dataset: str, archive: Path, out: Path, expected: int | None = None) -> dict:
    """Check the archive, unpack it beside `out`, check layout and image count, then move it into place."""
    if (out / MARKER).exists():
        return json.loads((out / MARKER).read_text()) | {"status": "already there"}
    if out.exists():
        raise WorkbookError(f"{out} exists but was not made by data/fetch.sh: move it away (it is left untouched).")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            members = zf.infolist()
            if bad is not None:
                raise WorkbookError(
                    f"{archive}: member {bad} is corrupt: delete the archive and run data/fetch.sh again."
                )
            _check_space(archive, out.parent, sum(m.file_size for m in members))
            tmp = out.parent / f".{out.name}.partial"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                for member in members:
                    if not (tmp / member.filename).resolve().is_relative_to(tmp.resolve()):
                        raise WorkbookError(f"{archive}: member {member.filename} points outside the folder")
                    zf.extract(member, tmp)
                summary = _verify(dataset, tmp, expected)
                summary.update(archive=str(archive), fetched=datetime.now(timezone.utc).isoformat())
                write_json_atomic(tmp / MARKER, summary)
                os.rename(tmp, out)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except (zipfile.BadZipFile, EOFError) as exc:
        aside = archive.with_name(archive.name + ".incomplete")
        os.replace(archive, aside)
        raise WorkbookError(
            f"{archive} is not a complete zip archive ({exc}); it was moved to {aside.name}. "
            "Run data/fetch.sh again to download it afresh (data already in place is untouched)."
        ) from exc
    return summary | {"status": "unpacked"}


def _check_space(archive: Path, folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed * 1.05 > free:
        raise WorkbookError(
            f"unpacking {archive} needs {needed / 1e9:.1f} GB but {folder} has {free / 1e9:.1f} GB free: "
            "free some space and run data/fetch.sh again (nothing was changed)."
        )


def _verify(dataset: str, folder: Path, expected: int | None) -> dict:
    index = index_dataset(dataset, folder, use_cache=False)
    summary = index.summary()
    images = summary["images"]
    if expected is not None and images != expected:
        raise WorkbookError(
            f"the {dataset} archive holds {images:,} usable images, not the expected {expected:,}: "
            "the download is incomplete or the dataset changed; the archive is kept for inspection."
        )
    return {k: summary[k] for k in ("dataset", "layout", "images", "patients", "labels")} | {
        "skipped": len(summary["skipped"]),
        "duplicates_ignored": summary["duplicates_ignored"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bc_helpers.data.fetch", description=__doc__)
    parser.add_argument("--dataset", required=True, choices=["idc", "breakhis"])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--expect", type=int, default=None, help="expected image count (default: known count)")
    args = parser.parse_args(argv)
    expected = args.expect if args.expect is not None else EXPECTED_IMAGES.get(args.dataset)
    try:
        print(json.dumps(unpack(args.dataset, args.archive, args.out, expected), indent=2))
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
