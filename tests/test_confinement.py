"""Student code that attacks the machine it is graded on, as root and as an unprivileged user.

Each attack is a submission whose ``mlp.py`` tries, at import, one class of
attack with everything it could know (literal paths and ports of the grader's
machine), and raises with whatever it got, so that any loot would reach the
report. The grader runs as a separate process (``mlp-grade``), as it does for
instructors; afterwards the test checks that the grader is alive and wrote
its report, that nothing outside the child's folder was read into the report
or changed, that no process outlived the grading, and that no connection
arrived.

The attacks run as the user running pytest. When that is root (CI), the same
tests run again, in a separate pytest, as an unprivileged user (with
``test_redteam.py``) and as root with the uid drop, from a world-readable
installation (``test_attacks_as``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from autograder.config import load_config
from autograder.sandbox import confinement, layers
from conftest import RELEASE, ROOT

pytestmark = pytest.mark.skipif(not layers.LINUX, reason="confinement is Linux-only (other systems: not confined)")
STUB = RELEASE.read_text()
AS = os.environ.get("MLP_CONFINEMENT_AS", "")  # set for the inner runs of test_attacks_as
UNPRIVILEGED_USER = "mlp-unpriv"
SBIN = "/usr/sbin:/sbin:/usr/bin:/bin"


def attack(code: str) -> str:
    """The release stub with ``code`` run at import, then a raise carrying ``loot`` into the report."""
    body = "loot = []\n" + code.strip("\n") + "\nraise RuntimeError('LOOT ' + repr(loot))\n"
    return STUB.replace("import numpy as np\n", "import numpy as np\n" + body, 1)


@pytest.fixture
def machine(tmp_path):
    """Things of the grader's machine a student would go for, with canaries in them."""
    classmate = tmp_path / "submissions" / "classmate"
    classmate.mkdir(parents=True)
    (classmate / "mlp.py").write_text("CANARY_CLASSMATE_CODE = 1\n")
    grader_cwd = tmp_path / "grader-cwd"
    grader_cwd.mkdir()
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    (cache / "mnist" / "t10k-labels.npy").write_bytes(b"CANARY_CACHE" * 100)
    (cache / "grader-secret").write_text("CANARY_SECRET" + "0" * 51)
    data_dir = tmp_path / "data"  # a stand-in for MLP_DATA_DIR (never the real files: a failed defence would wreck them)
    (data_dir / "mnist").mkdir(parents=True)
    (data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"CANARY_DATA" * 100)
    for path in [tmp_path, *tmp_path.rglob("*")]:
        os.chmod(path, 0o777 if path.is_dir() else 0o666)  # by permissions anyone could: only confinement may refuse
    config = tmp_path / "grading.toml"
    config.write_text("[sandbox]\ntimeout_s = 5\n")
    return {"classmate": classmate, "cwd": grader_cwd, "cache": cache, "data": data_dir, "tmp": tmp_path,
            "config": config}


def grade_as_instructor(folder: Path, machine: dict, env_extra: dict | None = None) -> tuple[int, str, str]:
    """``mlp-grade FOLDER --format json`` in its own process; (exit code, report, stderr)."""
    report = machine["tmp"] / "report.json"
    env = dict(os.environ, MLP_CACHE_DIR=str(machine["cache"]), MLP_DATA_DIR=str(machine["data"]), **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "autograder", str(folder), "--only", "interface.MLP",
                           "--format", "json", "--out", str(report), "--config", str(machine["config"])],
                          cwd=machine["cwd"], env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, report.read_text() if report.exists() else "", proc.stderr


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def submit(machine: dict, code: str) -> Path:
    folder = machine["tmp"] / "submissions" / "attacker"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlp.py").write_text(attack(code))
    os.chmod(folder, 0o777)
    return folder


