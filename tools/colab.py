"""Write each notebook's Colab badge and install cell from the project's public home.

The home is set in one place, ``pyproject.toml``'s ``[project.urls] Repository`` (a GitHub URL).
Until it is set, notebooks carry no badge and their install cell explains how to install from a
clone or from a repository URL the user chooses, instead of guessing one.

    python tools/colab.py notebooks/*.ipynb          # rewrite
    python tools/colab.py --check notebooks/*.ipynb  # exit 1 if a notebook is out of date (a test runs this)
"""
from __future__ import annotations

import re
import sys

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser as a package (pip install tomli)
    import tomli as tomllib
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbclean import rewrite_all  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BADGE = re.compile(r"\n*\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n*")
GITHUB = re.compile(r"^https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def home() -> str | None:
    """The configured repository URL (``[project.urls] Repository``), or ``None``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    url = project.get("urls", {}).get("Repository")
    if url and not GITHUB.match(url):
        raise SystemExit(f"[project.urls] Repository must be a https://github.com/OWNER/NAME URL, not {url!r}.")
    return url


def install_cell(url: str | None) -> str:
    head = "# Colab only: install mdseg (torch stays the one Colab ships).\nimport os, subprocess, sys\n"
    if url:
        return head + ('if "google.colab" in sys.modules:\n'
                       f'    repo = os.environ.get("MDSEG_REPO", "{url}")\n'
                       '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{repo}"], check=True)')
    return head + ('if "google.colab" in sys.modules:\n'
                   '    repo = os.environ.get("MDSEG_REPO")  # the repository you trust, e.g. your fork\n'
                   '    if repo:\n'
                   '        subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{repo}"], check=True)\n'
                   '    else:\n'
                   '        print("mdseg is not installed. Either upload a clone to /content/mdseg and run "\n'
                   '              "`!pip install -e /content/mdseg`, or run `%env MDSEG_REPO=<git URL of mdseg>` "\n'
                   '              "and this cell again.")')


def badge(url: str, notebook: Path) -> str:
    path = GITHUB.match(url).group(1)
    target = f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook.name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({target})"


def render(text: str, notebook: Path, url: str | None) -> str:
    """The notebook's JSON with its badge (first cell, under the title) and install cell (second cell)."""
    nb = nbformat.reads(text, as_version=4)
    title, *rest = BADGE.sub("\n\n", nb.cells[0].source).split("\n\n", 1)
    nb.cells[0].source = "\n\n".join([title] + ([badge(url, notebook)] if url else []) + rest)
    nb.cells[1].source = install_cell(url)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    url = home()
    where = f"(home: {url or 'not set'})"
    return rewrite_all(argv, lambda text, path: render(text, path, url), f"updated {where}", f"out of date {where}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
