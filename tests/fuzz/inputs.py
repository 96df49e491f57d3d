"""Hostile inputs for the fuzz tests and the fuzz campaign (issue 11, item 6).

Mutational generators, driven by a ``random.Random`` (so a failing input is
reproduced from its seed), for the three kinds of file a user hands resorb:
case files (YAML/JSON), registry CSV files and masks (NIfTI, NRRD). Each
starts from a valid seed and mutates its structure (hostile values in any
field: huge numbers, NaN, dates in year 1, deep nesting, long strings, control
characters, wrong types) and then, sometimes, its bytes (flips, truncation,
inserted junk). :func:`run_cli` runs ``resorb`` in-process and classifies the
outcome: ``ok`` (exit 0), ``refused`` (exit 2 with one stderr line),
``multi-line`` (a refusal printing more than one line, e.g. a library warning
first), ``crash`` (any other exit or an escaped exception) or ``hang``.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import random
import signal
import struct
import time
import warnings
from pathlib import Path
from typing import Any

import yaml

__all__ = ["HOSTILE_VALUES", "case_file", "csv_files", "mask_file", "run_cli"]

HOSTILE_VALUES: list[Any] = [
    None,
    "",
    " ",
    "x" * 5000,
    -1,
    0,
    1,
    2**63,
    -(2**63) - 1,
    10**40,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    0.5,
    True,
    [],
    {},
    [1, 2, 3],
    {"a": 1},
    "0001-01-05",
    "9999-12-31",
    "1933-12-31",
    "2026-02-30",
    "L5-S1",
    "sequestration",
    "\u202e\u200b",
    "\x1b[31mred",
    "\x00",
    "=1+1",
    "../../etc/passwd",
    "/dev/zero",
    "1e999",
    "-0",
    "NaN",
    "null",
    "\ud7ff",
    "𝟙",
    [[[[[]]]]],
]

SEED_CASE: dict[str, Any] = {
    "patient": {"age_years": 44, "sex": "female"},
    "symptoms": {
        "onset_date": "2026-02-02",
        "leg_pain_nrs": 7,
        "back_pain_nrs": 4,
        "odi_answers": [3, 2, None, 4, 1, 0, 2, 3, 1, 2],
        "slr_degrees": 40,
        "motor_mrc": 4,
        "red_flags": [],
    },
    "herniation": {
        "level": "L5-S1",
        "morphology": "extrusion",
        "containment": "uncontained",
        "komori": 2,
        "msu": "2-AB",
        "rim_enhancement": "complete",
        "canal_compromise_percent": 40,
    },
    "mri": [
        {"date": "2026-02-20", "volume_mm3": 1500},
        {"date": "2026-06-20", "diameters_mm": [6.5, 9.0, 11.0]},
    ],
    "therapies": [{"name": "nsaid", "start": "2026-02-05", "end": "2026-03-01"}],
}


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return root


def _delete(root: Any, path: tuple) -> Any:
    if not path:
        return root
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return root


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(5)
    b = bytearray(data)
    if not b:
        return bytes(rng.randbytes(rng.randrange(1, 64)))
    if kind == 0:  # flip bytes
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
    elif kind == 1:  # truncate
        b = b[: rng.randrange(len(b))]
    elif kind == 2:  # insert junk
        i = rng.randrange(len(b) + 1)
        b[i:i] = rng.randbytes(rng.randrange(1, 32))
    elif kind == 3:  # duplicate a chunk
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randrange(1, 200))
        b[j:j] = b[i:j] * rng.randrange(1, 20)
    else:  # swap two chunks
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        b = b[j:] + b[i:j] + b[:i]
    return bytes(b)


def _deep(depth: int, as_json: bool) -> str:
    return (
        ("[" * depth + "]" * depth)
        if as_json
        else ("a:\n" + "".join("  " * i + "- \n" for i in range(1, min(depth, 400))))
    )


def case_file(rng: random.Random) -> tuple[str, bytes]:
    """A mutated case file: ``(suffix, content)``."""
    as_json = rng.random() < 0.4
    special = rng.random()
    if special < 0.03:
        return (".json" if as_json else ".yaml"), _deep(
            rng.choice([50, 5000, 200_000]), as_json
        ).encode()
    if special < 0.05:  # an alias bomb (YAML) or a huge file
        if as_json:
            return (
                ".json",
                b'{"herniation": {"level": "L5-S1", "morphology": "extrusion"}, '
                b'"mri": ['
                + b'{"date": "2026-01-01", "volume_mm3": 1},' * 150_000
                + b'{"date": "2026-01-01", "volume_mm3": 1}]}',
            )
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        return ".yaml", (bomb + "herniation: {level: L5-S1, morphology: extrusion}\n").encode()
    case = copy.deepcopy(SEED_CASE)
    for _ in range(rng.randrange(1, 4)):
        paths = _paths(case)
        path = rng.choice(paths)
        op = rng.random()
        if op < 0.6:
            case = _set(case, path, copy.deepcopy(rng.choice(HOSTILE_VALUES)))
        elif op < 0.8 and path:
            case = _delete(case, path)
        elif isinstance(case, dict):
            case[rng.choice(["unknown", "mri", "patient", "x" * 300])] = rng.choice(HOSTILE_VALUES)
    if as_json:
        text = json.dumps(case, allow_nan=True, default=str)
    else:
        try:
            text = yaml.safe_dump(case, allow_unicode=True)
        except yaml.YAMLError:
            text = json.dumps(case, allow_nan=True, default=str)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.35:
        data = _mutate_bytes(rng, data)
    return (".json" if as_json else ".yaml"), data


SEED_CSV = {
    "patients.csv": "pseudonym,birth_year,sex,site,onset_date\n"
    "P-1,1980,female,north,2026-01-02\nP-2,1975,male,,\n",
    "visits.csv": "pseudonym,date,leg_pain_nrs,back_pain_nrs,vas_mm,odi_answers,joa_total,"
    "rmdq,motor_mrc,slr_degrees,red_flags,notes\n"
    "P-1,2026-01-10,7,4,,3;2;x;4;1;0;2;3;1;2,20,10,4,40,,first visit\n"
    'P-2,2026-02-01,3,,,,,,,,cancer_history,"two\r\nlines"\n',
    "mri.csv": "pseudonym,date,level,source,method,volume_mm3,diameters_mm\n"
    "P-1,2026-01-10,L5-S1,manual,,1500,\nP-1,2026-05-10,L5-S1,diameters,,,6.5;9;11\n",
}


def csv_files(rng: random.Random) -> dict[str, bytes]:
    """A mutated set of registry CSV files (``name -> content``)."""
    out = {}
    for name, text in SEED_CSV.items():
        if rng.random() < 0.15:
            continue  # a file missing
        rows = [line.split(",") for line in text.splitlines()]
        for _ in range(rng.randrange(0, 4)):
            r = rng.randrange(len(rows))
            c = rng.randrange(len(rows[r]))
            v = rng.choice(HOSTILE_VALUES)
            rows[r][c] = json.dumps(v, default=str) if not isinstance(v, str) else v
        if rng.random() < 0.1:
            rows[0].append("extra")
        if rng.random() < 0.1:
            rows.append(rows[-1] * rng.randrange(1, 50))
        data = "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")
        if rng.random() < 0.3:
            data = _mutate_bytes(rng, data)
        if rng.random() < 0.05:
            data = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
        out[name] = data
    return out


def _nifti(rng: random.Random) -> bytes:
    import nibabel as nib
    import numpy as np

    shape = (rng.randrange(1, 12), rng.randrange(1, 12), rng.randrange(1, 6))
    arr = (np.random.default_rng(rng.randrange(2**32)).random(shape) > 0.5).astype(np.uint8)
    affine = np.diag([rng.choice([0.5, 1.0, 3.0]), 1.0, 4.0, 1.0])
    img = nib.Nifti1Image(arr, affine)
    raw = bytearray(img.to_bytes())
    field = rng.randrange(8)
    if field == 0:  # dim[1..3]: huge dimensions in a small file
        struct.pack_into(
            "<hhhh", raw, 40, 3, *(rng.choice([1, 300, 32767, -5, 0]) for _ in range(3))
        )
    elif field == 1:  # pixdim: zero, negative, NaN, huge spacing
        struct.pack_into(
            "<fff", raw, 80, *(rng.choice([0.0, -1.0, float("nan"), 1e30, 1.0]) for _ in range(3))
        )
    elif field == 2:  # datatype / bitpix
        struct.pack_into(
            "<hh", raw, 70, rng.choice([2, 4, 16, 64, 128, 255, 0, 1024]), rng.choice([8, 16, 0, 7])
        )
    elif field == 3:  # vox_offset beyond the file
        struct.pack_into("<f", raw, 108, rng.choice([0.0, 352.0, 1e9, -1.0, float("nan")]))
    elif field == 4:  # scaling
        struct.pack_into("<ff", raw, 112, rng.choice([0.0, float("inf"), -1.0, 1e38]), 0.0)
    elif field == 5:  # quaternion / sform garbage
        for off in range(252, 348, 4):
            if rng.random() < 0.3:
                struct.pack_into("<f", raw, off, rng.choice([float("nan"), 1e30, -1e30, 0.0]))
    data = bytes(raw)
    if field >= 6:
        data = _mutate_bytes(rng, data)
    return gzip.compress(data) if rng.random() < 0.5 else data


def _nrrd(rng: random.Random) -> tuple[bytes, bytes | None]:
    sizes = [rng.choice([2, 4, 8, 100000, 0, -3]) for _ in range(3)]
    header = {
        "NRRD": "NRRD0004",
        "type": rng.choice(["uint8", "int16", "float", "double", "bogus"]),
        "dimension": rng.choice(["3", "2", "4", "-1", "x"]),
        "sizes": " ".join(map(str, sizes)),
        "space directions": rng.choice(
            [
                "(1,0,0) (0,1,0) (0,0,1)",
                "(0,0,0) (0,1,0) (0,0,1)",
                "(nan,0,0) (0,1,0) (0,0,1)",
                "(1e30,0,0) (0,1,0) (0,0,1)",
                "none none none",
            ]
        ),
        "space": "left-posterior-superior",
        "encoding": rng.choice(["raw", "gzip", "ascii", "bzip2", "hex"]),
    }
    detached = rng.random() < 0.15
    if detached:
        header["data file"] = rng.choice(
            ["/etc/hostname", "../outside.raw", "data.raw", "/dev/zero", "LIST"]
        )
    lines = [header.pop("NRRD")] + [f"{k}: {v}" for k, v in header.items()]
    n = 1
    for s in sizes:
        n *= max(s, 0)
    body = bytes(rng.randrange(2) for _ in range(min(n, 512)))
    data = ("\n".join(lines) + "\n\n").encode() + (b"" if detached else body)
    if rng.random() < 0.3:
        data = _mutate_bytes(rng, data)
    return data, (body if detached else None)


def mask_file(rng: random.Random) -> tuple[str, bytes, bytes | None]:
    """A mutated mask: ``(suffix, content, detached data or None)``."""
    if rng.random() < 0.6:
        data = _nifti(rng)
        return (".nii.gz" if data[:2] == b"\x1f\x8b" else ".nii"), data, None
    data, detached = _nrrd(rng)
    return ".nrrd", data, detached


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout()


def run_cli(argv: list[str], *, timeout_s: float = 20.0) -> tuple[str, int, str, float]:
    """Run ``resorb ARGV`` in-process: ``(outcome, exit code, stderr, seconds)``.

    Warnings are shown as the installed command would show them (printed to
    stderr), so a refusal preceded by a library warning counts as multi-line.
    """
    import os
    import sys
    import tempfile

    from resorb.cli import main

    err, out = io.StringIO(), io.StringIO()
    # Library loggers hold the original stderr; capture file descriptor 2 as well.
    fd_capture = tempfile.TemporaryFile()  # noqa: SIM115 - closed after fd 2 is restored
    sys.__stderr__.flush()
    saved_fd = os.dup(2)
    os.dup2(fd_capture.fileno(), 2)
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    code: int | None = None
    outcome = ""
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(out),
        ):
            warnings.simplefilter("default")
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except _Timeout:
        outcome = "hang"
    except BaseException as exc:
        outcome = "crash"
        err.write(f"\nescaped {type(exc).__name__}: {exc}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        sys.__stderr__.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
    seconds = time.perf_counter() - t0
    fd_capture.seek(0)
    text = fd_capture.read().decode("utf-8", "replace") + err.getvalue()
    fd_capture.close()
    lines = [line for line in text.splitlines() if line.strip()]
    if not outcome:
        if code == 0:
            outcome = "ok"
        elif code == 2:
            outcome = "refused" if len(lines) == 1 else "multi-line"
        else:
            outcome = "crash"
        if "Traceback" in text:
            outcome = "crash"
    return outcome, code if code is not None else -1, text, seconds


def write_inputs(
    folder: Path, kind: str, rng: random.Random, *, registry_template: Path | None = None
) -> list[str]:
    """Write one mutated input of ``kind`` into ``folder``; returns the CLI arguments.

    ``registry_template``: a migrated, empty registry file copied in for a CSV import.
    """
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "case":
        suffix, data = case_file(rng)
        path = folder / f"case{suffix}"
        path.write_bytes(data)
        return ["assess", str(path), "--json"]
    if kind == "csv":
        for name, data in csv_files(rng).items():
            (folder / name).write_bytes(data)
        db = folder / "registry.db"
        if registry_template is not None:
            shutil.copyfile(registry_template, db)
        return ["registry", "import", str(folder), "--db", f"sqlite:///{db}", "--json"]
    suffix, data, detached = mask_file(rng)
    path = folder / f"mask{suffix}"
    path.write_bytes(data)
    if detached is not None:
        (folder / "data.raw").write_bytes(detached)
    return ["volume", str(path), "--json"]
