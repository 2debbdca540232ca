"""Attacks a jailed child makes on its grader, run by ``confinement.self_test`` (stdlib only).

``python -I -B attack_probe.py CANARY PARENT_PID PORT SOCKET DISK_MB`` tries, as student code
would, to read and write the file ``CANARY`` outside its folder, read the
parent's ``/proc`` entries, signal the parent, reach a TCP port, a UDP port and
the unix socket ``SOCKET`` the parent listens on, write twice ``DISK_MB`` into its own folder
(in files of 1 MB, as the file-size limit allows), and checks whether it runs as the init of its own
PID namespace (whose end kills all it started). It prints one JSON object: attack name -> True when refused.
"""
import json
import os
import socket
import sys


def refused(action) -> bool:
    try:
        action()
    except OSError:
        return True
    return False


def fill_disk(disk_mb: int) -> None:
    """Write 2 x ``disk_mb`` MB into the current folder (then delete it): OSError when a quota stops it."""
    block = b"x" * (1 << 20)
    try:
        for i in range(2 * disk_mb):
            with open(f"fill-{i}", "wb") as f:
                f.write(block)
    finally:
        for i in range(2 * disk_mb):
            try:
                os.unlink(f"fill-{i}")
            except OSError:
                pass


def main(canary: str, parent: int, port: int, unix_path: str, disk_mb: int) -> None:
    def connect_tcp():
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass

    def send_udp():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", ("127.0.0.1", port))

    def connect_unix():
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(unix_path)

    def write_canary():
        with open(canary, "a") as f:
            f.write("tampered")

    results = {
        "read_outside": refused(lambda: open(canary).read()),
        "write_outside": refused(write_canary),
        "create_outside": refused(lambda: open(canary + ".new", "x").close()),
        "read_parent_environ": refused(lambda: open(f"/proc/{parent}/environ", "rb").read()),
        "list_processes": refused(lambda: os.listdir("/proc")),
        "signal_parent": refused(lambda: os.kill(parent, 0)),
        "tcp_connect": refused(connect_tcp),
        "udp_send": refused(send_udp),
        "unix_connect": refused(connect_unix),
        "own_pid_namespace": os.getpid() == 1,
        "fill_disk": refused(lambda: fill_disk(disk_mb)),
    }
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    # as the grader's driver does: the attacks run in a forked child, PID 1 of a new PID namespace if there is one
    child = os.fork()
    if child == 0:
        main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        os._exit(0)
    os.waitpid(child, 0)
