"""A real single-node SLURM cluster for the tests, started from Debian's packages.

:class:`LocalSlurm` writes a munge key and a minimal ``slurm.conf`` for this
host (its cores and memory as ``slurmd -C`` reports them) into a fresh
temporary folder, starts ``munged``, ``slurmctld`` and ``slurmd`` directly (no
systemd), waits until the node is idle, and stops them again, removing the
folder.  Every path, port and socket is private to the instance, so it neither
needs nor touches a system-wide SLURM or munge.

Settings that a container without systemd or cgroups needs, and why:

* ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``,
  ``JobAcctGatherType=jobacct_gather/none``: the cgroup plugins need a
  writable cgroup hierarchy, which containers rarely give.  (``proctrack/pgid``
  works too, but its wait loop holds every ``srun`` step for 3 s after its
  processes have exited.)
* ``AccountingStorageType=accounting_storage/none`` and ``JobCompType=jobcomp/none``:
  no slurmdbd, like many small clusters; ``sacct`` then fails, which is exactly
  the case the launcher must handle quietly.
* ``SelectType=select/cons_tres`` with ``CR_Core``: one job per core, so a
  sweep's array tasks run side by side (the default allocates whole nodes).
* ``SlurmctldHost=<hostname>(127.0.0.1)``, ``NodeAddr=127.0.0.1`` and
  ``slurmd -N <hostname>``: slurmctld must run on the host it is configured
  for, but nothing else relies on the hostname resolving.
* ``AuthInfo=socket=...``: both daemons and every client talk to our own
  munged (started with ``--force``, as it refuses root otherwise, and
  ``--origin=127.0.0.1``, so it does not depend on the hostname either).
* ``SchedulerParameters=sched_interval=2``: pending jobs are looked at every
  2 s, not every 60; events (a submission, a job's end) usually start them
  sooner, but not always.
* ``KillWait=2``: ``scancel`` and time limits escalate to SIGKILL after 2 s
  instead of 30 (submitit's jobs ignore SIGTERM).
* ``SlurmUser=root``: the tests run as root, and so do the daemons.

Clients (``sbatch``, ``squeue``, ... and everything that calls them) find the
cluster through ``SLURM_CONF``: pass :attr:`LocalSlurm.env` to subprocesses.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun")


def missing_requirements() -> str | None:
    """Why a local cluster cannot be started here, or None when it can."""
    missing = [p for p in DAEMONS + CLIENTS if shutil.which(p) is None]
    if missing:
        return ("SLURM is not installed (missing: " + ", ".join(missing) + "); "
                "on Debian: apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        return "the SLURM tests start slurmd and must run as root"
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit is not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line(name: str) -> str:
    """``slurmd -C``'s description of this host (CPUs, sockets, cores, threads,
    RealMemory in MB) under the node name ``name``."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("NodeName="))
    fields = [f for f in line.split() if not f.startswith("NodeName=")]
    return f"NodeName={name} NodeAddr=127.0.0.1 " + " ".join(fields) + " State=UNKNOWN"


class LocalSlurm:
    """A single-node SLURM cluster with its state in a temporary folder."""

    partition = "debug"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="relu_study-slurm-"))
        self.root.chmod(0o755)  # munged wants its socket's folders searchable by all
        self.hostname = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._procs: dict[str, subprocess.Popen] = {}

    # ------------------------------------------------------------------ files
    def _write_files(self) -> None:
        for sub in ("state", "spool", "log", "run"):
            (self.root / sub).mkdir()
        key = self.root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        r = self.root
        self.conf.write_text("\n".join([
            "ClusterName=relu_study_tests",
            f"SlurmctldHost={self.hostname}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={r}/run/munge.socket",
            f"StateSaveLocation={r}/state",
            f"SlurmdSpoolDir={r}/spool",
            f"SlurmctldPidFile={r}/run/slurmctld.pid",
            f"SlurmdPidFile={r}/run/slurmd.pid",
            f"SlurmctldLogFile={r}/log/slurmctld.log",
            f"SlurmdLogFile={r}/log/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "SchedulerParameters=sched_interval=2",
            "MpiDefault=none",
            "ReturnToService=2",
            "KillWait=2",
            "MinJobAge=600",
            _node_line(self.hostname),
            f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))

    # ------------------------------------------------------------------ daemons
    def start(self, timeout: float = 60.0) -> LocalSlurm:
        self._write_files()
        r = self.root
        logs = {name: open(r / "log" / f"{name}.out", "wb") for name in DAEMONS}
        commands = {
            "munged": ["munged", "--foreground", "--force", "--origin=127.0.0.1",
                       f"--socket={r}/run/munge.socket", f"--key-file={r}/munge.key", f"--log-file={r}/log/munged.log",
                       f"--pid-file={r}/run/munged.pid", f"--seed-file={r}/run/munged.seed"],
            "slurmctld": ["slurmctld", "-D", "-i", "-f", str(self.conf)],
            "slurmd": ["slurmd", "-D", "-N", self.hostname, "-f", str(self.conf)],
        }
        try:
            for name in DAEMONS:
                self._procs[name] = subprocess.Popen(commands[name], stdout=logs[name], stderr=subprocess.STDOUT,
                                                     env=self.env)
                if name == "munged":
                    self._wait(lambda: (r / "run" / "munge.socket").exists(), 10, "munged's socket")
            self._wait(lambda: self.node_state() == "idle", timeout, "the node to become idle")
        except BaseException:
            self.stop()
            raise
        finally:
            for fh in logs.values():
                fh.close()
        return self

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [n for n, p in self._procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"no {what} after {timeout:.0f} s"
                raise RuntimeError(f"local SLURM cluster did not start: {why}\n{self.logs()}")
            time.sleep(0.2)

    def node_state(self) -> str | None:
        proc = self.run("sinfo", "--noheader", "--Node", "--format=%T", check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout.strip().rstrip("*~#") or None

    def stop(self) -> None:
        """Cancel what is left, stop the daemons (slurmd, slurmctld, munged), and
        remove the cluster's folder."""
        if self._procs.get("slurmctld") and self._procs["slurmctld"].poll() is None:
            self.run("scancel", "--full", "--user=root", check=False)
            deadline = time.monotonic() + 15
            while self.jobs("RUNNING,COMPLETING,CONFIGURING") and time.monotonic() < deadline:
                time.sleep(0.2)
        for name in reversed(DAEMONS):
            proc = self._procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ clients
    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=30, check=check)

    def jobs(self, states: str = "all") -> dict[str, str]:
        """``{job id: state}`` of the jobs the controller knows (array tasks one by one)."""
        proc = self.run("squeue", "--noheader", "--array", f"--states={states}", "--format=%i|%T", check=False)
        return dict(line.split("|", 1) for line in proc.stdout.splitlines() if "|" in line)

    def logs(self) -> str:
        out = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-15:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)
