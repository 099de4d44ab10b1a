"""The docs site and the README: `mkdocs build --strict` passes (every link, anchor and nav
entry right, mkdocs.yml's `validation`), the README stays a ten-minute read (at most 300
lines) and every relative link in it points at a file and heading that exist."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
MAX_README_LINES = 300


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    # no -q: mkdocs counts only the warnings it logs, so a quiet --strict build passes anything
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # material's banner about its successor
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(site)], capture_output=True, text=True, timeout=180, env=env)


def test_the_site_builds_with_strict_validation(tmp_path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tmp_path / "site" / "faults" / "index.html").read_text()
    # GitHub needs `a\|b` in a table's code span; the site shows it as a|b (mkdocs_hooks.py)
    assert "<code>dns rcode=servfail|refused|formerr|notimp</code>" in page
    assert not re.findall(r"<code>[^<]*\\\|", page)
    assert "<!-- client-matrix" in (tmp_path / "site" / "clients" / "index.html").read_text()


def test_a_broken_anchor_or_a_page_left_out_of_the_nav_fails_the_build(tmp_path):
    for name in ("mkdocs.yml", "mkdocs_hooks.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](faults.md#no-such-heading)\n")
    (tmp_path / "docs" / "stray-page.md").write_text("# Not in the nav\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "no-such-heading" in out and "stray-page.md" in out, out


def test_the_readme_is_at_most_300_lines():
    lines = README.read_text().count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines: move reference material to docs/"


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks and inline code, where links live."""
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a file's headings (lowercase, punctuation dropped, spaces to
    hyphens, -1, -2 ... for repeats); the README is read there and in an editor, not by mkdocs."""
    seen: dict[str, int] = {}
    out = set()
    for line in re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def relative_links(markdown: str) -> list[str]:
    links = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", _prose(markdown))
    return [t for t in links if not re.match(r"[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto:


def test_every_relative_link_in_the_readme_resolves():
    text = README.read_text()
    links = relative_links(text)
    assert len(links) >= 20, links  # the README links into docs/: a parse that finds none is broken
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (ROOT / path).resolve() if path else README
        if not target.exists():
            broken.append(f"{link}: no file {path}")
        elif anchor and target.suffix == ".md" and anchor not in github_anchors(target.read_text()):
            broken.append(f"{link}: no heading #{anchor} in {path or 'README.md'}")
    assert not broken, "README.md links that go nowhere:\n" + "\n".join(broken)


def test_the_anchor_rules_match_githubs():
    got = github_anchors("# Where k6 and its docs disagree (k6 wins)\n## Clients: `fault_prefer_h2`\n"
                         "```sh\n# not a heading\n```\n## Notes\n## Notes\n")
    assert got == {"where-k6-and-its-docs-disagree-k6-wins", "clients-fault_prefer_h2", "notes", "notes-1"}
    assert relative_links("[a](docs/x.md#y) `[b](no.md)` [c](https://x.test/) [d](#z)") == ["docs/x.md#y", "#z"]
