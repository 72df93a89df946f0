"""`vidpipe eval`: the text table and --json output, and bad input as one `error:` line."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from test_bad_input import run_cli

from vidpipe.cli.main import main
from vidpipe.evaluate.coco import evaluate

CATEGORIES = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"},
              {"id": 90, "name": "toothbrush"}]  # fmt: skip
OBJECTS = [(1, 1, 0), (1, 3, 200), (2, 3, 0), (2, 18, 200), (3, 18, 0), (3, 3, 400)]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert needle in lines[0] and "Traceback" not in err


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """GT: person 1, car 3, dog 2, toothbrush 0 objects; predictions: person right, one car
    missed, dogs shifted to IoU ~0.7 -> person 1.0 > car > dog, toothbrush undefined."""
    anns = [{"id": i + 1, "image_id": im, "category_id": cat, "bbox": [x, 10, 100, 100],
             "area": 10000, "iscrowd": 0} for i, (im, cat, x) in enumerate(OBJECTS)]  # fmt: skip
    gt = {"images": [{"id": i} for i in (1, 2, 3)], "annotations": anns, "categories": CATEGORIES}
    preds = []
    for a in anns:
        x, y, w, h = a["bbox"]
        if a["category_id"] == 18:
            x += 18  # IoU 82/118 = 0.695
        if a["id"] != 6:  # the last car is missed
            preds.append({"image_id": a["image_id"], "category_id": a["category_id"],
                          "bbox": [x, y, w, h], "score": 0.8})  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    return tmp_path / "pred.json", tmp_path / "gt.json"


def table(out: str) -> list[tuple[str, str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("class "))
    return [tuple(line.split()) for line in lines[start + 1 :]]


def test_text_output(capsys, files):
    pred, gt = files
    report = evaluate(pred, gt)
    code, out, err = run(capsys, "eval", "--pred", str(pred), "--gt", str(gt))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"mAP@[.5:.95]  {report.map_50_95:.4f}"
    assert lines[1] == f"mAP@.5        {report.map_50:.4f}"
    assert "images 3, predictions 5" in out
    rows = table(out)
    assert [name for name, _ in rows] == ["person", "car", "dog", "toothbrush"]  # by AP
    assert rows[0] == ("person", "1.0000") and rows[-1] == ("toothbrush", "-")
    assert rows[2] == ("dog", f"{report.per_class['dog']:.4f}")
    assert float(rows[2][1]) == pytest.approx(0.4, abs=1e-4)  # IoU 0.695: 4 of 10 thresholds
    assert float(rows[1][1]) == pytest.approx(67 / 101, abs=1e-4)  # recall 2/3: points 0..0.66
    _, by_name, _ = run(capsys, "eval", "--pred", str(pred), "--gt", str(gt), "--sort", "name")
    assert [name for name, _ in table(by_name)] == ["car", "dog", "person", "toothbrush"]


def test_json_output(capsys, files):
    pred, gt = files
    code, out, _ = run(capsys, "eval", "--pred", str(pred), "--gt", str(gt), "--json")
    assert code == 0 and len(out.splitlines()) == 1
    data = json.loads(out)
    assert data == json.loads(json.dumps(asdict(evaluate(pred, gt))))
    assert set(data) == {"map_50_95", "map_50", "per_class", "n_images", "n_predictions"}
    assert (
        data["per_class"]["person"] == pytest.approx(1.0)
        and data["per_class"]["toothbrush"] is None
    )
    assert data["map_50"] == pytest.approx((1 + 1 + 67 / 101) / 3)


ROW_IMAGE_7 = {"image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD = {  # case: (make the bad file from tmp_path, which option it goes to, message text)
    "missing-pred": (lambda d: d / "nope.json", "--pred", "no such predictions file"),
    "missing-gt": (lambda d: d / "nope.json", "--gt", "no such ground truth file"),
    "directory": (lambda d: d, "--pred", "is a directory"),
    "invalid-json": (lambda d: _write(d / "b.json", "[{,"), "--pred", "not valid JSON"),
    "empty-file": (lambda d: _write(d / "e.json", ""), "--gt", "not valid JSON"),
    "gt-structure": (lambda d: _write(d / "g.json", '{"images": []}'), "--gt", "no annotations"),
    "pred-structure": (lambda d: _write(d / "p.json", '{"a": 1}'), "--pred", "JSON array"),
    "pred-rows": (lambda d: _write(d / "p.json", '[{"image_id": 1}]'), "--pred", "has no"),
    "pred-image": (lambda d: _write(d / "p.json", json.dumps([ROW_IMAGE_7])), "--pred", "id 7"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_error_line(capsys, files, tmp_path, case):
    pred, gt = files
    make, option, needle = BAD[case]
    args = {"--pred": str(pred), "--gt": str(gt), option: str(make(tmp_path))}
    code, out, err = run(capsys, "eval", *(x for kv in args.items() for x in kv))
    assert out == ""
    assert_one_error_line(code, err, needle)


def test_bad_options(capsys, files):
    pred, gt = files
    code, _, err = run(capsys, "eval", "--pred", str(pred))
    assert_one_error_line(code, err, "--gt")
    code, _, err = run(capsys, "eval", "--pred", str(pred), "--gt", str(gt), "--sort", "size")
    assert_one_error_line(code, err, "--sort must be ap or name")


def test_console_script_bad_input(files, tmp_path):
    pred, gt = files
    bad = _write(tmp_path / "bad.json", "not json at all")
    for args in (["--pred", str(tmp_path / "missing.json"), "--gt", str(gt)],
                 ["--pred", str(pred), "--gt", str(bad)]):  # fmt: skip
        result = run_cli("eval", *args)
        assert_one_error_line(result.returncode, result.stderr, "")
        assert result.stdout == ""
    result = run_cli("eval", "--pred", str(pred), "--gt", str(gt), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["n_predictions"] == 5
