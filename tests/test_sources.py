"""The user's sources through links: one walk and one protection rule, the same on the local engine and on Ray.
Sources are checksummed before and after every case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from colorizer.cli import main
from colorizer.images import find_images
from colorizer.sources import walk_folder, writes_over_source
from tests.conftest import colour_photo, tree_hashes


def photos(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        colour_photo(64 + 8 * i, 48, seed=i).save(folder / f"p{i}.jpg", quality=90)
    return folder


def test_a_walk_follows_links_once_and_names_what_it_cannot_read(tmp_path):
    root = photos(tmp_path / "fl", 2)
    (root / "a.jpg").symlink_to("b.jpg")
    (root / "b.jpg").symlink_to("a.jpg")  # a loop
    (root / "gone.jpg").symlink_to("nowhere.jpg")  # dangling
    (root / "zero.jpg").symlink_to("/dev/zero")  # a device
    (root / "sub").symlink_to(".")  # a folder link to itself
    (root / "up").mkdir()
    (root / "up" / "top").symlink_to("..")  # a link to the folder above
    problems: list = []
    found = find_images(root, problems=problems)
    assert [p.name for p in found] == ["p0.jpg", "p1.jpg"]
    reasons = {Path(p).name: r for p, r in problems}
    assert "loop" in reasons["a.jpg"] and "loop" in reasons["b.jpg"]
    assert "to nothing" in reasons["gone.jpg"] and "not a regular file" in reasons["zero.jpg"]
    assert "reached again" in reasons["sub"] and "reached again" in reasons["top"]
    assert sum(len(names) for _, names in walk_folder(root)) == 2  # every real folder once: no copies


def test_an_output_is_refused_wherever_it_lands_on_a_source(tmp_path):
    source = photos(tmp_path / "g3", 1) / "p0.jpg"
    (tmp_path / "g3link").symlink_to("g3")
    assert writes_over_source(tmp_path / "g3link" / "p0.jpg", [source])
    assert writes_over_source(Path(os.path.relpath(source)), [source])
    assert writes_over_source(tmp_path / "elsewhere.jpg", [source]) is None


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_link_loop_in_a_folder_is_named_and_the_rest_is_coloured(tmp_path, capsys, engine):
    if engine == "ray":
        pytest.importorskip("ray")
    root = photos(tmp_path / "fl", 2)
    (root / "a.jpg").symlink_to("b.jpg")
    (root / "b.jpg").symlink_to("a.jpg")
    (root / "gone.jpg").symlink_to("nowhere.jpg")
    (root / "dl").symlink_to(".")
    before = tree_hashes(root)
    out = tmp_path / "out"
    code = main(["colorize", str(root), "--out", str(out), "--engine", engine])
    err = capsys.readouterr().err
    assert code == 1  # something failed: said, and the rest written
    assert sorted(p.name for p in out.rglob("*.jpg")) == ["p0.jpg", "p1.jpg"]
    assert "a.jpg" in err and "loop" in err and "gone.jpg" in err and "to nothing" in err
    assert tree_hashes(root) == before


@pytest.mark.parametrize("engine", ["local", "ray"])
@pytest.mark.parametrize("direction", ["out is a link to the sources", "the sources are a link to out"])
def test_out_through_a_link_to_the_sources_is_refused_up_front(tmp_path, capsys, engine, direction):
    if engine == "ray":
        pytest.importorskip("ray")
    real_folder = photos(tmp_path / "g3", 3)
    (tmp_path / "g3link").symlink_to("g3")
    source, out = (real_folder, tmp_path / "g3link")
    if direction != "out is a link to the sources":
        source, out = tmp_path / "g3link", real_folder
    before = tree_hashes(real_folder)
    argv = ["colorize", str(source), "--out", str(out), "--engine", engine, "--overwrite"]
    assert main(argv) == 2
    assert "input folder" in capsys.readouterr().err
    assert tree_hashes(real_folder) == before
    # spelt relative to where the command runs, against an absolute --out: the same folder, refused the same
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        assert main(["colorize", "g3", "--out", str(real_folder), "--engine", engine]) == 2
    finally:
        os.chdir(cwd)
    assert tree_hashes(real_folder) == before


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_an_input_folder_inside_out_never_has_its_files_replaced(tmp_path, capsys, engine):
    """`colorize out/sub --out out`: out/sub/sub/p.jpg's output is out/sub/p.jpg, itself a source."""
    if engine == "ray":
        pytest.importorskip("ray")
    out = tmp_path / "out"
    inner = photos(out / "sub", 1)
    photos(inner / "sub", 1)
    before = tree_hashes(inner)
    main(["colorize", str(inner), "--out", str(out), "--engine", engine, "--overwrite"])
    assert tree_hashes(inner) == before
    assert "never modified" in capsys.readouterr().err
