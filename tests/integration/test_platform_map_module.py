"""platform_map as a real Ansible task, and its page in a real headless Chromium.

The input is a realistic synthetic platform (tests/helpers/platform_sample.py): two hypervisors, three guests,
five containers, one of them unhealthy and one stopped.  No daemon is needed; Graphviz's dot and Chromium are.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from helpers import platform_sample as sample
from helpers.browser import decode_png, external_references

ROOT = Path(__file__).resolve().parents[2]
# Screenshots stay here after the run for people to look at (tests/output is git-ignored).
ARTEFACTS = ROOT / "tests" / "output" / "platform_map"
MODULE = "hyperdock.platform.platform_map"
NAMES = {
    "hypervisors": ["lab-hv", "lab-hv2"],
    "guests": ["lab-app", "lab-batch", "lab-edge"],
    "containers": ["cron", "db", "proxy", "web", "worker"],
}


def args(dest: Path, **extra: object) -> dict:
    return dict({"dest": str(dest), "hypervisors": sample.hypervisors(), "docker_hosts": sample.docker_hosts()}, **extra)


def test_map_is_written_once_then_unchanged_and_check_mode_predicts_it(run_task, tmp_path):
    dest = tmp_path / "site" / "map"
    predicted = run_task(MODULE, args(dest), check=True, diff=True)
    assert predicted["changed"] and not dest.exists()
    assert predicted["files"] == {fmt: str(dest / name) for fmt, name in
                                  (("json", "map.json"), ("svg", "map.svg"), ("html", "map.html"), ("text", "map.txt"))}

    written = run_task(MODULE, args(dest), diff=True)
    assert written["changed"]
    assert (written["tree"], written["map"], written["diff"]) == (predicted["tree"], predicted["map"], predicted["diff"])
    assert written["diff"]["before"] == "" and written["diff"]["after"] == (dest / "map.txt").read_text()
    assert written["diff"]["after_header"] == str(dest / "map.txt")
    for path in written["files"].values():
        assert Path(path).stat().st_mode & 0o777 == 0o644, path
    assert json.loads((dest / "map.json").read_text()) == written["map"]
    assert (dest / "map.txt").read_text() == written["tree"]
    assert written["tree"].splitlines()[2] == "lab-hv  qemu:///system  tcg  guests 3/4 vCPUs, 2.5G/22.5G memory"
    assert written["map"]["summary"]["containers"] == 5 and written["map"]["summary"]["unhealthy"] == 1
    svg = (dest / "map.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg and "lab-edge" in html.unescape(svg)  # dot writes - as &#45;
    page = (dest / "map.html").read_text()
    assert '<section class="graph" id="graph"><h2>Graph</h2><div class="svg"><svg' in page  # the SVG inline

    contents = {path: Path(path).read_bytes() for path in written["files"].values()}
    again = run_task(MODULE, args(dest), diff=True)
    assert not again["changed"] and again["diff"]["before"] == again["diff"]["after"]
    assert not run_task(MODULE, args(dest), check=True)["changed"]
    assert {path: Path(path).read_bytes() for path in written["files"].values()} == contents

    # New usage: check mode predicts the change and its diff, writes nothing; the real run agrees.
    hosts = sample.docker_hosts()
    hosts[0]["services"][0]["usage"]["memory_used_bytes"] = 200 * 2 ** 20
    changed = args(dest, docker_hosts=hosts)
    predicted = run_task(MODULE, changed, check=True, diff=True)
    assert predicted["changed"] and {path: Path(path).read_bytes() for path in written["files"].values()} == contents
    assert "mem 96M/512M" in predicted["diff"]["before"] and "mem 200M/512M" in predicted["diff"]["after"]
    applied = run_task(MODULE, changed, diff=True)
    assert applied["changed"] and applied["diff"] == predicted["diff"]
    assert "mem 200M/512M" in (dest / "map.txt").read_text()


def test_a_file_with_the_wrong_mode_is_a_change(run_task, tmp_path):
    run_task(MODULE, args(tmp_path / "map", formats=["text"]))
    text = tmp_path / "map" / "map.txt"
    text.chmod(0o600)
    assert run_task(MODULE, args(tmp_path / "map", formats=["text"]), check=True)["changed"]
    assert text.stat().st_mode & 0o777 == 0o600
    assert run_task(MODULE, args(tmp_path / "map", formats=["text"]))["changed"]
    assert text.stat().st_mode & 0o777 == 0o644


def test_only_the_formats_asked_for_and_the_diff_of_the_first(run_task, tmp_path):
    result = run_task(MODULE, args(tmp_path / "map", formats=["json"], title="lab"), diff=True)
    assert sorted(p.name for p in (tmp_path / "map").iterdir()) == ["map.json"] and list(result["files"]) == ["json"]
    assert result["diff"]["after_header"].endswith("map.json") and json.loads(result["diff"]["after"])["title"] == "lab"
    assert result["tree"].startswith("lab: 2 hypervisors")


def test_bad_input_fails_naming_the_option_and_value(run_task, tmp_path):
    hosts = sample.docker_hosts()
    hosts[0]["hypervisor"] = "lab-hv9"
    failed = run_task(MODULE, args(tmp_path / "map", docker_hosts=hosts), expect_failure=True)
    assert failed["msg"].startswith("docker_hosts[lab-app].hypervisor: 'lab-hv9' is not valid; expected the name of one of "
                                    "hypervisors (lab-hv, lab-hv2)")
    assert "Traceback" not in json.dumps(failed) and not (tmp_path / "map").exists()
    failed = run_task(MODULE, args(tmp_path / "map", formats=["pdf"]), expect_failure=True)
    assert "formats" in failed["msg"] and "pdf" in failed["msg"]
    (tmp_path / "file").write_text("x")
    failed = run_task(MODULE, args(tmp_path / "file"), expect_failure=True)
    assert failed["msg"] == f"dest: '{tmp_path / 'file'}' is not valid; expected a directory (it is a file)"


def _svg_x(svg: str, name: str) -> float:
    """Where Graphviz drew the first label line that starts with ``name``."""
    match = re.search(r'<text[^>]* x="([-\d.]+)"[^>]*>' + re.escape(name) + r"[&<\s]", html.unescape(svg))
    assert match, f"{name} is not a label in the SVG"
    return float(match.group(1))


def test_the_page_in_a_real_headless_chromium(run_task, tmp_path, chromium):
    dest = tmp_path / "map"
    run_task(MODULE, args(dest))
    page = dest / "map.html"

    dom = chromium.dump_dom(page)
    text = re.sub(r"<[^>]+>", " ", dom)
    for layer, names in NAMES.items():
        for name in names:
            assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{layer[:-1]} {name} is not on the page"
    assert "Needs attention (4)" in text and "unhealthy" in text and "stopped" in text
    assert "<svg" in dom  # the Graphviz drawing, inline
    assert external_references(page.read_text()) == [] and external_references(dom) == []

    png = chromium.screenshot(page, tmp_path / "map.png", width=1400, height=1000)
    image = decode_png(png)
    assert (image.width, image.height) == (1400, 1000)
    colours = image.colours()
    assert len(colours) > 200, f"the screenshot looks blank: {len(colours)} distinct colours"
    # The header band is the page's dark navy, and the bars are drawn: the unhealthy badge's red is on screen.
    assert image.pixel(5, 5)[:3] == (31, 42, 60)
    assert any(c[0] > 180 and c[1] < 80 and c[2] < 80 for c in colours), "no red (over budget, unhealthy) on the page"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "map.png", ARTEFACTS / "map.png")
    shutil.copy(page, ARTEFACTS / "map.html")

    # The drawing reads left to right in map order, as the tree and the page do.
    svg = (dest / "map.svg").read_text()
    assert _svg_x(svg, "lab-app") < _svg_x(svg, "lab-edge") < _svg_x(svg, "lab-batch") < _svg_x(svg, "lab-metal")
