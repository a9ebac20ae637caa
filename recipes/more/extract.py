"""Bring the two larger photo collections of ../shared/datasets/MORE.md out of their fetched snapshots.

    python recipes/more/extract.py /work/.mirror runs/more/photos ../shared     # then: colorizer prepare ... (train.sh)

Reads each bare snapshot blob by blob (`git cat-file --batch`; one CSV of the cats-and-dogs snapshot is absent, so
`git archive` would fail), keeps the photos MORE.md says to keep, and writes them as three sources, one folder each:

- `caltech101`: Caltech-101's `101_ObjectCategories/` without `Faces` (its own source), `Faces_easy` (crops of
  `Faces`) and the grayscale files of `caltech101-gray.txt`; names keep the class (`airplanes__image_0001.jpg`)
- `caltech101-faces`: Caltech-101's `Faces` (people, offices): a source of its own so training can weigh it up
- `cats-dogs`: the cats-and-dogs set without `catsdogs-gray.txt`, exact duplicates (by SHA-256) and photos that
  look like a photo already in the pool or a held-out set (a 64-bit difference hash within 4 bits: `dog_breeds`
  comes partly from ImageNet)

Files are written byte for byte (JPEGs as they are). `OUT/manifest.tsv` records each kept photo: source, repository,
commit, path in the snapshot, SHA-256, and the photos left out with the reason; recipes/more/manifest.tsv.gz is the
copy the model card refers to. Nothing here is committed but this script and that manifest.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

COLLECTIONS = {
    "MachineLearning2020+Homework2-Caltech101": (
        "MachineLearning2020/Homework2-Caltech101",
        "101_ObjectCategories/",
        "caltech101-gray.txt",
    ),
    "chanakya2734+Image-classification-using-CNN": (
        "chanakya2734/Image-classification-using-CNN",
        "dataset/",
        "catsdogs-gray.txt",
    ),
}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
HASH_BITS_SAME = 4  # difference hashes this close are the same photo (resized or recompressed)


def git_dir(mirror: Path) -> Path:
    return mirror / "repo" / ".git" if (mirror / "repo" / ".git").is_dir() else mirror / "repo"


def blobs(repo: Path, prefix: str) -> list[tuple[str, str]]:
    """(blob sha, path) of every photo under prefix at HEAD."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "HEAD", prefix], check=True, capture_output=True, text=True
    ).stdout
    rows = []
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        _, kind, sha = meta.split()
        if kind == "blob" and path.lower().endswith(PHOTO_SUFFIXES):
            rows.append((sha, path))
    return rows


def read_blobs(repo: Path, shas: list[str]):
    """Yield the bytes of each blob, in order, through one `git cat-file --batch`."""
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )

    def feed():  # in a thread: git answers while it is still being asked, and both pipes are bounded
        proc.stdin.write("".join(sha + "\n" for sha in shas).encode())
        proc.stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    for _ in shas:
        header = proc.stdout.readline().decode().split()
        if len(header) < 3 or header[1] == "missing":
            yield None
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)  # the newline after each object
        yield data
    proc.wait()


def difference_hash(data: bytes) -> int | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            small = np.asarray(im.convert("L").resize((9, 8), Image.BILINEAR), dtype=np.int16)
    except Exception:  # noqa: BLE001 - an undecodable file is left out, with its reason
        return None
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def file_hash(path: Path) -> int | None:
    return difference_hash(path.read_bytes())


def near(hashes: np.ndarray, value: int) -> bool:
    x = np.bitwise_xor(hashes, np.uint64(value))
    bits = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    return bool((bits <= HASH_BITS_SAME).any())


def source_of(repo_name: str, path: str) -> str | None:
    if repo_name.endswith("Caltech101"):
        category = path.split("/")[1]
        if category == "Faces_easy":
            return None
        return "caltech101-faces" if category == "Faces" else "caltech101"
    return "cats-dogs"


def output_name(source: str, path: str) -> str:
    parts = path.split("/")[1:]  # without the collection's top folder
    return "__".join(parts) if source != "caltech101-faces" else parts[-1]


def main(mirrors: Path, out: Path, shared: Path) -> None:
    pool_files = [p for p in (shared / "photos").rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES]
    pool_files += [p for p in (shared / "datasets").rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES]
    with ProcessPoolExecutor() as ex:
        known = [h for h in ex.map(file_hash, pool_files, chunksize=32) if h is not None]
    known_hashes = np.array(known, dtype=np.uint64)
    print(f"{len(known_hashes)} photos already in the pool or held out", file=sys.stderr)
    rows, left_out, seen = [], [], set()
    for mirror_name, (repo_name, prefix, gray_list) in COLLECTIONS.items():
        repo = git_dir(mirrors / mirror_name)
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        gray = set((shared / "datasets" / gray_list).read_text().split())
        listed = blobs(repo, prefix)
        for (_, path), data in zip(listed, read_blobs(repo, [sha for sha, _ in listed]), strict=True):
            source = source_of(repo_name, path)
            reason = None
            if source is None:
                reason = "crop of Faces"
            elif path in gray:
                reason = "grayscale"
            elif data is None:
                reason = "absent from the snapshot"
            if reason is None:
                sha = hashlib.sha256(data).hexdigest()
                if sha in seen:
                    reason = "exact duplicate"
                else:
                    value = difference_hash(data)
                    if value is None:
                        reason = "not a readable image"
                    elif near(known_hashes, value):
                        reason = "same photo as one in the pool or a held-out set"
            if reason:
                left_out.append((repo_name, commit, path, reason))
                continue
            seen.add(sha)
            target = out / source / output_name(source, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            rows.append((source, repo_name, commit, path, sha))
        print(f"{repo_name}: {sum(r[1] == repo_name for r in rows)} kept", file=sys.stderr)
    lines = ["source\trepository\tcommit\tpath\tsha256"] + ["\t".join(r) for r in rows]
    lines += [f"left-out:{reason}\t{repo}\t{commit}\t{path}\t" for repo, commit, path, reason in left_out]
    (out / "manifest.tsv").write_text("\n".join(lines) + "\n")
    for source in sorted({r[0] for r in rows}):
        print(f"{source}: {sum(r[0] == source for r in rows)}", file=sys.stderr)
    print(f"left out: {len(left_out)}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
