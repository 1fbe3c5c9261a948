"""python -m verify.htmlcheck REPORT.html [--width 1400] [--screenshot PNG]: check a report
as a person sees it.

1. Every <img src> is a file next to the report (relative path) that starts with the PNG
   signature (no broken image links).
2. With Chromium (`chromium`, `chromium-browser` or `google-chrome` on PATH, or $CHROMIUM),
   headless at `width` px: a copy of the page with a small script is loaded, and the DOM dump
   says whether every image decoded (naturalWidth > 0), the page's scroll width, and the right
   edge of the summary table and of the first verdict badge, which must be within `width`
   (verdicts visible without horizontal scroll). `--screenshot` also writes a PNG of the page.

Exit 0 when every check passes, 1 when one fails (each failure printed), 2 for a bad command
line or a missing report. Without Chromium only check 1 runs (said so; exit by check 1).
"""
from __future__ import annotations

import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"
_MARK = "htmlcheck-result"
_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var out = {
    viewport: window.innerWidth,
    scroll_width: document.documentElement.scrollWidth,
    images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
               .map(function (i) { return i.getAttribute('src'); }),
    summary_right: (function () { var t = document.querySelector('table.summary');
                                   return t ? t.getBoundingClientRect().right : null; })(),
    badge_right: (function () { var b = document.querySelector('table.summary .badge');
                                 return b ? b.getBoundingClientRect().right : null; })()
  };
  var pre = document.createElement('pre');
  pre.id = '%s';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>""" % _MARK


class _Imgs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src") or "")


def image_sources(page: str) -> list[str]:
    p = _Imgs()
    p.feed(page)
    return p.srcs


def missing_images(report: Path) -> list[str]:
    """'src: why' for every <img> whose file is absent or not a PNG."""
    bad = []
    for src in image_sources(report.read_text()):
        if not src or re.match(r"^[a-z]+:", src) or src.startswith("/"):
            bad.append(f"{src!r}: not a relative path")
            continue
        f = report.parent / src
        if not f.is_file():
            bad.append(f"{src}: no such file")
        elif f.read_bytes()[:8] != PNG:
            bad.append(f"{src}: not a PNG")
    return bad


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _chromium(exe: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--disable-dev-shm-usage", "--no-first-run", "--allow-file-access-from-files"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout, check=False)


def browser_check(report: Path, width: int = 1400, height: int = 2400, screenshot: Path | None = None,
                  exe: str | None = None, timeout: float = 120.0) -> dict:
    """Load the report in headless Chromium at `width` px; the measurements of _SCRIPT."""
    exe = exe or find_chromium()
    if exe is None:
        raise ValueError("browser_check: no Chromium found (install chromium or set $CHROMIUM)")
    page = report.read_text().replace(" loading='lazy'", "")  # every image, not only visible ones
    probe = report.parent / f".{report.stem}.htmlcheck.html"
    probe.write_text(page.replace("</body>", _SCRIPT + "</body>", 1))
    try:
        r = _chromium(exe, [f"--window-size={width},{height}", "--virtual-time-budget=10000",
                            "--dump-dom", probe.resolve().as_uri()], timeout)
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(rf'<pre id="{_MARK}">(.*?)</pre>', r.stdout, re.S)
    if not m:
        raise RuntimeError(f"browser_check: Chromium returned no measurements (rc {r.returncode}): "
                           f"{r.stderr.strip()[-500:]}")
    import html as _html
    res = json.loads(_html.unescape(m.group(1)))
    if screenshot is not None:
        screenshot = Path(screenshot).resolve()
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        r = _chromium(exe, [f"--window-size={width},{height}", "--virtual-time-budget=10000",
                            f"--screenshot={screenshot}", report.resolve().as_uri()], timeout)
        if not screenshot.is_file():
            raise RuntimeError(f"browser_check: no screenshot written (rc {r.returncode}): "
                               f"{r.stderr.strip()[-500:]}")
        res["screenshot"] = str(screenshot)
    return res


def problems(res: dict, width: int) -> list[str]:
    out = []
    if res["broken"]:
        out.append(f"{len(res['broken'])} image(s) did not load: {', '.join(res['broken'][:5])}")
    if res["scroll_width"] > width:
        out.append(f"page is {res['scroll_width']} px wide (> {width}): horizontal scroll")
    for key in ("summary_right", "badge_right"):
        if res.get(key) is None:
            out.append(f"{key}: no summary table / verdict badge found")
        elif res[key] > width:
            out.append(f"{key} = {res[key]:.0f} px (> {width}): not visible without scrolling")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m verify.htmlcheck", description=__doc__.split("\n\n")[0])
    p.add_argument("report", type=Path)
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=2400)
    p.add_argument("--screenshot", type=Path)
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not args.report.is_file():
        print(f"error: report {args.report} does not exist", file=sys.stderr)
        return 2
    if args.width < 200:
        print(f"error: --width must be >= 200, got {args.width}", file=sys.stderr)
        return 2
    fails = missing_images(args.report)
    n = len(image_sources(args.report.read_text()))
    print(f"images: {n} <img>, {n - len(fails)} files present")
    if find_chromium() is None:
        print("chromium: not found; only the image files were checked")
    else:
        res = browser_check(args.report, args.width, args.height, args.screenshot)
        print(f"chromium at {args.width} px: {res['images']} images, {len(res['broken'])} broken; "
              f"page width {res['scroll_width']} px; summary table right edge "
              f"{res['summary_right']} px; first verdict badge right edge {res['badge_right']} px"
              + (f"; screenshot {res['screenshot']}" if "screenshot" in res else ""))
        fails += problems(res, args.width)
    for f in fails:
        print(f"FAIL: {f}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
