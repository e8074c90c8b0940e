"""Every command in the README runs as written, from a scratch folder holding a copy of examples/.

The README's ```sh blocks are run line by line, in order, in one folder (later commands use the
folders earlier ones wrote, as a reader would); its ```python blocks run there too, in their place.
Nothing is skipped silently; each line is one of:
- a `tokenfab ...` command: run as written (`tokenfab` is the one installed next to this Python);
- a block with `sudo` lines (the twin): run as written in a folder of its own by
  `test_readme_twin_commands`, in the twin test group (root, FRR and `ip netns`, as tests/test_twin.py:
  missing ones fail, not skip). The tests run as root, where `sudo` only keeps the user: it is a shell
  function here, because the real one resets PATH and would not find a virtualenv's tokenfab;
- `make TARGET`: building a virtualenv or running the whole suite from inside the suite is not done;
  `make -n TARGET` in the repository checks that the target exists and resolves;
- `tokenfab serve ...` (runs until stopped): started as written, it must answer on the address it
  names, then it is stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, list[str]]]:
    """(language, commands) of the README's sh and python blocks; comments stripped from sh lines."""
    out = []
    for lang, body in FENCE.findall(README.read_text()):
        if lang == "python":
            out.append((lang, [body]))
        elif lang == "sh":
            lines = [re.split(r"\s+#\s", line, maxsplit=1)[0].strip() for line in body.splitlines()]
            out.append((lang, [line for line in lines if line and not line.startswith("#")]))
    return out


def _is_twin(lines: list[str]) -> bool:
    return any(line.startswith("sudo ") for line in lines)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(command: str, cwd: Path, timeout: float = 300, **env: str) -> str:
    r = subprocess.run(
        ["bash", "-c", 'sudo() { "$@"; }\n' + command], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, f"README command failed (exit {r.returncode}): {command}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return " ".join(r.stdout.split())  # unwrapped: rich wraps at the terminal width


def _serve(command: str, cwd: Path, timeout_s: float = 60) -> None:
    """A long-running `tokenfab serve` line: it must answer its page on its --port, then it stops."""
    import time
    import urllib.request

    port = int(re.search(r"--port (\d+)", command).group(1)) if "--port" in command else 8800
    proc = subprocess.Popen(
        ["bash", "-c", "exec " + command], cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                assert "tokenfab" in page
                break
            except OSError:
                assert proc.poll() is None, f"README command failed: {command}\n{proc.stdout.read()[-3000:]}"
                assert time.monotonic() < deadline, f"README command never answered on port {port}: {command}"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(20)


def _scratch(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path


def test_every_readme_command_is_run():
    seen = [(lang, line) for lang, lines in blocks() for line in lines]
    kinds = {"python" if lang == "python" else line.split()[0] for lang, line in seen}
    # a new kind of command needs a rule above before it can be in the README
    assert kinds <= {"python", "tokenfab", "sudo", "make"}, kinds
    assert sum(1 for lang, lines in blocks() if _is_twin(lines)) == 1
    assert len(seen) >= 20


def test_readme_make_targets_exist():
    for lang, lines in blocks():
        for line in lines:
            if lang == "sh" and line.startswith("make "):
                r = subprocess.run(["make", "-n", *line.split()[1:]], cwd=ROOT, capture_output=True, text=True)
                assert r.returncode == 0, f"{line}: {r.stderr}"


def test_readme_commands_run_as_written(tmp_path):
    cwd = _scratch(tmp_path)
    ran = 0
    for lang, lines in blocks():
        if lang == "python":
            r = subprocess.run([sys.executable, "-c", lines[0]], cwd=cwd, env=_env(), capture_output=True, text=True)
            assert r.returncode == 0, f"README python block failed:\n{lines[0]}\n{r.stderr[-3000:]}"
            ran += 1
            continue
        if _is_twin(lines):
            continue  # test_readme_twin_commands
        for line in lines:
            if line.startswith("tokenfab serve"):
                _serve(line, cwd)
                ran += 1
            elif line.startswith("tokenfab "):
                _run(line, cwd)
                ran += 1
    assert ran >= 15
    # what the README says these commands leave behind
    assert (cwd / "out2" / "diff.txt").exists() and (cwd / "load.svg").exists()
    assert (cwd / "out" / "configs" / "spine-1" / "frr.conf").exists()
    assert (cwd / "sweep-out" / "sweep.duckdb").exists() and (cwd / "sweep-ray" / "results.csv").exists()


@pytest.mark.xdist_group("twin")
def test_readme_twin_commands(tmp_path):
    assert os.geteuid() == 0, "the README's twin commands need root (network namespaces)"
    assert Path("/usr/lib/frr/bgpd").exists(), "the README's twin commands need Debian's FRR (apt-packages.txt)"
    (lines,) = [lines for lang, lines in blocks() if lang == "sh" and _is_twin(lines)]
    cwd = _scratch(tmp_path)
    # its own twin state folder: the commands name no twin, so another twin on this machine (a developer's,
    # or another suite's) must not be in their view
    # (under /run/tokenfab, not the test's 0700 temporary folder: the FRR daemons run as user frr)
    state = {"TOKENFAB_TWIN_STATE": f"/run/tokenfab/readme-{os.getpid()}"}
    said = []
    try:
        for line in lines:
            said.append(_run(line, cwd, **state))
    finally:
        subprocess.run(
            ["bash", "-c", 'sudo() { "$@"; }\n' + next(x for x in lines if x.endswith("twin down"))],
            cwd=cwd,
            env=_env(**state),
            capture_output=True,
        )
        shutil.rmtree(state["TOKENFAB_TWIN_STATE"], ignore_errors=True)
    # what the README's comments say these commands show
    checks = [out for line, out in zip(lines, said) if line.endswith("twin check")]
    assert "128 of 128 sessions Established" in checks[0]
    assert "31 of 32" in checks[1]  # leaf-r1-1 after one of its uplinks failed
