"""What the grader trusts from places others can write is verified before use.

Student code runs as the same user as the grader, so it can write the user
cache: the cached MNIST arrays (an overwritten test-labels entry once made a
constant model score 100 %) and the grading secret kept there. Real files,
real permissions, real symlinks and FIFOs; nothing is mocked. The cache is a
private temporary folder per test (``MLP_CACHE_DIR``).
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from autograder import data, grading
from autograder.config import load_config

#: MLP_DATA_DIR as the test run was started with (CI: ../shared/data)
REAL_DATA_DIR = os.environ.get("MLP_DATA_DIR", "")
TEST_LABELS = data.FILES[("test", "labels")]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Every test: its own cache folder (not yet created), a fresh memo, no secret from the environment."""
    monkeypatch.setenv("MLP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_memo", {})
    monkeypatch.delenv("MLP_GRADER_SECRET", raising=False)
    return tmp_path / "cache"


# ----------------------------------------------------------------------------- MNIST from the cache


def test_overwritten_real_test_labels_in_the_cache_are_rejected_and_rebuilt(monkeypatch):
    """The incident, end to end: all-zero test labels written over the cache entry (same header, same size)."""
    folder = Path(REAL_DATA_DIR).expanduser().absolute() / "mnist" if REAL_DATA_DIR else None
    if folder is None or not (folder / f"{TEST_LABELS}.gz").is_file():
        pytest.skip("needs the real MNIST files: set MLP_DATA_DIR (CI sets MLP_DATA_DIR=../shared/data)")
    monkeypatch.setenv("MLP_DATA_DIR", str(folder.parent))
    _, y = data.load_split("mnist", "test")  # as the accuracy check does; fills the cache
    entry = data.cache_dir() / "mnist" / f"{TEST_LABELS}.{data.CHECKSUMS['mnist'][TEST_LABELS]}.idx"
    assert hashlib.sha256(entry.read_bytes()).hexdigest() == data.CHECKSUMS["mnist"][TEST_LABELS]

    forged = entry.read_bytes()[:8] + bytes(10000)  # a constant model predicting 0 would score 100 %
    entry.write_bytes(forged)
    np.save(entry.with_suffix(".npy"), np.zeros(10000, np.uint8))  # the old unverified cache entry, too
    data._memo.clear()  # a later grading process
    with pytest.warns(data.CacheWarning, match=f"{entry.name} is corrupted: sha256 mismatch.*deleted it, did "
                                               f"not use it; rebuilt mnist/{TEST_LABELS} from "):
        _, y_again = data.load_split("mnist", "test")
    assert np.bincount(y_again, minlength=10).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(y_again, y)
    assert (y_again == 0).mean() == 0.098  # the constant model's true accuracy
    assert hashlib.sha256(entry.read_bytes()).hexdigest() == data.CHECKSUMS["mnist"][TEST_LABELS]
    assert not entry.with_suffix(".npy").exists()


# ----------------------------------------------------------------------------- the grading secret


def kept_secret() -> str:
    return grading._secret(load_config())


def seed_with(secret: str, module: bytes = b"submission") -> int:
    """The seed ``grading_seed`` derives from ``secret`` for ``module`` (as specified)."""
    return int.from_bytes(hashlib.sha256(secret.encode() + hashlib.sha256(module).digest()).digest()[:8], "little")


def plant(path: Path, content: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, mode)


def assert_fresh_secret(path: Path, value: str, planted: str) -> None:
    """``value`` is a new secret, kept at ``path`` as a private regular file of this user; ``planted`` unused."""
    assert len(value) == 64 and set(value) <= set("0123456789abcdef") and value != planted
    info = path.lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid()
    assert path.read_text() == value
    assert grading.grading_seed(b"submission", load_config(), public=False) == seed_with(value) != seed_with(planted)
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".part")]


def test_secret_is_made_once_private_and_used(private_cache, recwarn):
    value = kept_secret()
    path = private_cache / "grader-secret"
    assert_fresh_secret(path, value, planted="")
    assert stat.S_IMODE(private_cache.stat().st_mode) == 0o700
    assert kept_secret() == value and not recwarn.list  # kept, reused, no warning


def test_config_and_environment_come_first(private_cache, monkeypatch):
    assert grading._secret(load_config(overrides={"grader": {"secret": "from-config"}})) == "from-config"
    monkeypatch.setenv("MLP_GRADER_SECRET", "from-env")
    assert kept_secret() == "from-env"
    assert not (private_cache / "grader-secret").exists()


