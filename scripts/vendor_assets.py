"""Re-create webmap/static/vendor from the npm registry.

Every JavaScript, CSS, image and font file the maps need is served by the app itself:
county intranets and CI have no internet. This script is the single record of where each
vendored file came from. It downloads the exact package versions below with `npm pack`
into a temporary directory, copies only the files listed, writes the few derived files
(see ``DERIVED``) and rewrites ``VERSIONS.md``.

Run from the repository root on a machine that reaches the npm registry:

    .venv/bin/python scripts/vendor_assets.py

Versions are the ones folium 0.20.0 asks its CDNs for; where npm lacks that exact
version, the deviation is stated in ``note`` and repeated in VERSIONS.md. After a folium
upgrade, update this list and ``webmap.assets.ASSET_URLS`` together; tests/webmap/
test_assets.py fails until both agree.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "webmap" / "static" / "vendor"


@dataclass(frozen=True)
class Package:
    """One npm package: the files copied from it (globs relative to the package root)."""

    name: str
    version: str
    licence: str
    files: tuple[str, ...]
    note: str = ""

    @property
    def folder(self) -> str:
        return f"{self.name}@{self.version}"


PACKAGES: tuple[Package, ...] = (
    Package(
        "leaflet",
        "1.9.3",
        "BSD-2-Clause",
        ("LICENSE", "dist/leaflet.js", "dist/leaflet.css", "dist/images/*.png"),
    ),
    Package("jquery", "3.7.1", "MIT", ("LICENSE.txt", "dist/jquery.min.js")),
    Package(
        "bootstrap",
        "5.2.2",
        "MIT",
        ("LICENSE", "dist/js/bootstrap.bundle.min.js", "dist/css/bootstrap.min.css"),
    ),
    Package(
        "bootstrap",
        "3.4.1",
        "MIT",
        ("LICENSE", "dist/fonts/glyphicons-halflings-regular.*"),
        note="folium asks for bootstrap 3.0.0's bootstrap-glyphicons.css, which is on no "
        "npm release; dist/css/bootstrap-glyphicons.css is the Glyphicons part of 3.4.1's "
        "bootstrap.css (a superset of 3.0.0's icons), cut out by this script.",
    ),
    Package(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        "Icons CC-BY-4.0, fonts OFL-1.1, code MIT",
        ("LICENSE.txt", "css/all.min.css", "webfonts/*"),
    ),
    Package(
        "drmonty-leaflet-awesome-markers",
        "2.0.2",
        "MIT",
        (
            "js/leaflet.awesome-markers.js",
            "css/leaflet.awesome-markers.css",
            "css/images/*.png",
        ),
        note="The official npm package `leaflet.awesome-markers` skips 2.0.2; this is the "
        "2.0.2 release republished (no licence file inside; MIT per its package.json).",
    ),
    Package(
        "leaflet.markercluster",
        "1.1.0",
        "MIT",
        (
            "MIT-LICENCE.txt",
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
        ),
    ),
    Package(
        "leaflet.fullscreen",
        "3.0.0",
        "MIT",
        ("LICENSE", "Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg"),
        note="npm ships no .min.js; the unminified Control.FullScreen.js is served instead.",
    ),
    Package(
        "leaflet-measure",
        "2.1.7",
        "MIT",
        ("LICENSE", "dist/leaflet-measure.min.js", "dist/leaflet-measure.css", "dist/images/*"),
        note="npm ships no .min.css; the unminified leaflet-measure.css is served instead.",
    ),
    Package(
        "leaflet.locatecontrol",
        "0.66.2",
        "MIT",
        ("LICENSE", "dist/L.Control.Locate.min.js", "dist/L.Control.Locate.min.css"),
    ),
    Package(
        "leaflet-search",
        "2.9.7",
        "MIT",
        (
            "license.txt",
            "dist/leaflet-search.min.js",
            "dist/leaflet-search.min.css",
            "images/search-icon.png",
            "images/loader.gif",
        ),
    ),
    Package(
        "leaflet-groupedlayercontrol",
        "0.6.1",
        "MIT",
        (
            "LICENSE.txt",
            "dist/leaflet.groupedlayercontrol.min.js",
            "dist/leaflet.groupedlayercontrol.min.css",
        ),
    ),
    Package(
        "leaflet-minimap",
        "3.6.1",
        "BSD-2-Clause",
        (
            "LICENSE.txt",
            "dist/Control.MiniMap.min.js",
            "dist/Control.MiniMap.min.css",
            "dist/images/*",
        ),
        note="npm ships only the minified files; they replace Control.MiniMap.js/.css.",
    ),
    Package(
        "leaflet-timedimension",
        "1.1.1",
        "MIT",
        (
            "LICENSE",
            "dist/leaflet.timedimension.min.js",
            "dist/leaflet.timedimension.control.css",
        ),
        note="leaflet.timedimension.control.css loads the Glyphicons font from "
        "netdna.bootstrapcdn.com; this script points it at bootstrap@3.4.1/dist/fonts.",
    ),
    Package(
        "iso8601-js-period",
        "0.2.1",
        "Apache-2.0",
        ("iso8601.js",),
        note="npm ships no .min.js and no licence file (Apache-2.0 per its package.json).",
    ),
    Package(
        "jquery-ui-dist",
        "1.13.3",
        "MIT",
        ("LICENSE.txt", "jquery-ui.min.js"),
        note="folium asks for jQuery UI 1.10.2, which is not on npm and has known XSS bugs "
        "(CVE-2021-41182/41183/41184, CVE-2022-31160, fixed in 1.13.2). TimestampedGeoJson "
        "and leaflet-timedimension 1.1.1 do not call it; 1.13.3 is served under its name.",
    ),
    Package("moment", "2.18.1", "MIT", ("LICENSE", "min/moment.min.js")),
    Package(
        "highlight.js",
        "8.4.0",
        "BSD-3-Clause",
        ("LICENSE", "styles/default.css"),
        note="npm ships no default.min.css; the unminified stylesheet is served instead.",
    ),
    Package(
        "leaflet-draw",
        "1.0.2",
        "MIT",
        ("dist/leaflet.draw.js", "dist/leaflet.draw.css", "dist/images/*"),
        note="No licence file inside the npm package (MIT per its package.json).",
    ),
    Package(
        "leaflet.featuregroup.subgroup",
        "1.0.2",
        "BSD-2-Clause",
        ("LICENSE", "dist/leaflet.featuregroup.subgroup.js"),
    ),
    Package("chart.js", "4.6.1", "MIT", ("LICENSE.md", "dist/chart.umd.min.js")),
    Package(
        "leaflet.vectorgrid",
        "1.3.0",
        "Beerware",
        ("dist/Leaflet.VectorGrid.bundled.min.js",),
        note="Not a folium asset: the county map draws big layers from our vector tiles "
        "with it (static/js/vtiles.js). No licence file inside (Beerware per its "
        "package.json); the bundled build includes pbf and @mapbox/vector-tile (BSD-3-Clause).",
    ),
)

FOLIUM_VERSION = "0.20.0"
TIMEDIMENSION_CSS = "leaflet-timedimension@1.1.1/dist/leaflet.timedimension.control.css"
GLYPHICONS_CSS = "bootstrap@3.4.1/dist/css/bootstrap-glyphicons.css"
ROTATE_CSS = f"folium@{FOLIUM_VERSION}/leaflet.awesome.rotate.css"


def cut_glyphicons(vendor: Path, packages: dict[str, Path]) -> None:
    """Write the Glyphicons rules of Bootstrap 3.4.1 as a stylesheet of their own."""
    css = (packages["bootstrap@3.4.1"] / "dist/css/bootstrap.css").read_text("utf-8")
    start = css.index('@font-face {\n  font-family: "Glyphicons Halflings";')
    end = css.index("* {\n  -webkit-box-sizing: border-box;", start)
    header = (
        "/*! Glyphicons rules cut from Bootstrap v3.4.1 dist/css/bootstrap.css by\n"
        " * scripts/vendor_assets.py. Copyright 2011-2019 Twitter, Inc. MIT licence. */\n"
    )
    _write(vendor / GLYPHICONS_CSS, header + css[start:end])


def point_timedimension_at_local_glyphicons(vendor: Path, packages: dict[str, Path]) -> None:
    """Replace the CDN font URLs in leaflet.timedimension.control.css with our copies."""
    path = vendor / TIMEDIMENSION_CSS
    css, count = re.subn(
        r"//netdna\.bootstrapcdn\.com/bootstrap/3\.0\.0/fonts/",
        "../../bootstrap@3.4.1/dist/fonts/",
        path.read_text("utf-8"),
    )
    if count != 5:
        raise SystemExit(f"expected 5 CDN font URLs in {path}, found {count}")
    path.write_text(css, "utf-8")


def write_rotate_css(vendor: Path, packages: dict[str, Path]) -> None:
    """Re-create folium's leaflet.awesome.rotate.css (generated rules, not on npm).

    folium loads it from its GitHub main branch; the file is 360 rules of this form.
    """
    rules = (
        f".fa-rotate-{deg}{{-ms-transform:rotate({deg}deg);"
        f" -webkit-transform:rotate({deg}deg); transform:rotate({deg}deg);}}"
        for deg in range(1, 361)
    )
    header = f"/* Same rules as folium {FOLIUM_VERSION} templates/leaflet.awesome.rotate.css */"
    _write(vendor / ROTATE_CSS, "\n".join([header, *rules]) + "\n")


DERIVED: tuple[tuple[str, str, Callable[[Path, dict[str, Path]], None]], ...] = (
    (GLYPHICONS_CSS, "cut from bootstrap@3.4.1 dist/css/bootstrap.css", cut_glyphicons),
    (
        TIMEDIMENSION_CSS,
        "font URLs pointed at bootstrap@3.4.1/dist/fonts",
        point_timedimension_at_local_glyphicons,
    ),
    (ROTATE_CSS, f"generated: folium {FOLIUM_VERSION}'s rotate rules", write_rotate_css),
)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def npm_pack(package: Package, workdir: Path) -> tuple[Path, str]:
    """Download one package tarball, unpack it; return its root and npm's integrity hash."""
    spec = f"{package.name}@{package.version}"
    out = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    info = json.loads(out.stdout)[0]
    if info["version"] != package.version:
        raise SystemExit(f"npm returned {info['version']} for {spec}")
    target = workdir / package.folder.replace("/", "+")
    with tarfile.open(workdir / info["filename"]) as tar:
        tar.extractall(target, filter="data")
    return target / "package", info["integrity"]


