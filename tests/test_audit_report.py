"""The HTML report renders in headless Chromium with its headline numbers and plots.

Needs the Debian ``chromium`` package: the test fails with a clear message when CI=true
and it is missing, and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from debias.cli import main

pytest.importorskip("matplotlib")

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars"]
# After load, record whether every embedded image decoded (the report itself has no script).
PROBE = ("<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
         "document.body.setAttribute('data-images',imgs.length);"
         "document.body.setAttribute('data-decoded',imgs.filter(i=>i.complete&&i.naturalWidth>0).length);"
         "});</script>")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("headless Chromium is required for the report test: apt-get install -y chromium")
    pytest.skip("chromium not installed (apt-get install -y chromium)")


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)


def make_items(path: Path) -> Path:
    rows = []
    for i in range(60):
        label = i % 2
        cands = ["brief", "a much longer and more elaborate answer " * (1 + i % 4)]
        first = [0, 1][i % 3 == 0]
        rows.append({"id": f"r{i}", "task": "pairwise", "instruction": "Which is better?", "candidates": cands,
                     "label": label, "metadata": {"human_label": label if i % 7 else "tie"},
                     "verdicts": [{"judge": "judge-A", "order": [0, 1], "choice": first},
                                  {"judge": "judge-A", "order": [1, 0], "choice": 1 if i % 4 else 0},
                                  {"judge": "judge-B", "order": [0, 1], "choice": label},
                                  {"judge": "judge-B", "order": [1, 0], "choice": label if i % 5 else 1 - label}]})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_report_renders_headline_numbers_and_images(tmp_path: Path) -> None:
    src = make_items(tmp_path / "items.jsonl")
    report, metrics = tmp_path / "report.html", tmp_path / "m.json"
    assert main(["audit", str(src), "--report", str(report), "--json", str(metrics), "--quiet",
                 "--bootstrap", "200"]) == 0
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # self-contained
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = run_chromium(["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    data = json.loads(metrics.read_text())
    # headline numbers as rendered by the browser match the JSON
    for scope in ("overall", "judge-A", "judge-B"):
        for name in ("position_consistency", "accuracy", "cohen_kappa"):
            value = data["metrics"][scope][name]["value"]
            cell = re.search(rf'data-metric="{name}" data-scope="{scope}" data-value="([0-9.]+)"><b>([0-9.]+)</b>', dom)
            assert cell, (scope, name)
            assert float(cell.group(1)) == pytest.approx(value, abs=1e-6)
            assert cell.group(2) == f"{value:.3f}"
    assert 'data-card="items">60<' in dom
    images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    decoded = int(re.search(r'data-decoded="(\d+)"', dom).group(1))
    assert images >= 4 and decoded == images
    for plot in ("position", "verbosity", "agreement", "rbd"):
        assert f'data-plot="{plot}"' in dom


def test_report_screenshot_is_produced(tmp_path: Path) -> None:
    src = make_items(tmp_path / "items.jsonl")
    report = tmp_path / "report.html"
    assert main(["audit", str(src), "--report", str(report), "--quiet", "--bootstrap", "50"]) == 0
    shot = tmp_path / "shot.png"
    done = run_chromium(["--window-size=1280,2400", f"--screenshot={shot}", report.as_uri()], tmp_path / "p2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
