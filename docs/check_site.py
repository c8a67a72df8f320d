"""Check the built manual (``make docs-check``): every internal link of every
page resolves, and three pages (the front page, ``EntityEmbedder``'s API page
and a gallery page) render in a real browser, headless Chromium, with every
image loaded.

Usage: ``python docs/check_site.py [--links-only] docs/_build/html``. Exits 1
naming each problem; Chromium comes from Debian's ``chromium`` package (or
``CHROMIUM``); ``--links-only`` checks the links without a browser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Each page to open, and whether it must show an image (a figure or a plot).
PAGES = {
    "index.html": True,
    "generated/entembed.EntityEmbedder.html": False,
    "auto_examples/quickstart.html": True,
}
# Flags for a browser on a machine without a display or network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-file-access-from-files",
    "--virtual-time-budget=15000",
]


class _Page(HTMLParser):
    """A page's link targets, image sources and element ids."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        found = dict(attrs)
        if "id" in found:
            self.ids.add(found["id"])
        if tag == "a" and found.get("href"):
            self.links.append(found["href"])
        if tag == "img" and found.get("src"):
            self.images.append(found["src"])


def _parsed(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def broken_links(site: Path) -> list[str]:
    """Every internal link or image of every page whose target (file, and
    anchor within it) does not exist."""
    problems, pages = [], {}
    for path in sorted(site.rglob("*.html")):
        pages[path] = _parsed(path)
    for path, page in pages.items():
        for target in [*page.links, *page.images]:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith("mailto:"):
                continue  # external: not this check's business
            file = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not file.exists():
                problems.append(f"{path.relative_to(site)}: {target} does not exist")
            elif parts.fragment and file.suffix == ".html":
                ids = pages[file].ids if file in pages else _parsed(file).ids
                if parts.fragment not in ids:
                    problems.append(
                        f"{path.relative_to(site)}: {target}: no #{parts.fragment}"
                    )
    return problems


_WRAPPER = """<!doctype html><html><body><pre id="result">pending</pre>
<iframe id="page" src="{url}" style="width:1280px;height:900px"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {{
  const doc = document.getElementById("page").contentDocument;
  const images = [...doc.images].map(i => ({{src: i.getAttribute("src"),
    loaded: i.complete && i.naturalWidth > 0}}));
  document.getElementById("result").textContent = JSON.stringify({{
    title: doc.title, text: doc.body.innerText.length, images: images}});
}});
</script></body></html>"""


def rendered(browser: str, page: Path) -> dict:
    """What Chromium shows of ``page``: its title, how much text, and each
    image with whether it loaded."""
    with tempfile.TemporaryDirectory() as folder:
        wrapper = Path(folder) / "wrapper.html"
        wrapper.write_text(_WRAPPER.format(url=page.resolve().as_uri()))
        out = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={folder}/profile",
                "--dump-dom",
                wrapper.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    start = out.stdout.find('<pre id="result">')
    end = out.stdout.find("</pre>", start)
    text = out.stdout[start + len('<pre id="result">') : end]
    try:
        return json.loads(text.replace("&quot;", '"').replace("&amp;", "&"))
    except json.JSONDecodeError:
        return {"error": (text or out.stderr[-500:]).strip()}


def main(site: str, *, browse: bool = True) -> int:
    root = Path(site)
    if not (root / "index.html").is_file():
        print(
            f"docs-check: no site at {root}; build it with make docs", file=sys.stderr
        )
        return 1
    problems = broken_links(root)
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not browse:
        pass
    elif browser is None:
        problems.append("no Chromium: apt-get install chromium (or set CHROMIUM)")
    else:
        for name, pictured in PAGES.items():
            shown = rendered(browser, root / name)
            if "error" in shown or not shown.get("title") or shown["text"] < 200:
                problems.append(f"{name}: did not render ({shown})")
                continue
            images = shown["images"]
            missing = [i["src"] for i in images if not i["loaded"]]
            if missing or (pictured and not images):
                problems.append(f"{name}: images not loaded: {missing or 'none'}")
            print(f"{name}: '{shown['title']}', {len(images)} image(s) loaded")
    for problem in problems:
        print(f"docs-check: {problem}", file=sys.stderr)
    print(f"docs-check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--links-only"]
    sys.exit(
        main(
            arguments[0] if arguments else "docs/_build/html",
            browse="--links-only" not in sys.argv,
        )
    )