def assert_contained(machine: dict, code: str, env_extra: dict | None = None, secrets: tuple[str, ...] = ()) -> str:
    watched = (machine["tmp"] / "submissions" / "classmate", machine["cache"], machine["data"])
    before = {k: v for folder in watched for k, v in snapshot(folder).items()}
    rc, report, err = grade_as_instructor(submit(machine, code), machine, env_extra)
    assert rc == 0 and report, f"the grader did not survive or wrote no report (exit {rc}): {err[-2000:]}"
    message = json.loads(report)["tests"][0]["output"]
    assert "LOOT" in message, f"the attack did not run as expected: {message}"
    for secret in ("CANARY", *secrets):
        assert secret not in report, f"{secret} leaked into the report: {message}"
    after = {k: v for folder in watched for k, v in snapshot(folder).items()}
    assert after == before, "a file outside the child's folder was changed"
    assert list(machine["cwd"].iterdir()) == [], "the child wrote into the grader's working folder"
    return message


# ----------------------------------------------------------------------------- the attack classes


def test_cannot_rewrite_the_grader_cache_or_data(machine):
    assert_contained(machine, f"""
import os
for top in ({str(machine['cache'])!r}, {str(machine['data'])!r}):
    for folder, _, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            try:
                loot.append(open(path, 'rb').read(64))
                open(path, 'r+b').write(b'\\0' * 64)
                loot.append('wrote ' + path)
            except OSError:
                pass
""")


def test_cannot_plant_code_in_the_grader_environment(machine):
    marker = machine["tmp"] / "pth-ran"
    targets = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    payload = f"import os; open({str(marker)!r}, 'w')\n"
    planted = [Path(site, "zz_mlp_attack.pth") for site in targets]
    try:
        assert_contained(machine, f"""
for site in {targets!r}:
    try:
        open(site + '/zz_mlp_attack.pth', 'w').write({payload!r})
        loot.append('planted ' + site)
    except OSError:
        pass
""")
        assert not any(path.exists() for path in planted)
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        assert not marker.exists()
    finally:
        for path in planted:
            path.unlink(missing_ok=True)


def test_cannot_kill_the_grader(machine):
    assert_contained(machine, """
import os, signal
for pid in {os.getppid(), os.getpgid(0)} - {0, os.getpid()}:
    try:
        os.kill(pid, signal.SIGKILL)
        loot.append(f'killed {pid}')
    except OSError:
        pass
try:
    entries = os.listdir('/proc')
except OSError:
    entries = []
for entry in entries:
    try:
        if entry.isdigit() and b'autograder' in open(f'/proc/{entry}/cmdline', 'rb').read():
            os.kill(int(entry), signal.SIGKILL)
            loot.append(f'killed {entry}')
    except OSError:
        pass
""")


def test_cannot_read_the_grader_environment_or_command_line(machine):
    assert_contained(machine, """
import os
try:
    entries = os.listdir('/proc')
except OSError:
    entries = []
for entry in ['self', str(os.getppid()), *entries]:
    try:
        environ = open(f'/proc/{entry}/environ', 'rb').read().decode(errors='replace')
        loot += [item for item in environ.split('\\0') if 'TOKEN' in item]
    except OSError:
        pass
    try:
        loot.append(os.readlink(f'/proc/{entry}/cwd')[-30:])
    except OSError:
        pass
""", env_extra={"MLP_ATTACK_TOKEN": "TOKEN_of_the_instructor"}, secrets=("TOKEN_of_the_instructor", "grader-cwd"))


def test_cannot_read_or_overwrite_classmates(machine):
    assert_contained(machine, f"""
import os
for folder, _, files in os.walk({str(machine['tmp'] / 'submissions')!r}):
    for name in files:
        path = os.path.join(folder, name)
        try:
            loot.append(open(path).read())
            open(path, 'w').write('overwritten')
        except OSError:
            pass
""")


def test_cannot_write_into_the_grader_working_folder(machine):
    assert_contained(machine, f"""
for name in ('results.json', 'grades.csv'):
    try:
        open({str(machine['cwd'])!r} + '/' + name, 'w').write('{{"score": 100}}')
        loot.append('wrote ' + name)
    except OSError:
        pass
""")


