"""Which Python runs the program: the environment its Pulumi.yaml names, as the Pulumi CLI does.

A program written for other SDK versions than tierstack's (another provider major version, a
provider tierstack does not ship) only runs in its own virtualenv. The preview engine runs
there too, loaded from tierstack's source by a small bootstrap: it needs nothing from that
environment but the Pulumi SDK (MIN_PULUMI_VERSION or newer) and protobuf, which the SDK
brings. Policies are evaluated back in tierstack's own process (see `engine`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import tierstack
from tierstack.preview.project import Project, ProjectError

PACKAGE_DIR = Path(tierstack.__file__).resolve().parent

# Runs a tierstack module in a foreign interpreter without putting tierstack's site-packages
# (or its repository, with its own modules) on the program's import path.
BOOTSTRAP = """
import importlib.util, runpy, sys
package, module = sys.argv[1], sys.argv[2]
del sys.argv[1:]
spec = importlib.util.spec_from_file_location(
    "tierstack", package + "/__init__.py", submodule_search_locations=[package])
sys.modules["tierstack"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sys.modules["tierstack"])
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Environment:
    python: str  # the interpreter that runs the program
    own: bool  # True: the program's own environment; False: tierstack's
    description: str  # where it comes from, for the output
    note: str | None = None  # why tierstack's own was used although Pulumi.yaml names one
    foreign: bool = False  # another interpreter than tierstack's: bootstrap, policies outside

    def command(self, module: str) -> list[str]:
        """The command that runs tierstack's `module` (a runner or the zygote) here."""
        if not self.foreign:
            return [self.python, "-m", module]
        return [self.python, "-c", BOOTSTRAP, str(PACKAGE_DIR), module]

    def as_json(self) -> dict[str, str | bool | None]:
        return {
            "python": self.python,
            "own": self.own,
            "description": self.description,
            "note": self.note,
        }


def _tierstack_env(note: str | None, description: str) -> Environment:
    return Environment(sys.executable, False, description, note)


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _poetry_venv(project: Project) -> Path | None:
    """Poetry keeps its environments outside the project unless configured in-project."""
    if (project.directory / ".venv").is_dir():
        return project.directory / ".venv"
    poetry = shutil.which("poetry")
    if poetry is None:
        return None
    done = subprocess.run(
        [poetry, "env", "info", "--path"],
        cwd=project.directory,
        capture_output=True,
        text=True,
        check=False,
    )
    path = done.stdout.strip()
    return Path(path) if done.returncode == 0 and path else None


def named_venv(project: Project) -> tuple[Path | None, str]:
    """The virtualenv Pulumi.yaml names (runtime.options.virtualenv, or the uv / poetry
    toolchain's), and how it was named; (None, why) when it names none."""
    options = project.runtime_options
    toolchain = str(options.get("toolchain") or "pip")
    virtualenv = options.get("virtualenv")
    if toolchain not in ("pip", "uv", "poetry"):
        raise ProjectError(
            f"{project.directory}/Pulumi.yaml: runtime.options.toolchain {toolchain!r} is not "
            "one of pip, uv, poetry"
        )
    if virtualenv:
        return (project.directory / str(virtualenv)).resolve(), f"virtualenv {virtualenv}"
    if toolchain == "uv":
        return project.directory / ".venv", "uv toolchain (.venv)"
    if toolchain == "poetry":
        return _poetry_venv(project), "poetry toolchain"
    return None, "Pulumi.yaml names no virtualenv or toolchain"


def _requirements(project: Project) -> Path | None:
    for directory in (project.directory, project.program_dir):
        for name in ("requirements.txt", "pyproject.toml"):
            if (directory / name).is_file():
                return directory / name
    return None


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise ProjectError("--install needs uv on PATH (pip install uv)")
    return uv


def _run_uv(args: list[str], project: Project) -> None:
    done = subprocess.run(args, cwd=project.directory, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise ProjectError(f"could not install the program's environment with uv: {reason}")


def install(project: Project, venv: Path) -> None:
    """Creates `venv` if needed and installs the program's requirements into it with uv."""
    requirements = _requirements(project)
    if requirements is None:
        raise ProjectError(
            f"--install: no requirements.txt or pyproject.toml in {project.directory}"
        )
    uv = _uv()
    print(f"tierstack: installing {requirements.name} into {venv} with uv", file=sys.stderr)
    if not _venv_python(venv).exists():
        _run_uv([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], project)
    python = str(_venv_python(venv))
    _run_uv([uv, "pip", "install", "--quiet", "--python", python, "-r", str(requirements)], project)


def program_environment(project: Project, *, install_requirements: bool = False) -> Environment:
    """The environment to run the program in; tierstack's own, with a note, when Pulumi.yaml
    names none or the named one does not exist (and `install_requirements` is off)."""
    venv, how = named_venv(project)
    if venv is None:
        if install_requirements:
            raise ProjectError(
                f"--install: {how}; set runtime.options.virtualenv (e.g. venv) in Pulumi.yaml"
            )
        return _tierstack_env(None, f"tierstack's own Pulumi SDKs ({how})")
    if install_requirements:
        install(project, venv)
    python = _venv_python(venv)
    if not python.exists():
        note = (
            f"the {how} named by Pulumi.yaml does not exist ({venv}): ran with tierstack's own "
            "Pulumi SDKs; pass --install to create it from the program's requirements"
        )
        return _tierstack_env(note, "tierstack's own Pulumi SDKs")
    # Not resolved: a venv's python is a symlink to the base interpreter, and only the link's
    # path finds the venv's site-packages.
    description = f"the program's own {how} ({venv})"
    if venv.resolve() == Path(sys.prefix).resolve():  # e.g. this repository's own program
        return Environment(sys.executable, True, description)
    return Environment(str(python.absolute()), True, description, foreign=True)
