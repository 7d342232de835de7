"""Reading the small text files a user hands to sendlens (labels, codebooks, configs).

One place for the errors: which file, and what is wrong with it in words (the line of a
byte that is not UTF-8, a folder given for a file), instead of Python's `[Errno 2]` text.
"""

from __future__ import annotations

from pathlib import Path


class TextFileError(ValueError):
    """A file that cannot be read as UTF-8 text; the message names it."""


def unreadable(what: str, path: Path | str, exc: OSError) -> str:
    """Why a file could not be opened, in words: "labels file x.jsonl: no such file"."""
    if isinstance(exc, FileNotFoundError):
        return f"{what} {path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{what} {path}: a folder, not a file"
    return f"{what} {path}: cannot read it ({exc.strerror or exc})"


def read_utf8(path: Path | str, what: str) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped). `what` names the file's
    role in messages: "labels file", "codebook"..."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TextFileError(unreadable(what, path, exc)) from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # before decoding: positions stay the file's
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TextFileError(
            f"{what} {path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
