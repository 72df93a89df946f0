"""Input discovery, manifests, output stems and the OUTDIR boundary (vidpipe.batch.jobs)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from vidpipe.batch.jobs import VIDEO_EXTENSIONS, discover, inside_outdir, read_manifest
from vidpipe.errors import InputError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_folder_tree_is_mirrored_and_filtered(tmp_path: Path) -> None:
    src = tmp_path / "in"
    names = ["a.mp4", "b/c.MKV", "b/d/e.webm", "b/d/f.ts", "x.txt", "b/notes.md", ".hidden.mp4"]
    for name in names:
        _touch(src / name)
    specs = discover([str(src)], tmp_path / "out")
    # plain reference: every file with a video extension, hidden ones excluded
    expected = sorted(
        n.rsplit(".", 1)[0] for n in names
        if Path(n).suffix.lower() in VIDEO_EXTENSIONS and not Path(n).name.startswith(".")
    )  # fmt: skip
    assert sorted(s.stem for s in specs) == expected
    assert all(s.input.is_absolute() and s.error is None for s in specs)
    assert {s.stem: s.input for s in specs}["b/d/e"] == src / "b/d/e.webm"


def test_every_extension_is_found(tmp_path: Path) -> None:
    for ext in VIDEO_EXTENSIONS:
        _touch(tmp_path / "in" / f"clip{ext}")
    specs = discover([str(tmp_path / "in")], tmp_path / "out")
    assert len(specs) == len(VIDEO_EXTENSIONS) == 12


def test_outdir_inside_an_input_folder_is_not_an_input(tmp_path: Path) -> None:
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "out" / "a.mp4")  # an earlier run's output
    specs = discover([str(tmp_path)], tmp_path / "out")
    assert [s.stem for s in specs] == ["a"]


def test_single_files_use_their_name_and_duplicates_collapse(tmp_path: Path) -> None:
    f = _touch(tmp_path / "deep" / "clip.mov")
    specs = discover([str(f), str(f), str(tmp_path / "deep")], tmp_path / "out")
    assert [(s.stem, s.input) for s in specs] == [("clip", f)]


def test_collisions_are_disambiguated_deterministically(tmp_path: Path) -> None:
    a = _touch(tmp_path / "one" / "clip.mp4")
    b = _touch(tmp_path / "two" / "clip.mp4")
    c = _touch(tmp_path / "one" / "CLIP.mkv")  # same stem, case-insensitively
    stems = [s.stem for s in discover([str(a), str(b), str(c)], tmp_path / "out")]
    again = [s.stem for s in discover([str(c), str(b), str(a)], tmp_path / "out")]
    assert len(set(map(str.lower, stems))) == 3
    first = min((a, b, c), key=str)
    by_input = dict(zip([a, b, c], stems, strict=True))
    assert by_input[first] in ("clip", "CLIP")
    for path in {a, b, c} - {first}:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        assert by_input[path].endswith(f"-{digest}")
    assert dict(zip([c, b, a], again, strict=True)) == by_input


@pytest.mark.parametrize("bad", ["/etc/x.mp4", "../x.mp4", "a/../../x.mp4", "", "a/.."])
def test_inside_outdir_refuses_escapes(tmp_path: Path, bad: str) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError):
        inside_outdir(tmp_path / "out", bad)


def test_inside_outdir_follows_symlinks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / "link")
    with pytest.raises(InputError, match="outside"):
        inside_outdir(out, "link/x.mp4")
    assert inside_outdir(out, "sub/x.mp4") == Path(os.path.realpath(out)) / "sub" / "x.mp4"


def test_manifest_jsonl_and_csv(tmp_path: Path) -> None:
    _touch(tmp_path / "v" / "a.mp4")
    _touch(tmp_path / "v" / "b.mkv")
    out = tmp_path / "out"
    out.mkdir()
    rows = [
        {"input": "v/a.mp4", "output": "sets/first.mp4", "options": {"gamma": 1.5}},
        {"input": str(tmp_path / "v" / "b.mkv")},
        {"input": "v/a.mp4", "output": "../escape.mp4"},
        {"input": "v/b.mkv", "output": "/abs/x.mp4"},
    ]
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    csv_path = tmp_path / "m.csv"
    lines = ["input,output,options"]
    for r in rows:
        opts = json.dumps(r["options"]).replace('"', '""') if "options" in r else ""
        lines.append(f'{r["input"]},{r.get("output", "")},"{opts}"')
    csv_path.write_text("\n".join(lines) + "\n")
    for manifest in (jsonl, csv_path):
        specs = read_manifest(manifest, out)
        assert [s.input for s in specs] == [tmp_path / "v/a.mp4", tmp_path / "v/b.mkv"] * 2
        assert (specs[0].stem, specs[0].options, specs[0].error) == ("sets/first", {"gamma": 1.5},
                                                                     None)  # fmt: skip
        assert (specs[1].stem, specs[1].error) == ("b", None)
        assert "escapes" in specs[2].error and "relative" in specs[3].error


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.jsonl", "{not json\n", "not JSON"),
        ("m.jsonl", "[1, 2]\n", "JSON object"),
        ("m.jsonl", '{"output": "x"}\n', "no 'input'"),
        ("m.csv", "path,output\nx.mp4,y\n", "'input' column"),
        ("m.csv", b"\xff\xfe\x00garbage", "cannot read"),
    ],
)
def test_unreadable_manifests(tmp_path: Path, name: str, text: str | bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError, match=message):
        discover([str(path)], tmp_path / "out")


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        discover([str(tmp_path / "nope.mp4")], tmp_path / "out")
