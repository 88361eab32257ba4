"""lib.sources on tiny synthetic inputs: image-folder trees (folder / tar), official-format batches
(archive / folder / download), digits, and the user errors. The real local copy is read only when
CIFAR10_LOCAL points at it."""
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar
from torchvision.datasets import CIFAR10
from torchvision.datasets.utils import calculate_md5
from torchvision.io import write_jpeg, write_png

from lib import sources
from lib.errors import UserError, param

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")  # torchvision 0.29
CLASSES = sources.CLASSES
PER_CLASS = 2


@pytest.fixture(autouse=True)
def temp_root(tmp_path, monkeypatch):
    """Every temporary file goes to one folder, which must be empty after each test."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root
    assert list(root.iterdir()) == []


def pixel(label, i):
    return label * 20 + i


def write_tree(root, fmt="png", classes=CLASSES, size=32):
    """train/<class>/000i.<fmt> and test/<class>/000i.<fmt>, each image filled with pixel(label, i)."""
    write = write_png if fmt == "png" else write_jpeg
    for split in ("train", "test"):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(PER_CLASS):
                image = torch.full((3, size, size), pixel(label, i), dtype=torch.uint8)
                write(image, str(root / split / name / f"{i:04d}.{fmt}"))
    (root / "README.txt").write_text("not an image")
    (root / "train" / "cat" / "._0000.png").write_bytes(b"macOS resource fork, not an image")
    return root


def make_tar(src, dest, arcname, mode="w:gz"):
    with tarfile.open(dest, mode) as tar:
        tar.add(src, arcname=arcname)
    return dest


def sha256(path):
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def check_tree(data, tolerance=0):
    expected = torch.tensor([pixel(label, i) for label in range(10) for i in range(PER_CLASS)])
    for split in ("train", "test"):
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        assert images.shape == (10 * PER_CLASS, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.dtype == torch.int64 and labels.tolist() == [c for c in range(10) for _ in range(PER_CLASS)]
        assert (images.int() - expected.view(-1, 1, 1, 1)).abs().max() <= tolerance
    assert data["classes"] == list(CLASSES)
    assert data["checksum"].startswith("sha256:") and len(data["checksum"]) == 7 + 64


@pytest.mark.parametrize("wrap", [None, "cifar10-jpg"])
@pytest.mark.parametrize("kind", ["folder", "tar.gz", "tar"])
def test_image_tree(tmp_path, wrap, kind):
    tree = write_tree(tmp_path / "src" / (wrap or ""))
    path = tmp_path / "src"
    if kind != "folder":
        path = make_tar(tree, tmp_path / f"images.{kind}", wrap or ".", "w:gz" if kind == "tar.gz" else "w")
    data = sources.read("cifar10", str(path), seed=0)
    check_tree(data)
    assert str(path) in data["origin"]
    if kind != "folder":
        assert data["checksum"] == sha256(path)
    again = sources.read("cifar10", str(path), seed=1)
    assert again["checksum"] == data["checksum"] and torch.equal(again["train_images"], data["train_images"])


def test_folder_checksum_ignores_the_wrapping_folder_name_but_not_content(tmp_path):
    plain = sources.read("cifar10", str(write_tree(tmp_path / "a")), 0)["checksum"]
    wrapped = write_tree(tmp_path / "b" / "wrapper")
    assert sources.read("cifar10", str(tmp_path / "b"), 0)["checksum"] == plain
    write_png(torch.zeros(3, 32, 32, dtype=torch.uint8), str(wrapped / "test" / "dog" / "0000.png"))
    assert sources.read("cifar10", str(tmp_path / "b"), 0)["checksum"] != plain


def test_jpeg_tree(tmp_path):
    check_tree(sources.read("cifar10", str(write_tree(tmp_path / "jpg", fmt="jpg")), 0), tolerance=2)


@pytest.mark.parametrize("kind", ["folder", "tar.gz"])
def test_missing_class_folder(tmp_path, kind):
    tree = write_tree(tmp_path / "src" / "top")
    shutil.rmtree(tree / "test" / "frog")
    path = tmp_path / "src" if kind == "folder" else make_tar(tree, tmp_path / "images.tar.gz", "top")
    with pytest.raises(UserError, match="the test split has no folder .* frog") as err:
        sources.read("cifar10", str(path), 0)
    assert str(path) in str(err.value)


def test_unexpected_class_folder_and_missing_split(tmp_path):
    tree = write_tree(tmp_path / "src", classes=CLASSES + ("plane",))
    with pytest.raises(UserError, match="unexpected class folder.*plane"):
        sources.read("cifar10", str(tree), 0)
    with pytest.raises(UserError, match="has no train/ folder"):
        sources.read("cifar10", str(tree / "test"), 0)


def test_image_size_and_undecodable_image(tmp_path):
    tree = write_tree(tmp_path / "small", size=16)
    with pytest.raises(UserError, match=r"train/airplane/0000.png is 16x16 pixels; CIFAR-10 images are 32x32"):
        sources.read("cifar10", str(tree), 0)
    tree = write_tree(tmp_path / "broken")
    (tree / "train" / "dog" / "0001.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot decode the image train/dog/0001.png"):
        sources.read("cifar10", str(tree), 0)


def test_truncated_and_foreign_files(tmp_path):
    archive = make_tar(write_tree(tmp_path / "src"), tmp_path / "images.tar.gz", "cifar10-jpg")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(UserError, match="truncated, corrupt") as err:
        sources.read("cifar10", str(cut), 0)
    assert str(cut) in str(err.value)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UserError, match="not a tar archive") as err:
        sources.read("cifar10", str(text), 0)
    assert str(text) in str(err.value)


def test_nonexistent_path(tmp_path):
    """As the download stage calls it: the params entry named by lib.errors.param, the path by sources."""
    missing = str(tmp_path / "nowhere.tar.gz")
    with pytest.raises(UserError, match="^params.yaml: data.local_path: ") as err, param("data.local_path"):
        sources.read("cifar10", missing, 0)
    assert missing in str(err.value) and "cifar-10-python.tar.gz" in str(err.value)


# --- official format: pickled batches, as in cifar-10-python.tar.gz ---------------------------

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_batches(folder):
    """cifar-10-batches-py in the official format with 10 images per batch, image j filled with 20*j + batch."""
    folder.mkdir(parents=True)
    for b, name in enumerate(BATCHES):
        labels = list(range(10))
        data = np.repeat(np.array([20 * j + b for j in labels], dtype=np.uint8), 3072).reshape(10, 3072)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CLASSES), "num_vis": 3072}, f)
    return folder


def trust(monkeypatch, folder, archive=None):
    """Make torchvision's md5 table match the synthetic files."""
    md5 = {name: calculate_md5(folder / name) for name in BATCHES + ["batches.meta"]}
    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5[n]] for n in BATCHES[:5]])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})
    if archive:
        monkeypatch.setattr(CIFAR10, "tgz_md5", calculate_md5(archive))


