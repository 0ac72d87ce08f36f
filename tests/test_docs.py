"""The README is a front page: short, with its commands on the first screen, and nothing it links to missing."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_exists(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        assert (page.parent / target.split("#")[0]).exists(), f"{page.name} links to {target}, which is missing"


def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    words = len(re.sub(r"<!-- reference:story -->.*?<!-- /reference:story -->", "", text, flags=re.S).split())
    assert words < 1300, f"the README front page has {words} words besides its generated story"
    first_screen = "\n".join(text.splitlines()[:30])
    assert "make run" in first_screen and "make test" in first_screen
    assert "<!-- reference:story -->" in text and "<!-- /reference:story -->" in text
