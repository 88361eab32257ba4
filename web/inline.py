"""Writes web/build/plots.html, the page template of `dvc plots show` and `dvc plots diff` (plots.html_template in
.dvc/config): web/plots.html with vega, vega-lite and vega-embed, as npm installed them from web/package-lock.json,
inlined. The page then draws its charts without the network, wherever it is written (`-o`)."""
import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
MARKER = "<!-- vega, vega-lite, vega-embed: inlined here by web/inline.py (make setup) -->"
LIBRARIES = ["vega", "vega-lite", "vega-embed"]  # in this order: each needs the one before it


def script(name):
    """The library's minified build as an inline <script>, without its source-map comment, `</script` escaped."""
    folder = HERE / "node_modules" / name
    path = folder / "build" / f"{name}.min.js"
    if not path.is_file():
        sys.exit(f"{path} is missing: install the plots page's libraries first (npm ci --prefix web, or make setup)")
    version = json.loads((folder / "package.json").read_text(encoding="utf8"))["version"]
    code = re.sub(r"^//# sourceMappingURL=.*$", "", path.read_text(encoding="utf8"), flags=re.MULTILINE)
    code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)
    return f"<script>/* {name} {version} */\n{code}\n</script>"


def main():
    page = (HERE / "plots.html").read_text(encoding="utf8")
    if page.count(MARKER) != 1:
        sys.exit(f"web/plots.html must hold the line {MARKER!r} once: the libraries go there")
    scripts = "\n".join(script(name) for name in LIBRARIES)
    out = HERE / "build" / "plots.html"
    out.parent.mkdir(exist_ok=True)
    out.write_text(page.replace(MARKER, scripts), encoding="utf8")
    print(f"{out.relative_to(HERE.parent)}: the plots page template, vega, vega-lite and vega-embed inlined")


if __name__ == "__main__":
    main()
