"""Running envctl for a benchmark: its own lock and state directories and the repository's
templates, so a run neither reads nor leaves anything of the user's; a failure stops the run
with envctl's output."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load():
    """The 1-minute load average, recorded beside every timing."""
    return os.getloadavg()[0]


class EnvctlRun:
    def __init__(self, envctl, workdir, env, timeout):
        # envctl runs in `workdir`: a relative path is resolved here first.
        self.envctl = str(Path(envctl).resolve())
        self.workdir = workdir
        self.env = env
        self.timeout = timeout
        self.vars = dict(os.environ)
        self.vars["ENVCTL_TEMPLATE_PATH"] = str(REPO / "templates")
        self.vars["ENVCTL_LOCK_DIR"] = str(workdir / "locks")
        self.vars["ENVCTL_STATE_DIR"] = str(workdir / "state")

    def run(self, *args, check=True):
        out = subprocess.run(
            [self.envctl, *args], cwd=self.workdir, env=self.vars,
            capture_output=True, text=True, timeout=self.timeout,
        )
        if check and out.returncode != 0:
            raise SystemExit(f"envctl {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stdout}\n{out.stderr}")
        return out
