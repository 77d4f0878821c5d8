"""The notes integration: list, read, search and add Markdown notes under /notes.

There is no network; the mounted folder is all this code touches. Every path named by the
agent is resolved with os.path.realpath and must stay inside the folder, so a symlink placed in
the notes cannot lead a read or a write elsewhere.
"""
import datetime
import os

from clawc import ToolError

NOTES_ROOT = "/notes"
NOTE_SUFFIX = ".md"
MATCH_TEXT_MAX = 200


def _real_root():
    return os.path.realpath(NOTES_ROOT)


def _is_inside(real_path, real_root):
    return real_path == real_root or real_path.startswith(real_root + os.sep)


def _resolve(relative):
    """The real location of a path relative to /notes; fails when it resolves outside."""
    real = os.path.realpath(os.path.join(NOTES_ROOT, relative))
    if not _is_inside(real, _real_root()):
        raise ToolError("%s is outside the notes folder" % relative)
    return real


def _walk_notes(top):
    """(relative path, real path) of every note under `top`, sorted by relative path.

    Hidden files and folders are skipped. A note whose real location is outside /notes (a
    symlink out) is skipped too rather than failing the whole walk: it is not one of the notes.
    """
    real_root = _real_root()
    found = []
    for folder, subfolders, files in os.walk(top):
        # Pruning in place stops os.walk from descending into hidden folders.
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.endswith(NOTE_SUFFIX):
                continue
            lexical = os.path.join(folder, name)
            real = os.path.realpath(lexical)
            if not _is_inside(real, real_root) or not os.path.isfile(real):
                continue
            relative = os.path.relpath(lexical, NOTES_ROOT).replace(os.sep, "/")
            found.append((relative, real))
    found.sort()
    return found


def _read_text(real):
    # Listing and searching must not fail on one badly encoded file, so they replace what is
    # not UTF-8; read_note decodes strictly instead.
    with open(real, encoding="utf-8", errors="replace", newline="") as f:
        return f.read()


def _title(relative, content):
    for line in content.split("\n"):
        if line.startswith("# "):
            return line[2:].strip()
    return os.path.basename(relative)[: -len(NOTE_SUFFIX)]


def _utc_timestamp(seconds):
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def list_notes(args, ctx):
    limit = args.get("limit", 100)
    folder = args.get("folder")
    top = NOTES_ROOT
    if folder is not None:
        real = _resolve(folder)
        if not os.path.isdir(real):
            raise ToolError("folder %s not found" % folder)
        top = os.path.join(NOTES_ROOT, folder)
    notes = []
    for relative, real in _walk_notes(top):
        status = os.stat(real)
        notes.append({
            "path": relative,
            "title": _title(relative, _read_text(real)),
            "bytes": status.st_size,
            "modified": _utc_timestamp(status.st_mtime),
        })
    # The walk is in path order and sort() is stable, so equal times stay sorted by path.
    notes.sort(key=lambda note: note["modified"], reverse=True)
    return {"notes": notes[:limit]}


def read_note(args, ctx):
    path = args["path"]
    real = _resolve(path)
    if not os.path.isfile(real):
        raise ToolError("note %s not found" % path)
    try:
        with open(real, encoding="utf-8", newline="") as f:
            content = f.read()
    except UnicodeDecodeError:
        raise ToolError("note %s is not UTF-8 text" % path) from None
    return {"path": path, "content": content}


def search_notes(args, ctx):
    needle = args["query"].lower()
    limit = args.get("limit", 50)
    matches = []
    for relative, real in _walk_notes(NOTES_ROOT):
        for number, line in enumerate(_read_text(real).split("\n"), start=1):
            if needle in line.lower():
                matches.append({
                    "path": relative,
                    "line": number,
                    "text": line.strip()[:MATCH_TEXT_MAX],
                })
                if len(matches) == limit:
                    return {"matches": matches}
    return {"matches": matches}


def create_note(args, ctx):
    path = args["path"]
    content = args["content"]
    real = _resolve(path)
    data = content.encode("utf-8")
    try:
        os.makedirs(os.path.dirname(real), exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        # A parent of the note is an existing file, not a folder.
        raise ToolError("cannot create note %s: a parent folder is a file" % path) from None
    try:
        # Mode "x" refuses an existing file atomically: no check-then-write race can overwrite.
        with open(real, "xb") as f:
            f.write(data)
    except FileExistsError:
        raise ToolError("note %s already exists" % path) from None
    return {"path": path, "bytes": len(data)}


def append_to_note(args, ctx):
    path = args["path"]
    real = _resolve(path)
    if not os.path.isfile(real):
        raise ToolError("note %s not found" % path)
    # "a+b" reads anywhere but always writes at the end, so the last byte can be checked and
    # the text appended through one handle.
    with open(real, "a+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size > 0:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write(args["text"].encode("utf-8"))
        f.flush()
        size = os.fstat(f.fileno()).st_size
    return {"path": path, "bytes": size}