def check_batches(data):
    assert data["train_images"].shape == (50, 3, 32, 32) and data["test_images"].shape == (10, 3, 32, 32)
    assert data["train_images"].dtype == torch.uint8 and data["train_labels"].dtype == torch.int64
    assert data["train_labels"].tolist() == list(range(10)) * 5 and data["test_labels"].tolist() == list(range(10))
    assert data["train_images"][:, :, 0, 0].tolist() == [[20 * j + b] * 3 for b in range(5) for j in range(10)]
    assert data["test_images"].flatten(1).eq(data["test_images"][:, :1, :1, :1].flatten(1)).all()
    assert data["classes"] == list(CLASSES)


@pytest.fixture
def official(tmp_path):
    folder = write_batches(tmp_path / "extracted" / "cifar-10-batches-py")
    return folder, make_tar(folder, tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py")


def test_official_archive(monkeypatch, official):
    folder, archive = official
    trust(monkeypatch, folder, archive)
    data = sources.read("cifar10", str(archive), 0)
    check_batches(data)
    assert data["checksum"] == sha256(archive) and str(archive) in data["origin"]


def test_official_archive_md5_mismatch(official):
    _, archive = official
    with pytest.raises(UserError) as err:
        sources.read("cifar10", str(archive), 0)
    message = str(err.value)
    assert str(archive) in message and calculate_md5(archive) in message
    assert "c58f30108f718f92721af3b95e74349a" in message


@pytest.mark.parametrize("where", ["batches", "renamed", "parent"])
def test_batches_folder(monkeypatch, official, where):
    folder, _ = official
    trust(monkeypatch, folder)
    if where == "renamed":
        folder = folder.rename(folder.parent / "my-cifar")
    path = folder.parent if where == "parent" else folder
    data = sources.read("cifar10", str(path), 0)
    check_batches(data)
    assert data["checksum"].startswith("sha256:")


def test_batches_folder_fails_md5(official):
    folder, _ = official
    with pytest.raises(UserError, match="md5") as err:
        sources.read("cifar10", str(folder), 0)
    assert str(folder) in str(err.value)


def test_download(monkeypatch, tmp_path, official):
    folder, archive = official
    trust(monkeypatch, folder, archive)

    def fake_download(url, root, filename, md5):
        os.makedirs(root, exist_ok=True)
        shutil.copy(archive, os.path.join(root, filename))
        with tarfile.open(archive) as tar:
            tar.extractall(root, **sources.SAFE_EXTRACT)

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", fake_download)
    monkeypatch.setenv("CIFAR10_CACHE", str(tmp_path / "cache"))
    data = sources.read("cifar10", None, 0)
    check_batches(data)
    assert data["checksum"] == sha256(archive) and CIFAR10.url in data["origin"]


def test_download_offline(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", no_network)
    monkeypatch.setenv("CIFAR10_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as err, param("data.local_path"):
        sources.read("cifar10", None, 0)
    message = str(err.value)
    assert "params.yaml: data.local_path: could not download" in message and "digits source" in message
    assert "cifar-10-python.tar.gz" in message and "name resolution" in message


# --- digits --------------------------------------------------------------------------------------

def test_digits():
    data = sources.read("digits", None, seed=0)
    assert data["train_images"].shape == (1437, 3, 32, 32) and data["test_images"].shape == (360, 3, 32, 32)
    assert data["train_images"].dtype == torch.uint8 and data["test_labels"].dtype == torch.int64
    assert data["classes"] == [str(d) for d in range(10)]
    assert data["train_images"].max() > 200  # scaled from 0..16 to 0..255
    assert torch.equal(data["train_images"][:, 0], data["train_images"][:, 2])  # grey in three channels
    total = torch.bincount(torch.cat([data["train_labels"], data["test_labels"]]), minlength=10)
    test = torch.bincount(data["test_labels"], minlength=10)
    assert (test - total * 360 / 1797).abs().max() < 1  # stratified


def test_digits_deterministic_per_seed():
    a, b, c = (sources.read("digits", None, seed) for seed in (0, 0, 1))
    assert all(torch.equal(a[k], b[k]) for k in ("train_images", "train_labels", "test_images", "test_labels"))
    assert not torch.equal(a["test_images"], c["test_images"])
    assert a["checksum"] == c["checksum"]  # what was read, not how it was split


# --- the real local copy (only where it exists) -------------------------------------------------

LOCAL = os.environ.get("CIFAR10_LOCAL")


@pytest.mark.skipif(not (LOCAL and os.path.exists(LOCAL)), reason="CIFAR10_LOCAL is not set to a CIFAR-10 copy")
def test_real_local_copy():
    data = sources.read("cifar10", LOCAL, 0)
    for split, n in (("train", 5000), ("test", 1000)):
        assert data[f"{split}_images"].shape == (10 * n, 3, 32, 32) and data[f"{split}_images"].dtype == torch.uint8
        assert torch.bincount(data[f"{split}_labels"], minlength=10).tolist() == [n] * 10
    assert data["classes"] == list(CLASSES)


# --- stratified splits -------------------------------------------------------------------------

def test_stratified_split_is_exact_disjoint_and_proportional():
    labels = torch.arange(1000) % 10
    kept, taken = sources.stratified_split(labels, 100, 1)
    assert len(taken) == 100 and len(kept) == 900
    assert set(kept.tolist()).isdisjoint(taken.tolist())
    assert sorted(kept.tolist() + taken.tolist()) == list(range(1000))
    assert torch.bincount(labels[taken]).tolist() == [10] * 10


def test_stratified_split_uneven_classes_and_seed():
    labels = torch.tensor([0] * 70 + [1] * 20 + [2] * 10)
    _, a = sources.stratified_split(labels, 10, 3)
    _, b = sources.stratified_split(labels, 10, 3)
    _, c = sources.stratified_split(labels, 10, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.bincount(labels[a]).tolist() == [7, 2, 1]


def test_stratified_split_rejects_impossible_size():
    with pytest.raises(UserError, match="between 1 and 9"):
        sources.stratified_split(torch.arange(10), 10, 0)


def test_stratified_split_too_small_for_the_classes_is_a_user_error():
    with pytest.raises(UserError, match="cannot take a stratified 1 of 10 images"):
        sources.stratified_split(torch.arange(10) % 2, 1, 0)


@pytest.mark.parametrize("seed", range(5))
def test_the_smallest_allowed_subset_keeps_every_class(seed):
    """config allows subsets down to one image per class (10); on the real sources' labels (the digits'
    classes are uneven: 174 to 183 images) the stratified split then keeps one image of every class."""
    from sklearn.datasets import load_digits
    labels = torch.as_tensor(load_digits().target)
    for size in (10, 11, 19):
        _, taken = sources.stratified_split(labels, size, seed)
        assert (torch.bincount(labels[taken], minlength=10) >= 1).all()
    cifar = torch.arange(50_000) % 10
    _, taken = sources.stratified_split(cifar, 10, seed)
    assert torch.bincount(cifar[taken]).tolist() == [1] * 10
