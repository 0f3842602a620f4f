"""The peers (opsdroid, errbot) in a venv of their own, `benchmarks/.peers/`, which this
package creates and fills; their echo scripts here run in that venv, never in Rentian's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import PEERS, Unavailable

HERE = Path(__file__).resolve().parent
# What each peer needs in its venv. opsdroid 0.31 imports `pkg_resources` (gone from
# setuptools 81 on); errbot's test backend, which drives it here, imports pytest.
REQUIREMENTS = {
    "opsdroid": ["opsdroid==0.31.0", "setuptools<81"],
    "errbot": ["errbot==6.2.1", "pytest"],
}


def _python() -> Path:
    return PEERS / "bin" / "python"


def ensure(peer: str, *, pip_timeout: int) -> Path:
    """The peers' venv python with `peer` installed, or `Unavailable` saying why not.

    Installed once and kept (a marker per peer's requirements); `pip_timeout` bounds each
    network read, so a registry that is out of reach fails fast in smoke mode.
    """
    python = _python()
    if not python.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        done = subprocess.run([base, "-m", "venv", str(PEERS)], capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"could not create the peers' venv: {done.stderr.strip()[-300:]}")
    wanted = REQUIREMENTS[peer]
    marker = PEERS / f".installed-{peer}"
    if marker.exists() and marker.read_text(encoding="utf-8") == json.dumps(wanted):
        return python
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--timeout", str(pip_timeout), "--retries", "1", *wanted],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
        raise Unavailable(f"{peer} would not install: {(errors or ['pip failed'])[-1][:300]}")
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return python


def echo_us(peer: str, python: Path, count: int) -> tuple[float, str]:
    """µs per echo message through `peer`'s own message path, and the peer's version."""
    done = subprocess.run(
        [str(python), "-W", "ignore", str(HERE / f"{peer}_echo.py"), str(count)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise Unavailable(f"{peer} did not run: {done.stderr.strip().splitlines()[-1:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return float(report["us_per_msg"]), str(report["version"])