@pytest.mark.parametrize("newline", [b"", b"\n"])
def test_good_kept_secret_is_used_as_is(private_cache, recwarn, newline):
    good = "0123456789abcdef" * 4
    plant(private_cache / "grader-secret", good.encode() + newline)
    assert kept_secret() == good and not recwarn.list
    assert (private_cache / "grader-secret").read_bytes() == good.encode() + newline


GOOD = "a" * 64


@pytest.mark.parametrize("content, mode, problem", [
    (GOOD, 0o644, "has mode 0644: group or others may read or write it"),
    (GOOD, 0o640, "has mode 0640"),
    (GOOD, 0o602, "has mode 0602"),
    (GOOD, 0o660, "has mode 0660"),
    ("hello", 0o600, "does not hold 64 hexadecimal digits"),
    (GOOD[:63], 0o600, "does not hold 64 hexadecimal digits"),
    (GOOD + "a", 0o600, "does not hold 64 hexadecimal digits"),
    (GOOD.upper(), 0o600, "does not hold 64 hexadecimal digits"),
    (GOOD + "\n\n", 0o600, "does not hold 64 hexadecimal digits"),
    (" " + GOOD[1:], 0o600, "does not hold 64 hexadecimal digits"),
    ("", 0o600, "does not hold 64 hexadecimal digits"),
    ("é" * 32, 0o600, "does not hold 64 hexadecimal digits"),
], ids=["world-readable", "group-readable", "other-writable", "group-writable", "malformed", "short", "long",
        "uppercase", "two-newlines", "space", "empty", "not-ascii"])
def test_untrustworthy_secret_file_is_replaced_not_used(private_cache, content, mode, problem):
    path = private_cache / "grader-secret"
    plant(path, content.encode(), mode)
    with pytest.warns(UserWarning, match=f"grader-secret {problem}.*not used; replaced it with a fresh one"):
        value = kept_secret()
    assert_fresh_secret(path, value, planted=content)


def test_symlinked_secret_is_not_followed(private_cache, tmp_path):
    target = tmp_path / "elsewhere"
    plant(target, GOOD.encode())  # a private, well-formed secret: but reached through a link
    path = private_cache / "grader-secret"
    private_cache.mkdir()
    path.symlink_to(target)
    with pytest.warns(UserWarning, match="grader-secret is a symbolic link: not used"):
        value = kept_secret()
    assert_fresh_secret(path, value, planted=GOOD)
    assert target.read_text() == GOOD  # replaced the link itself, never wrote through it


def test_dangling_symlink_secret_is_not_followed(private_cache, tmp_path):
    path = private_cache / "grader-secret"
    private_cache.mkdir()
    path.symlink_to(tmp_path / "planted-target")
    with pytest.warns(UserWarning, match="is a symbolic link: not used"):
        value = kept_secret()
    assert_fresh_secret(path, value, planted="")
    assert not (tmp_path / "planted-target").exists()  # the secret was not written where the link pointed


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_secret_owned_by_another_user_is_replaced(private_cache):
    path = private_cache / "grader-secret"
    plant(path, GOOD.encode())
    os.chown(path, 65534, 65534)  # nobody: mode 0600, well formed, but not ours
    with pytest.warns(UserWarning, match="grader-secret belongs to uid 65534, not to this user .uid 0.: not used"):
        value = kept_secret()
    assert_fresh_secret(path, value, planted=GOOD)


def test_fifo_secret_is_replaced_without_blocking(private_cache):
    private_cache.mkdir()
    os.mkfifo(private_cache / "grader-secret", 0o600)
    with pytest.warns(UserWarning, match="is not a regular file: not used"):
        value = kept_secret()
    assert_fresh_secret(private_cache / "grader-secret", value, planted="")


def test_secret_that_cannot_be_replaced_is_still_not_used(private_cache):
    (private_cache / "grader-secret" / "inside").mkdir(parents=True)  # a folder that cannot be replaced
    with pytest.warns(UserWarning, match="is not a regular file and could not be replaced.*uses a fresh secret"):
        first = kept_secret()
    with pytest.warns(UserWarning):
        second = kept_secret()
    assert len(first) == 64 and first != second  # unpredictable, at the cost of repeatability (said in the warning)


def _race(barrier, queue) -> None:
    barrier.wait()
    queue.put(kept_secret())


def test_graders_starting_together_agree_on_one_secret(private_cache):
    """A batch starts several workers at once on a machine without a secret: all must get the same one."""
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(6), ctx.Queue()
    workers = [ctx.Process(target=_race, args=(barrier, queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    values = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert len(set(values)) == 1 and (private_cache / "grader-secret").read_text() == values[0]