def test_nothing_outlives_the_grading(machine):
    flag = f"mlp-survivor-{os.getpid()}"
    assert_contained(machine, f"""
import ctypes, os, time
for _ in range(2):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, {flag[:15].encode()!r}, 0, 0, 0)  # PR_SET_NAME
            while True:
                time.sleep(0.05)
        os._exit(0)
time.sleep(0.3)
""")
    time.sleep(0.5)
    survivors = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == flag[:15]:
                survivors.append(int(entry.name))
        except OSError:
            pass
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], "processes started by student code outlived the grading"


def test_no_network(machine):
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(5)
        tcp.settimeout(0.5)
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        udp.settimeout(0.5)
        assert_contained(machine, f"""
import socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'CANARY')
    loot.append('tcp connected')
except OSError:
    pass
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port}))
    loot.append('udp sent')
except OSError:
    pass
""")
        with pytest.raises(OSError):
            tcp.accept()
        with pytest.raises(OSError):
            udp.recv(10)


def test_cannot_reach_the_machine_unix_sockets(machine):
    """A pathname unix socket (Docker's, D-Bus's, X11's) is outside every namespace and Landlock ABI <= 7."""
    path = str(machine["tmp"] / "docker.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        os.chmod(path, 0o777)
        server.listen(5)
        server.settimeout(0.5)
        assert_contained(machine, f"""
import socket
try:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect({path!r})
        s.sendall(b'POST /containers/create')
        loot.append('unix socket connected')
except OSError as exc:
    pass
""")
        with pytest.raises(OSError):
            server.accept()


# ----------------------------------------------------------------------------- the layers themselves


def test_every_guard_is_verified_on_this_machine():
    """Fails when a layer silently stops applying: the self-test's jailed probe must be refused everything."""
    found = confinement.isolation()
    assert found.level == "strict", found.summary()
    assert all(found.attacks.values()) and len(found.attacks) == 11, found.attacks
    if os.geteuid() == 0 and AS == "root-uid-drop":
        assert found.layers["uid_drop"] is None, found.layers


@pytest.mark.parametrize("missing, exposed", [
    (("landlock_filesystem",), {"read_outside", "write_outside", "create_outside", "list_processes"}),
    (("seccomp_sockets",), {"unix_connect"}),
    (("network_namespace",), set()),  # seccomp refuses every socket, Landlock every TCP connection
    (("network_namespace", "seccomp_sockets"), {"udp_send", "unix_connect"}),
    (("landlock_network", "seccomp_sockets"), {"unix_connect"}),  # no TCP: the network namespace
    (("landlock_scope",), set()),  # the PID namespace alone also hides the parent
    (("pid_namespace",), {"own_pid_namespace"}),
    (("disk_quota",), {"fill_disk"}),
])
def test_the_self_test_notices_a_missing_layer(missing, exposed):
    found = confinement.isolation()
    assert set(missing) <= set(found.in_force), found.summary()
    attacks = confinement.self_test([n for n in found.in_force if n not in missing], found.drop_to)
    assert {name for name, refused in attacks.items() if not refused} == exposed


def test_strict_refuses_and_says_how_to_fix(monkeypatch):
    weaker = confinement.Isolation(layers={**confinement.isolation().layers,
                                           "landlock_filesystem": "Landlock ABI 0 here (need >= 3, Linux >= 6.2)"},
                                   guards={"filesystem": False, "process": True, "network": True},
                                   attacks={"read_outside": False})
    monkeypatch.setattr(confinement, "_cached", weaker)
    with pytest.raises(confinement.IsolationError, match=r"filesystem not confined .*read_outside.*to fix: use a "
                                                          r"Linux kernel >= 5.13 with Landlock"):
        confinement.require("strict")
    assert confinement.require("best") is weaker


def test_cli_strict_runs_here_and_reports_name_the_confinement(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "autograder", str(RELEASE), "--only", "interface", "--isolation",
                           "strict", "--format", "json", "--out", str(out), "--report", f"junit={tmp_path / 'r.xml'}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["extra_data"]["isolation"]["level"] == "strict"
    assert "isolation" not in report["output"] and "landlock" not in json.dumps(report["tests"])
    assert "landlock_filesystem" in (tmp_path / "r.xml").read_text()
    text = subprocess.run([sys.executable, "-m", "autograder", str(RELEASE), "--only", "interface"],
                          capture_output=True, text=True, timeout=120)
    assert "landlock" not in text.stdout.lower() and "ran as root" not in text.stdout


def test_strict_refusal_exits_3_with_the_reason(tmp_path):
    code = ("import sys; from autograder.sandbox import confinement as c, layers as L\n"
            "L.LandlockFilesystem.unavailable = lambda self, plan: 'disabled for this test'\n"
            "from autograder.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, str(RELEASE), "--isolation", "strict"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert "refusing to run student code" in proc.stderr and "filesystem not confined" in proc.stderr
    assert proc.stdout == ""


# ----------------------------------------------------------------------------- as other users


def _foreign_install(base: Path) -> Path:
    """A world-readable venv (the OS's python3) with the package installed, as on a grading server."""
    python = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"
    if subprocess.run([python, "-c", "import ensurepip, venv"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "python3", "python3-venv"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    copy = base / "src"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info",
                                                               "build", ".pytest_cache"))
    venv = base / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    with (ROOT / "pyproject.toml").open("rb") as f:  # the package's own dependencies, as pip would install them
        needs = tomllib.load(f)["project"]["dependencies"]
    subprocess.run([*pip, *needs, "pytest", "setuptools>=68"], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", str(copy)], check=True)
    for path in [base, *base.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, (path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0)) & 0o7755)
    return venv


@pytest.fixture(scope="module")
def foreign():
    if os.geteuid() != 0:
        pytest.skip("not root: the attacks above already ran as this unprivileged user")
    if AS:
        pytest.skip("inner run")
    if subprocess.run(["id", UNPRIVILEGED_USER], capture_output=True).returncode != 0:
        subprocess.run([shutil.which("useradd", path=SBIN) or "useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", UNPRIVILEGED_USER], check=True)
    # directly under /tmp: pytest keeps its own temporary root private to root (0700)
    base = Path(tempfile.mkdtemp(prefix="mlp-foreign-"))
    os.chmod(base, 0o755)
    try:
        yield base, _foreign_install(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("who", [UNPRIVILEGED_USER, "root-uid-drop"])
def test_attacks_as(who, foreign):
    """This file again (and the red-team suite, unprivileged), as ``who``, from a world-readable install:
    every test must pass, none skip."""
    base, venv = foreign
    home = base / f"home-{who}"
    home.mkdir(exist_ok=True)
    if who == UNPRIVILEGED_USER:
        shutil.chown(home, UNPRIVILEGED_USER)
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "HOME": str(home), "MLP_CONFINEMENT_AS": who,
           "MLP_DATA_DIR": os.environ.get("MLP_DATA_DIR", ""), "MLP_GRADER_SECRET": "tests", "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": "1"}
    files = ["test_confinement.py", "test_interruption.py", "test_input_boundary.py"] + (
        ["test_redteam.py"] if who == UNPRIVILEGED_USER else [])
    argv = [str(venv / "bin" / "python"), "-m", "pytest", *(str(base / "src" / "tests" / f) for f in files),
            "-p", "no:cacheprovider", "-o", "addopts=", "-q", "-rs", "-k", "not test_attacks_as",
            "--basetemp", str(home / "tmp")]
    if who == UNPRIVILEGED_USER:
        argv = [shutil.which("runuser", path=SBIN) or "runuser", "-u", UNPRIVILEGED_USER,
                "--", *argv]
    proc = subprocess.run(argv, cwd=home, env=env, capture_output=True, text=True, timeout=900)
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in tail and "skipped" not in tail, tail
