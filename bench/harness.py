"""What the load, incremental and serve benchmarks share: a fresh database, the emulator and orgfeed as processes.

Every measured program runs in a process of its own so that its peak RSS is its own: the
emulator (`python -c` around `Emulator`), `orgfeed sync` and `orgfeed views …` (the console
script), gunicorn (the Procfile's web line). PostgreSQL is the machine's server: each size gets a
database of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
import requests

from app.salesforce.describe import SYSTEM_FIELDS

ROOT = Path(__file__).parents[1]
# An admin URL of the server the benchmarks create their databases on (`--database-url`, `--embedded`).
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
API = "62.0"
SEED = 7
# The emulator with `rows` Employee records per org (no other objects), the full-load CSV warm, as
# `orgfeed emulator` starts with 50,000 rows or more per object.
EMULATOR = """
import signal, sys, threading, orjson
from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
emulator = Emulator(demo_orgs(rows={"Employee": int(sys.argv[1])}, seed=SEED))
emulator.start(port=0, warm=True)
stop = threading.Event()
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: stop.set())
orgs = [{**o, "jwt": {k: v for k, v in o["jwt"].items() if k != "certificate_pem"}} for o in emulator.describe_orgs()]
summary = {"base_url": emulator.base_url, "ca_bundle": str(emulator.ca_bundle), "orgs": orgs}
print(orjson.dumps(summary).decode(), flush=True)
stop.wait()
emulator.stop()
""".replace("SEED", str(SEED))


def median(values: Sequence[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (fraction 0.99 for p99)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        pass
    return float("nan")


def use_server(url: str) -> None:
    """Create the benchmarks' databases on the server `url` (an admin URL) from now on."""
    global SERVER_URL  # noqa: PLW0603 - the benchmarks' one setting, chosen by `python -m bench` before any runs
    SERVER_URL = url


@contextmanager
def embedded_server() -> Iterator[str]:
    """An embedded PostgreSQL (as orgfeed uses without DATABASE_URL) in a temporary directory; its admin URL."""
    from app.warehouse.embedded import start_embedded_server, stop_embedded_server

    data_dir = Path(tempfile.mkdtemp(prefix="orgfeed-bench-embedded-")) / "data"
    url = start_embedded_server(data_dir)
    try:
        yield urlunsplit(urlsplit(url)._replace(path="/postgres"))
    finally:
        stop_embedded_server(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def machine() -> dict[str, object]:
    """CPU model, cores, memory and PostgreSQL version: the machine the figures came from."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    with psycopg.connect(SERVER_URL) as conn:
        version = conn.execute("show server_version").fetchone()[0]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "postgresql": version,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A new empty database on the machine's server (migrated by the caller); dropped on exit."""
    name = f"orgfeed_bench_{label}_{secrets.token_hex(3)}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@dataclass
class EmulatorProcess:
    """The emulator serving `rows_per_org` Employee records in each of amer and emea, in a process of its own."""

    rows_per_org: int
    process: subprocess.Popen | None = None
    summary: dict = field(default_factory=dict)
    startup_seconds: float = 0.0
    session: requests.Session = field(default_factory=requests.Session)

    def __enter__(self) -> EmulatorProcess:
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-c", EMULATOR, str(self.rows_per_org)], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("the emulator did not start")
        self.summary = json.loads(line)
        self.startup_seconds = round(time.monotonic() - started, 2)
        self.session.verify = self.summary["ca_bundle"]
        self.session.trust_env = False
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.process.stdout.close()  # type: ignore[union-attr]

    @property
    def base_url(self) -> str:
        return self.summary["base_url"]

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)  # type: ignore[union-attr]

    def cpu_seconds(self) -> float:
        """User + system CPU time the emulator process has used so far."""
        times = psutil.Process(self.process.pid).cpu_times()  # type: ignore[union-attr]
        return times.user + times.system

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.session.request(method, f"{self.base_url}/__emulator/{path}", json=body, timeout=600)
        response.raise_for_status()
        return response.json()

    def token(self, org: str) -> str:
        return self.control("POST", f"orgs/{org}/sessions", {})["access_token"]

    def bulk_csv(self, org: str, path: Path) -> int:
        """Writes what a `fields = "*"` Bulk 2.0 load of Employee gets (one header line) to `path`; returns the rows.

        The query is the loader's: every Bulk-selectable field (compound and base64 fields excluded), in its order.
        """
        headers = {"Authorization": f"Bearer {self.token(org)}"}
        api = f"{self.base_url}/services/data/v{API}"
        described = self.session.get(f"{api}/sobjects/Employee/describe", headers=headers).json()
        fields = loader_fields(described)
        created = self.session.post(
            f"{api}/jobs/query",
            headers=headers,
            json={"operation": "queryAll", "query": f"SELECT {', '.join(fields)} FROM Employee"},
        )
        created.raise_for_status()
        job = created.json()["id"]
        while self.session.get(f"{api}/jobs/query/{job}", headers=headers).json()["state"] != "JobComplete":
            time.sleep(0.05)
        rows, locator = 0, None
        with path.open("wb") as out:
            while locator != "null":
                params = {"maxRecords": 50_000, **({"locator": locator} if locator else {})}
                response = self.session.get(f"{api}/jobs/query/{job}/results", params=params, headers=headers)
                response.raise_for_status()
                body = response.content
                out.write(body if rows == 0 else body.partition(b"\n")[2])
                rows += int(response.headers["Sforce-NumberOfRecords"])
                locator = response.headers["Sforce-Locator"]
        self.session.delete(f"{api}/jobs/query/{job}", headers=headers)
        return rows


