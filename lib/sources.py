"""Raw datasets -> uint8 tensors: CIFAR-10 (the official archive, downloaded or local, or a local
image-folder tree) and scikit-learn's bundled digits (offline). `read` returns one plain dict:
{"train_images": uint8 NCHW, "train_labels": int64, "test_images", "test_labels",
 "classes": [names, index = label], "origin": what was read, "checksum": "sha256:<hex>"}."""
import bz2
import contextlib
import gzip
import hashlib
import lzma
import os
import posixpath
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np
import sklearn.datasets
import torch
from sklearn.model_selection import train_test_split
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import calculate_md5
from torchvision.io import ImageReadMode, decode_image

from lib.errors import UserError

# The official label order; alphabetical, so sorted image paths come out grouped by label.
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
ACCEPTED = ("the official cifar-10-python.tar.gz, its extracted cifar-10-batches-py folder, or an image-folder "
            "tree train/<class>/*.jpg|png and test/<class>/*.jpg|png (optionally inside one top folder), as a "
            "folder or a .tar/.tar.gz of one")
DIGITS_TEST = 360  # 20% of scikit-learn's 1797 digits, held out as the test split


def stratified_split(labels, size, seed):
    """(kept, taken) sorted index tensors: `size` indices taken with every class represented in proportion
    (scikit-learn's train_test_split with stratify, seeded by `seed`)."""
    n = len(labels)
    if not 0 < size < n:
        raise UserError(f"cannot take {size} of {n} images: the size must be between 1 and {n - 1}")
    try:
        kept, taken = train_test_split(np.arange(n), test_size=size, stratify=labels.numpy(), random_state=seed)
    except ValueError as err:  # e.g. fewer images taken or kept than there are classes
        raise UserError(f"cannot take a stratified {size} of {n} images: {err}") from err
    return torch.from_numpy(np.sort(kept)), torch.from_numpy(np.sort(taken))


def read(source, local_path, seed):
    """The dataset `source` (cifar10 | digits); for cifar10, from `local_path` or, when it is None,
    downloaded (seed: the digits' test split). Errors name the path, not the params entry: the caller
    does that (lib.errors.param)."""
    if source == "digits":
        return _digits(seed)
    if source != "cifar10":
        raise ValueError(f"unknown source {source!r}")  # lib.config allows only these two
    return _download() if local_path is None else _local(os.path.expanduser(local_path))


