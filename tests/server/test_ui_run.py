"""The web UI's run page in Chromium: config, summary, and a chart per numeric metric
drawn in the browser by the page's own script (no CDN)."""

from __future__ import annotations

import math

import pytest


def build_store(home) -> dict:  # noqa: ANN001
    import cairn as wandb

    run = wandb.init(
        project="charts", name="trainer", config={"lr": 0.01, "arch": "mlp"}, tags=["baseline"], notes="first try"
    )
    for step in range(3_000):
        values = {"loss": 1.0 / (step + 1), "acc": step / 3_000, "phase": "train"}
        if step % 100 == 0:
            values["val/loss"] = 2.0 / (step + 1)
            values["eval"] = {"top1": step / 3_000}  # nested: summary["eval"]["top1"], charted as eval.top1
        if step == 10:
            values["acc"] = float("nan")  # a gap in the line, not a broken chart
        wandb.log(values)
    wandb.log({"<img src=x onerror=alert(1)>": 1.0})
    run.summary["best_acc"] = 0.99
    run.finish()
    empty = wandb.init(project="charts", name="idle")
    empty.finish()
    return {"run": run.id, "empty": empty.id}


@pytest.fixture
def run_page(ui_server, page):  # noqa: ANN001, ANN201
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(ui_server.url + f"/runs/{ui_server.info['run']}")
    page.wait_for_selector(".charts[data-drawn='true']")
    page.dialogs = dialogs
    return page


def test_run_page_shows_config_summary_and_a_chart_per_metric(run_page) -> None:  # noqa: ANN001
    page = run_page
    assert "Run trainer" in page.locator("h1").inner_text()
    assert '"arch": "mlp"' in page.locator("pre.json").inner_text()
    summary = {
        r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
        for r in page.locator("table.summary tbody tr").all()
    }
    assert summary["best_acc"] == "0.99" and summary["phase"] == "train" and summary["loss"] == f"{1 / 3000:.6g}"
    assert summary["eval.top1"] == f"{2900 / 3000:.6g}"
    metrics = [f.get_attribute("data-metric") for f in page.locator("figure.chart").all()]
    # best_acc was only assigned to the summary, never logged: no history, no chart
    assert metrics == sorted(["<img src=x onerror=alert(1)>", "acc", "eval.top1", "loss", "val/loss"])
    assert page.locator("#charts .count").inner_text() == "5"
    # drawn in the browser as SVG, sampled: at most 500 points, first and last step kept
    loss = page.locator("figure.chart[data-metric='loss']")
    points = int(loss.get_attribute("data-points"))
    assert 2 <= points <= 500
    d = loss.locator("path.series").get_attribute("d")
    assert d.startswith("M") and d.count("L") == points - 1
    assert page.locator("figure.chart[data-metric='val/loss']").get_attribute("data-points") == "30"
    # the NaN is a gap: the acc line is lifted once
    acc_d = page.locator("figure.chart[data-metric='acc'] path.series").get_attribute("d")
    assert acc_d.count("M") in (1, 2)
    assert page.locator("figure.chart[data-metric='acc'] text.tick").count() >= 4
    assert "baseline" in page.locator("dl.facts").inner_text() and "first try" in page.locator("dl.facts").inner_text()
    assert "3,001" in page.locator("dl.facts").inner_text()
    assert page.js_errors == []


def test_hovering_a_chart_shows_the_nearest_step(run_page) -> None:  # noqa: ANN001
    page = run_page
    svg = page.locator("figure.chart[data-metric='loss'] svg")
    box = svg.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 14, box["y"] + box["height"] / 2)
    tip = page.locator("figure.chart[data-metric='loss'] text.hover-text")
    assert tip.get_attribute("visibility") == "visible"
    text = tip.text_content()
    assert text.startswith("step 2999: ") or text.startswith("step 29")
    step = int(text.split(":")[0].split()[1])
    assert math.isclose(float(text.split(": ")[1]), 1 / (step + 1), rel_tol=0.01)


def test_hostile_metric_names_are_text_and_no_script_runs(run_page) -> None:  # noqa: ANN001
    page = run_page
    caption = page.locator("figure.chart[data-metric='<img src=x onerror=alert(1)>'] figcaption")
    assert caption.text_content() == "<img src=x onerror=alert(1)>"
    assert page.locator("#charts img").count() == 0 and page.dialogs == []


def test_charts_come_from_the_package_not_a_cdn(ui_server, page) -> None:  # noqa: ANN001
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(ui_server.url + f"/runs/{ui_server.info['run']}")
    page.wait_for_selector(".charts[data-drawn='true']")
    assert requests and all(u.startswith(ui_server.url) for u in requests)
    assert any("/-/static/charts.js" in u for u in requests)


def test_a_run_without_metrics_says_so(ui_server, page) -> None:  # noqa: ANN001
    page.goto(ui_server.url + f"/runs/{ui_server.info['empty']}")
    assert "This run logged no numbers." in page.locator("#charts").inner_text()
    assert "Nothing logged yet." in page.locator("#summary").inner_text()
    assert page.js_errors == []