def copy_files(package: Package, root: Path, vendor: Path) -> list[str]:
    copied = []
    for pattern in package.files:
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matches:
            raise SystemExit(f"{package.folder}: nothing matches {pattern!r}")
        for src in matches:
            rel = src.relative_to(root).as_posix()
            dest = vendor / package.folder / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            copied.append(rel)
    return copied


def versions_md(rows: list[tuple[Package, str, list[str]]]) -> str:
    lines = [
        "# Vendored web assets",
        "",
        "Written by `scripts/vendor_assets.py`; do not edit by hand. Each folder is",
        "`<npm package>@<version>/` with the package's own layout, so relative URLs inside",
        "the CSS (images, `../webfonts/`, `../fonts/`) keep working.",
        "",
        "| package | version | licence | npm integrity | files |",
        "|---|---|---|---|---|",
    ]
    for package, integrity, files in rows:
        lines.append(
            f"| {package.name} | {package.version} | {package.licence} | `{integrity}` "
            f"| {', '.join(f'`{f}`' for f in files)} |"
        )
    lines += ["", "## Derived files", ""]
    lines += [f"- `{path}`: {how}" for path, how, _ in DERIVED]
    lines += ["", "## Deviations from what folium asks for", ""]
    lines += [f"- **{p.folder}**: {p.note}" for p, _, _ in rows if p.note]
    return "\n".join(lines) + "\n"


def main() -> int:
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    rows = []
    roots: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="vendor-assets-") as tmp:
        for package in PACKAGES:
            root, integrity = npm_pack(package, Path(tmp))
            roots[package.folder] = root
            rows.append((package, integrity, copy_files(package, root, VENDOR)))
            print(f"{package.folder}: {len(rows[-1][2])} files")
        for _, _, make in DERIVED:
            make(VENDOR, roots)
    (VENDOR / "VERSIONS.md").write_text(versions_md(rows), "utf-8")
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"{VENDOR.relative_to(REPO)}: {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