def _download():
    """The official archive through torchvision (md5-verified), cached in $CIFAR10_CACHE."""
    cache = os.environ.get("CIFAR10_CACHE") or os.path.expanduser("~/.cache/vgg11-pruning")
    try:
        out = _torchvision(cache, download=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad md5 is a RuntimeError
        raise UserError(f"could not download CIFAR-10 from {CIFAR10.url} into {cache} ({err}). Without a network, "
                        f"give a local copy ({ACCEPTED}), or use the digits source (scikit-learn's bundled digits, "
                        "offline).") from err
    archive = os.path.join(cache, CIFAR10.filename)
    checksum = _sha256_file(archive) if os.path.isfile(archive) else _sha256_folder(Path(cache, CIFAR10.base_folder))
    return {**out, "origin": f"official CIFAR-10 archive from {CIFAR10.url} (md5-verified, cached in {cache})",
            "checksum": checksum}


def _local(path):
    if not os.path.exists(path):
        raise UserError(f"{path!r} does not exist; expected {ACCEPTED}.")
    if os.path.isdir(path):
        batches = next((d for d in (path, os.path.join(path, CIFAR10.base_folder))
                        if os.path.isfile(os.path.join(d, "data_batch_1"))), None)
        if batches:
            return _batches_folder(batches)
        files = {p.relative_to(path).as_posix(): p.read_bytes() for p in Path(path).rglob("*")
                 if _is_image(p) and p.is_file()}
        return _image_tree(files, path, f"CIFAR-10 image folders in {path}", None)
    if _first_member(path).split("/")[0] == CIFAR10.base_folder:
        return _official_archive(path)
    with _reading(path), _tar_stream(path) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        files = {posixpath.normpath(m.name): tar.extractfile(m).read() for m in tar  # in order, nothing on disk
                 if m.isfile() and _is_image(Path(m.name))}
        stream.read()  # to the end: gzip, bz2 and xz check their end marker and checksum there
        if stream.tell() - tar.offset < 2 * tarfile.BLOCKSIZE:  # tarfile takes a cut archive for a shorter one
            raise tarfile.ReadError("the archive ends before its end-of-archive marker")
    return _image_tree(files, path, f"CIFAR-10 image folders in the archive {path}", _sha256_file(path))


# tarfile's "data" filter (no member outside the target folder, no links out, no devices), where this Python
# has it (3.11.4 and later; Debian 12's 3.11.2 has not): the official archive's md5 pins its members anyway
SAFE_EXTRACT = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _official_archive(path):
    """cifar-10-python.tar.gz: md5-checked, extracted to a temporary folder, read by torchvision."""
    found = calculate_md5(path)
    if found != CIFAR10.tgz_md5:
        raise UserError(f"{path} looks like the official CIFAR-10 archive but its md5 is {found}, "
                        f"not {CIFAR10.tgz_md5}: the file is corrupt or incomplete; download it again.")
    with tempfile.TemporaryDirectory() as root:
        with _reading(path), tarfile.open(path) as tar:
            tar.extractall(root, **SAFE_EXTRACT)
        out = _read_batches(root, path)
    return {**out, "origin": f"official CIFAR-10 archive {path} (md5-verified)", "checksum": _sha256_file(path)}


def _batches_folder(folder):
    """An extracted cifar-10-batches-py folder under any name (linked into a temporary root for torchvision)."""
    with tempfile.TemporaryDirectory() as root:
        os.symlink(os.path.abspath(folder), os.path.join(root, CIFAR10.base_folder))
        out = _read_batches(root, folder)
    return {**out, "origin": f"extracted official CIFAR-10 batches in {folder} (md5-verified per file)",
            "checksum": _sha256_folder(Path(folder))}


def _read_batches(root, shown):
    try:
        return _torchvision(root)
    except (RuntimeError, OSError) as err:
        raise UserError(f"cannot read the CIFAR-10 batches in {shown}: {err} (torchvision checks each file's md5; "
                        "the files are missing, modified or incomplete).") from err


def _torchvision(root, download=False):
    """Both splits of torchvision's CIFAR10 under `root` as tensors."""
    out = {}
    for split in ("train", "test"):
        ds = CIFAR10(root, train=split == "train", download=download)
        out[f"{split}_images"] = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_labels"] = torch.tensor(ds.targets, dtype=torch.int64)
    return {**out, "classes": list(ds.classes)}


def _image_tree(files, path, origin, checksum):
    """{relative path: bytes} of train/<class>/* and test/<class>/* (maybe under one top folder) -> dataset."""
    tops = {name.split("/")[0] for name in files}
    if len(tops) == 1 and not tops & {"train", "test"}:  # strip one wrapping folder
        files = {name.partition("/")[2]: data for name, data in files.items()}
    out = {"classes": list(CLASSES), "origin": origin, "checksum": checksum or _sha256_pairs(sorted(files.items()))}
    for split in ("train", "test"):
        names = sorted(n for n in files if n.count("/") == 2 and n.startswith(split + "/"))
        _check_classes({n.split("/")[1] for n in names}, split, path)
        out[f"{split}_images"] = torch.stack([_decode(files[n], n, path) for n in names])
        out[f"{split}_labels"] = torch.tensor([CLASSES.index(n.split("/")[1]) for n in names], dtype=torch.int64)
    return out


def _check_classes(found, split, path):
    missing, extra = [c for c in CLASSES if c not in found], sorted(found - set(CLASSES))
    if not found:
        problem = f"has no {split}/ folder with class folders"
    elif missing:
        problem = f"has no folder (or no images) for the class(es) {', '.join(missing)}"
    elif extra:
        problem = f"has unexpected class folder(s) {', '.join(extra)}"
    else:
        return
    raise UserError(f"{path}: the {split} split {problem}; expected {split}/<class>/ images for "
                    f"exactly the 10 CIFAR-10 classes ({', '.join(CLASSES)}). Accepted: {ACCEPTED}.")


def _decode(data, name, path):
    try:
        image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError) as err:
        raise UserError(f"{path}: cannot decode the image {name} ({err}).") from err
    if image.shape[1:] != (32, 32):
        raise UserError(f"{path}: image {name} is {image.shape[2]}x{image.shape[1]} pixels; "
                        "CIFAR-10 images are 32x32.")
    return image


def _digits(seed):
    """scikit-learn's 8x8 digits (0..16) -> 0..255, bilinear to 32x32, 3 channels; stratified 20% test."""
    digits = sklearn.datasets.load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) * (255 / 16)
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    images = x.round().clamp(0, 255).to(torch.uint8).repeat(1, 3, 1, 1)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train, test = stratified_split(labels, DIGITS_TEST, seed)
    return {"train_images": images[train], "train_labels": labels[train],
            "test_images": images[test], "test_labels": labels[test],
            "classes": [str(d) for d in range(10)],
            "origin": f"scikit-learn digits ({len(labels)} 8x8 scans, upsampled to 32x32)",
            "checksum": "sha256:" + hashlib.sha256(images.numpy().tobytes()).hexdigest()}


def _is_image(path):
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and "__MACOSX" not in path.parts


@contextlib.contextmanager
def _reading(path):
    """A truncated or corrupt archive becomes a UserError naming the file."""
    try:
        yield
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
        raise UserError(f"{path}: cannot read the archive, it is truncated, corrupt or not a "
                        f"tar archive ({type(err).__name__}: {err}). Accepted: {ACCEPTED}.") from err


def _tar_stream(path):
    """The archive's tar bytes as a file: gzip, bz2 and xz decompressed by their own modules."""
    with open(path, "rb") as f:
        magic = f.read(6)
    for prefix, module in ((b"\x1f\x8b", gzip), (b"BZh", bz2), (b"\xfd7zXZ\x00", lzma)):
        if magic.startswith(prefix):
            return module.open(path, "rb")
    return open(path, "rb")


def _first_member(path):
    """The normalised name of an archive's first entry other than '.' ('' when empty)."""
    with _reading(path), tarfile.open(path) as tar:
        names = (posixpath.normpath(m.name) for m in iter(tar.next, None))
        return next((n for n in names if n != "."), "")


def _sha256_file(path):
    with open(path, "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def _sha256_folder(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return _sha256_pairs((p.relative_to(folder).as_posix(), p.read_bytes()) for p in files)


def _sha256_pairs(pairs):
    """sha256 over (relative path, bytes) pairs, in the order given."""
    h = hashlib.sha256()
    for name, data in pairs:
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return "sha256:" + h.hexdigest()