def loader_fields(described: dict) -> list[str]:
    """The fields, in order, a `fields = "*"` load selects from a describe: the loader's system fields first, then
    every other field but compound and base64 ones in describe order (app.salesforce.describe.selectable_fields)."""
    names = [f["name"] for f in described["fields"] if f["type"] not in ("address", "location", "base64")]
    first = [name for name in SYSTEM_FIELDS if name in names]
    return first + [name for name in names if name not in first]


def write_config(emulator: EmulatorProcess, directory: Path, database_url: str, views: str = "") -> dict[str, str]:
    """orgfeed.toml and its environment: Employee, `fields = "*"`, from amer and emea, Bulk from 100 rows, `views`."""
    orgs = {org["name"]: org for org in emulator.summary["orgs"]}
    ca = emulator.summary["ca_bundle"]
    config = directory / "orgfeed.toml"
    # Both orgs log in by client credentials: the incremental benchmark moves the emulator's clock
    # an hour on, which a JWT bearer assertion (signed with this machine's time) would not survive.
    config.write_text(
        "[sync]\nbulk_threshold = 100\n\n"
        + "".join(
            f'[[orgs]]\nname = "{name}"\nlogin_url = "{orgs[name]["login_url"]}"\nauth = "client_credentials"\n'
            f'client_id_env = "{name.upper()}_CLIENT_ID"\nclient_secret_env = "{name.upper()}_CLIENT_SECRET"\n'
            f'ca_bundle = "{ca}"\n\n'
            for name in ("amer", "emea")
        )
        + '[[mappings]]\nobject = "Employee"\nfields = "*"\n\n'
        + views
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ORGFEED_", "DATABASE_URL", "ODATA_DATABASE_URL", "REQUESTS_CA_BUNDLE"))
    }
    env.update({"ORGFEED_CONFIG": str(config), "DATABASE_URL": database_url})
    for name in ("amer", "emea"):
        env[f"{name.upper()}_CLIENT_ID"] = orgs[name]["client_credentials"]["client_id"]
        env[f"{name.upper()}_CLIENT_SECRET"] = orgs[name]["client_credentials"]["client_secret"]
    return env


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # user + system
    output: str


def run_orgfeed(args: Sequence[str], env: dict[str, str]) -> ProcessRun:
    """Runs `orgfeed ARGS` to completion: its wall time (spawn to exit), peak RSS and CPU time; raises if it fails."""
    executable = shutil.which("orgfeed", path=str(Path(sys.executable).parent)) or "orgfeed"
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen([executable, *args], env=env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        # Peak RSS is the process's own VmHWM, read every 20 ms until it exits (a high-water mark, so the last
        # reading is the peak but for the last 20 ms). Not wait4's ru_maxrss: on Linux that also counts the
        # forking parent's (this benchmark's) resident pages from before the exec.
        peak = 0.0
        while True:
            reading = peak_rss_mb(process.pid)
            if not math.isnan(reading):  # NaN: the process has exited
                peak = max(peak, reading)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"orgfeed {' '.join(args)} exited {process.returncode}:\n{text[-4000:]}")
    return ProcessRun(round(seconds, 3), peak, round(usage.ru_utime + usage.ru_stime, 2), text)


def sync_summary(output: str) -> dict:
    """The `summary` event of `orgfeed sync --json`."""
    for line in reversed(output.splitlines()):
        if line.startswith("{") and '"summary"' in line:
            return json.loads(line)
    raise RuntimeError(f"no summary line in the sync output:\n{output[-2000:]}")


class RssSampler:
    """Samples the summed and the largest RSS of a process tree every `interval` seconds while it runs."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total_mb = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _sample(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                total = sum(p.memory_info().rss for p in processes) / 2**20
            except psutil.Error:
                continue
            self.peak_total_mb = max(self.peak_total_mb, round(total, 1))


def system_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (every core, every process: PostgreSQL's backends included)."""
    times = psutil.cpu_times()
    return times.user + times.system + times.nice + getattr(times, "irq", 0) + getattr(times, "softirq", 0)


def growth(small: float, large: float, rows_small: int, rows_large: int) -> float | None:
    """How much `large` grew over `small`, per unit of row growth (1.0: linear in rows; 0: flat)."""
    if not small or rows_large == rows_small:
        return None
    return round((large / small) / (rows_large / rows_small), 2)


def rate(rows: int, seconds: float) -> int:
    return round(rows / seconds) if seconds else 0


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Right-aligned text table lines."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return lines


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def safe_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())
