"""The README's first hour, literally: `up` on a fresh data directory, then every command of the
README's "First steps" section as printed there (placeholders filled from what earlier commands
printed, as a reader would), through the first lifecycle to its approval and the new version
answering requests, and through the planner agent's draft: submitted, approved by someone else,
its canary serving the share asked for, its version promoted. The README cannot drift from the
code without this test failing.

Real processes throughout: the Temporal dev server, OPA, the worker and the API started by `up`,
the committed model pack imported on first run, the CLI run as a user runs it (from .venv/bin on
PATH, the way the README says to put it there), at the narrow terminal width that once wrapped
printed commands.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sentimentops.core.settings import REPO_ROOT
from sentimentops.core.vocabulary import FINAL_PLAN_STATUSES, PlanStatus
from tests.services import free_port, wait_for_exit

README = REPO_ROOT / "README.md"
SECTION = "## First steps after `make up`"
PLACEHOLDER = re.compile(r"<[a-z][a-z ]*>")
LIFECYCLE_MINUTES = 20  # the CPU fit and evaluation on a loaded 2-core CI machine, with margin


def readme_commands() -> list[str]:
    """The shell commands of the README's first-steps section, in order, one per logical line."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


class Reader:
    """A reader at one terminal: runs what the README says in order, in the same environment
    (an `export` holds for the commands after it), and keeps what the commands printed."""

    def __init__(self, env: dict[str, str], api_port: int) -> None:
        self.env = env
        self.api_port = api_port
        self.values: dict[str, str] = {}
        self.transcript: list[str] = []
        self.checks = 0  # candidate checks made so far

    def fill(self, command: str) -> str:
        command = command.replace("localhost:8000", f"127.0.0.1:{self.api_port}")
        for name in PLACEHOLDER.findall(command.split(" #")[0]):
            assert name in self.values, f"the README's {command!r} needs {name}, never printed"
            command = command.replace(name, self.values[name])
        return command

    def run(self, command: str, *, timeout: float = 600) -> str:
        # The environment after the command comes back after a NUL, so `export`/`unset` persist.
        script = f"{self.fill(command)}\nstatus=$?; printf '\\0'; env -0; exit $status"
        done = subprocess.run(
            ["bash", "-c", script],
            env=self.env,
            cwd=self.env["HOME"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        out, _, environment = done.stdout.partition("\0")
        self.transcript.append(f"$ {command}\n{out}{done.stderr}")
        assert done.returncode == 0, "\n".join(self.transcript[-3:])
        self.env = dict(item.split("=", 1) for item in environment.split("\0") if "=" in item)
        return out

    def until(self, command: str, pattern: str, *, minutes: float) -> re.Match[str]:
        """Run `command` again until its output matches (a reader waiting for the next step)."""
        deadline = time.monotonic() + minutes * 60
        while True:
            found = re.search(pattern, self.run(command))
            if found is not None:
                return found
            assert time.monotonic() < deadline, "\n".join(self.transcript[-3:])
            time.sleep(5)


@pytest.mark.timeout(LIFECYCLE_MINUTES * 60 + 900)
def test_the_readme_first_steps_reach_a_promoted_model(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("API", "TEMPORAL", "TEMPORAL_UI", "OPA")}
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIMENTOPS_")},
        "HOME": str(home),
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SENTIMENTOPS_DATA_DIR": str(home / "sentimentops"),
        "COLUMNS": "80",
        **{f"SENTIMENTOPS_{name}_PORT": str(port) for name, port in ports.items()},
    }
    reader = Reader(env, ports["API"])
    commands = readme_commands()
    assert any(c.startswith("sentimentops approvals approve") for c in commands), commands

    up = reader.run("sentimentops up --detach", timeout=900)
    try:
        # The bootstrap command `up` prints runs as printed (one line at 80 columns).
        printed = [line.strip() for line in up.splitlines() if "/api/v1/auth/bootstrap" in line]
        assert len(printed) == 1, up
        admin = json.loads(reader.run(printed[0]))
        assert admin.get("client_secret"), admin
        _follow_the_readme(reader, commands)
    finally:
        # Whatever the README left running (the first platform or the second one).
        for data_dir in (home / "sentimentops", *home.glob(".local/share/sentimentops*")):
            _down(env, data_dir)


def _down(env: dict[str, str], data_dir: Path) -> None:
    state = data_dir / "run" / "platform.json"
    if not state.exists():
        return
    pids = [s["pid"] for s in json.loads(state.read_text())["services"]]
    subprocess.run(
        [sys.executable, "-P", "-m", "sentimentops.app.cli", "down"],
        env={**env, "SENTIMENTOPS_DATA_DIR": str(data_dir)},
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert wait_for_exit(pids) == []


def _follow_the_readme(reader: Reader, commands: list[str]) -> None:
    for command in commands:
        if "/api/v1/auth/bootstrap" in command:
            continue  # done above, with the token `up` printed (a bootstrap token works once)
        if command.startswith("sentimentops approvals list"):
            # The approval comes once training, evaluation and the canary's soak are through.
            found = reader.until(command, r"\b([0-9a-f]{32})\b", minutes=LIFECYCLE_MINUTES)
            reader.values["<id>"] = found.group(1)
            continue
        if command.startswith("sentimentops workflows show"):
            # The README's comment names the status the reader will see once the plan ends.
            comment = command.partition(" #")[2]
            expected = [s for s in FINAL_PLAN_STATUSES if re.search(rf"\b{s}\b", comment)]
            assert len(expected) == 1, command
            final = "|".join(FINAL_PLAN_STATUSES)
            found = reader.until(command, rf"status: ({final})\b", minutes=LIFECYCLE_MINUTES)
            assert found.group(1) == expected[0], reader.transcript[-1]
            if expected[0] == PlanStatus.COMPLETED:
                _assert_the_candidate_serves(reader)
            continue
        if "/api/v1/models" in command:
            # The comment names the canary share the agent's plan sets once it reaches its soak.
            share = re.search(r"(\w+) canary ([0-9.]+)", command.partition(" #")[2])
            assert share is not None, command
            task, value = share.group(1), share.group(2)
            pattern = rf'"{task}":\s*{re.escape(value)}\b'
            reader.until(command, pattern, minutes=LIFECYCLE_MINUTES)
            continue
        out = reader.run(command)
        if command.startswith("sentimentops chat") and "--thread" not in command:
            thread = re.search(r"\bthread\s+([0-9a-f]{32})\b", out)
            assert thread is not None, reader.transcript[-1]
            reader.values["<thread>"] = thread.group(1)
        if command.startswith("sentimentops chat") and "--submit" in command:
            submitted = re.search(r"Submitted\s+as\s+plan\s+(\S+)", out)
            assert submitted is not None, reader.transcript[-1]
            reader.values["<workflow id>"] = submitted.group(1)
        if command.startswith("sentimentops admin create-api-key"):
            key = re.search(r"\b(so_[A-Za-z0-9_-]+)", out)
            assert key is not None, reader.transcript[-1]
            reader.values["<api key>"] = key.group(1)
        if "/api/v1/sentiment" in command:
            scored = json.loads(out)
            assert [p["label"] for p in scored["predictions"]] == ["positive", "negative"], out
        if command.startswith("sentimentops lifecycle start"):
            started = re.search(r"started (\S+)", out)
            assert started is not None, out
            reader.values["<workflow id>"] = started.group(1)


def _assert_the_candidate_serves(reader: Reader) -> None:
    """The version the lifecycle trained is production, and the API answers with it."""
    shown = reader.run(f"sentimentops workflows show {reader.values['<workflow id>']} --json")
    detail = json.loads(shown)
    trained = next(s for s in detail["progress"]["steps"] if s["tool"] == "train_model")
    task, version = trained["params"]["task"], trained["result"]["version"]
    # A key of the test's own on whichever platform the README runs now (one account per
    # check: a platform may be checked twice).
    reader.checks += 1
    account = f"e2e-check-{reader.checks}"
    reader.run(f"sentimentops admin create-service-account acme {account} --role viewer")
    out = reader.run(f"sentimentops admin create-api-key acme {account} --name check")
    key = re.search(r"\b(so_[A-Za-z0-9_-]+)", out)
    assert key is not None, out
    deadline = time.monotonic() + 120  # the API's watcher picks the new version up
    while True:
        answer = httpx.post(
            f"http://127.0.0.1:{reader.api_port}/api/v1/{task}",
            headers={"X-API-Key": key.group(1)},
            json={"text": "Oh great, another Monday."},
        )
        assert answer.status_code == 200, answer.text
        model = answer.json()["predictions"][0]["model"]
        if (model["alias"], model["version"]) == ("production", version):
            return
        assert time.monotonic() < deadline, answer.text
        time.sleep(2)
