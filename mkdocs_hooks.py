"""mkdocs hooks (mkdocs.yml `hooks:`): the same Markdown reads right on GitHub and on the site.

A `|` inside a code span in a table cell must be escaped (`\\|`) for GitHub, which splits
table rows on every unescaped pipe; Python-Markdown already ignores pipes inside backticks
and would print the backslash. So the site's copy drops the escape inside code spans of table
rows (lines starting with `|`, outside fenced blocks)."""

import re

_CODE = re.compile(r"`[^`\n]*`")


def on_page_markdown(markdown: str, **_) -> str:
    out, fenced = [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.lstrip().startswith("|"):
            line = _CODE.sub(lambda m: m.group(0).replace("\\|", "|"), line)
        out.append(line)
    return "\n".join(out)
