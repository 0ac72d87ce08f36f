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


def test_the_results_page_and_the_readme_story_say_what_the_shipped_reference_holds(monkeypatch):
    """docs/results.md and the README's story block are what tools/reference_tables.py writes from the
    reference as shipped: after the reference grows, regenerate them (the command: docs/development.md)."""
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import reference_tables

    tables, scale, budget, copied = reference_tables.read_suites()
    stale = "is stale: run the reference_tables.py command in docs/development.md"
    assert (ROOT / "docs" / "results.md").read_text() == reference_tables.results_page(tables, scale, budget, copied), \
        f"docs/results.md {stale}"
    story = reference_tables.story_block(tables, scale, budget, copied, front_page=True)
    assert f"<!-- reference:story -->\n{story}\n<!-- /reference:story -->" in (ROOT / "README.md").read_text(), \
        f"the README's story block {stale}"
