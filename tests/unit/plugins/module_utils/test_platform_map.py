"""The platform map's pure part: normalisation, gauges, the text tree, DOT and the HTML page."""

from __future__ import annotations

import copy
import json
import re

import pytest
from helpers import platform_sample as sample
from helpers.browser import external_references

from ansible_collections.hyperdock.platform.plugins.module_utils import _platform_map as pm
from ansible_collections.hyperdock.platform.plugins.module_utils._units import LimitError

GIB = 1024 ** 3
MIB = 1024 ** 2


def sample_map() -> dict:
    return pm.build_map(sample.hypervisors(), sample.docker_hosts())


def by_name(items: list[dict], name: str) -> dict:
    return next(item for item in items if item["name"] == name)


def one_host(services: list[dict], **host: object) -> list[dict]:
    return [dict({"name": "h1", "hypervisor": None, "guest": None, "services": services}, **host)]


# ---------------------------------------------------------------- numbers


def test_gauges_report_used_limit_free_and_percent_in_the_vocabulary():
    assert pm.gauge(640 * MIB, 1536 * MIB, "bytes") == {
        "used": "640M", "used_bytes": 640 * MIB, "limit": "1536M", "limit_bytes": 1536 * MIB,
        "free": "896M", "free_bytes": 896 * MIB, "percent": 41.7}
    assert pm.gauge(1_250_000_000, 2_000_000_000, "cpus") == {"used": "1.25", "limit": "2", "free": "0.75", "percent": 62.5}
    assert pm.gauge(3, 4, "count") == {"used": 3, "limit": 4, "free": 1, "percent": 75.0}


def test_a_gauge_without_limit_has_no_free_and_no_percent_and_over_budget_is_negative():
    assert pm.gauge(3 * MIB, None, "bytes")["percent"] is None
    assert pm.gauge(3 * MIB, None, "bytes")["free"] is None
    assert pm.gauge(0, None, "cpus") == {"used": "0", "limit": None, "free": None, "percent": None}
    over = pm.gauge(3 * GIB, 2 * GIB, "bytes")
    assert (over["free"], over["free_bytes"], over["percent"]) == ("-1G", -GIB, 150.0)
    assert pm.gauge(2_500_000_000, 2_000_000_000, "cpus")["free"] == "-0.5"


@pytest.mark.parametrize(("number", "text"), [
    (None, "-"), (0, "0"), (512, "512B"), (1024, "1K"), (640 * MIB, "640M"), (1536 * MIB, "1.5G"), (2560 * MIB, "2.5G"),
    (int(22.5 * GIB), "22.5G"), (1280 * MIB, "1.25G"), (1000 * MIB, "1000M"), (5236 * 1024, "5.1M"), (-GIB, "-1G"),
    (300 * GIB + 1, "300G"),
])
def test_short_size_is_exact_to_two_decimals_then_rounded(number, text):
    assert pm.short_size(number) == text


# ---------------------------------------------------------------- normalisation


def test_summary_counts_every_layer():
    assert sample_map()["summary"] == {"hypervisors": 2, "guests": 3, "docker_hosts": 4, "containers": 5, "running": 4,
                                       "stopped": 1, "unhealthy": 1, "errors": 1, "warnings": 3}


def test_hypervisor_budget_counts_the_guests_ceilings():
    data = sample_map()
    hv = by_name(data["hypervisors"], "lab-hv")
    assert hv["budget"]["vcpus"] == {"used": 3, "limit": 4, "free": 1, "percent": 75.0}
    memory = hv["budget"]["memory"]
    assert (memory["used"], memory["limit"], memory["free_bytes"], memory["percent"]) == ("2560M", "23040M", 20 * GIB, 11.1)
    assert hv["guests"] == ["lab-app", "lab-edge"] and hv["accelerator"] == "tcg"
    # A guest that may grow (max_vcpus, max_memory) takes its ceiling, as guest_budget counts it.
    hvs = sample.hypervisors()
    hvs[0]["guests"][1].update(max_vcpus=3, max_memory="2G")
    hv = by_name(pm.build_map(hvs, [])["hypervisors"], "lab-hv")
    assert hv["budget"]["vcpus"]["used"] == 5 and hv["budget"]["memory"]["used"] == "3584M"


def test_hypervisor_without_budget_lets_guests_take_the_host():
    hvs = sample.hypervisors()
    del hvs[1]["capacity"]["budget"]
    hv = by_name(pm.build_map(hvs, [])["hypervisors"], "lab-hv2")
    assert hv["budget"]["vcpus"]["limit"] == 8 and hv["budget"]["memory"]["limit_bytes"] == 32 * GIB
    assert by_name(pm.build_map([{"name": "bare"}], [])["hypervisors"], "bare")["budget"]["memory"]["percent"] is None


def test_guest_usage_and_labels_are_optional():
    data = sample_map()
    app, edge = by_name(data["guests"], "lab-app"), by_name(data["guests"], "lab-edge")
    # In use inside the guest, against its memory; the host-side RSS is reported beside it.
    assert app["usage"]["memory"]["used"] == "900M" and app["usage"]["memory"]["percent"] == 58.6
    assert app["usage"]["rss"] == "1210M" and app["usage"]["rss_bytes"] == 1210 * MIB
    assert app["usage"]["cpu_time_seconds"] == 812.4 and app["labels"] == {"role": "app", "tier": "front & back"}
    assert edge["usage"] is None and edge["labels"] == {}
    assert app["addresses"] == ["192.168.122.20"] and app["docker_host"] == "lab-app"
    assert by_name(data["hypervisors"], "lab-hv")["usage"]["memory"]["used"] == "1210M"
    assert by_name(data["hypervisors"], "lab-hv2")["usage"] is None


def test_docker_host_budget_comes_from_budget_then_capacity_then_guest():
    data = sample_map()
    app = by_name(data["docker_hosts"], "lab-app")
    assert app["budget"]["memory"]["source"] == "budget" and app["budget"]["memory"]["limit"] == "1536M"
    assert app["budget"]["cpus"] == {"used": "1.25", "limit": "2", "free": "0.75", "percent": 62.5, "source": "budget"}
    assert app["budget"]["pids"] == {"used": 300, "limit": 1000, "free": 700, "percent": 30.0, "source": "budget"}
    assert app["engine"] == {"name": "lab-app", "server_version": "20.10.24+dfsg1", "containers_running": 2}
    edge = by_name(data["docker_hosts"], "lab-edge")
    assert edge["budget"]["memory"]["source"] == "capacity" and edge["budget"]["memory"]["limit"] == "1000M"
    assert edge["budget"]["pids"]["limit"] is None and edge["budget"]["pids"]["source"] is None
    batch = by_name(data["docker_hosts"], "lab-batch")
    assert (batch["budget"]["cpus"]["source"], batch["budget"]["cpus"]["limit"]) == ("guest", "2")
    assert (batch["budget"]["memory"]["source"], batch["budget"]["memory"]["limit"]) == ("guest", "2G")


def test_stopped_containers_count_against_the_budget_and_unlimited_ones_are_listed():
    data = sample_map()
    batch = by_name(data["docker_hosts"], "lab-batch")
    assert batch["budget"]["memory"]["used"] == "1G" and batch["budget"]["cpus"]["used"] == "1.5"
    worker = by_name(data["containers"], "worker")
    assert worker["state"] == "stopped" and worker["usage"] is None and worker["limits"]["memory"] == "1G"
    metal = by_name(data["docker_hosts"], "lab-metal")
    assert metal["unlimited"] == {"memory": ["cron"], "cpus": ["cron"], "pids": ["cron"]}
    assert metal["budget"]["memory"]["used"] == "0" and metal["budget"]["memory"]["percent"] == 0.0


def test_container_usage_against_its_limits():
    db = by_name(sample_map()["containers"], "db")
    assert (db["docker_host"], db["guest"], db["hypervisor"]) == ("lab-app", "lab-app", "lab-hv")
    assert db["limits"] == {"memory": "512M", "memory_bytes": 512 * MIB, "cpus": "1", "pids": 200}
    assert db["usage"]["memory"]["used"] == "96M" and db["usage"]["memory"]["percent"] == 18.8
    assert db["usage"]["cpus"] == {"used": "0.025", "limit": "1", "free": "0.975", "percent": 2.5}
    assert db["usage"]["pids"] == {"used": 9, "limit": 200, "free": 191, "percent": 4.5}


def test_cpu_quota_and_period_count_as_cpus():
    service = {"name": "q", "state": "started", "config": {"image": "x", "cpu_quota": 50000, "cpu_period": 100000}}
    data = pm.build_map([], one_host([service]))
    assert data["containers"][0]["limits"]["cpus"] == "0.5" and data["docker_hosts"][0]["budget"]["cpus"]["used"] == "0.5"


def test_warnings_put_errors_first_and_name_layer_and_item():
    warnings = sample_map()["warnings"]
    assert [w["message"] for w in warnings] == [
        "container proxy on lab-edge is unhealthy",
        "Docker host lab-metal: no memory limit on cron",
        "container worker on lab-batch is stopped (exited)",
        "container proxy on lab-edge uses 93.8% of its memory limit 64M",
    ]
    assert warnings[0] == {"level": "error", "layer": "container", "name": "proxy", "message": warnings[0]["message"]}


def test_over_budget_layers_are_errors():
    hvs, hosts = sample.hypervisors(), sample.docker_hosts()
    hvs[0]["capacity"]["budget"].update(cpus=2)
    hosts[0]["budget"]["memory"] = "512M"
    data = pm.build_map(hvs, hosts)
    errors = [w["message"] for w in data["warnings"] if w["level"] == "error"]
    assert "hypervisor lab-hv is over its guest budget: guest vCPUs: 3 used of 2 (150.0%)" in errors
    assert "Docker host lab-app is over its service budget: memory limits: 640M used of 512M (125.0%)" in errors


def test_input_is_not_changed():
    hvs, hosts = sample.hypervisors(), sample.docker_hosts()
    before = copy.deepcopy((hvs, hosts))
    pm.build_map(hvs, hosts)
    assert (hvs, hosts) == before


@pytest.mark.parametrize(("change", "message"), [
    (lambda hvs, hosts: hosts[0].update(hypervisor="lab-hv9"),
     "docker_hosts[lab-app].hypervisor: 'lab-hv9' is not valid; expected the name of one of hypervisors (lab-hv, lab-hv2), "
     "or null for a Docker host that is not a guest"),
    (lambda hvs, hosts: hosts[0].update(guest="lab-ghost"),
     "docker_hosts[lab-app].guest: 'lab-ghost' is not valid; expected one of the guests of hypervisor lab-hv (lab-app, lab-edge)"),
    (lambda hvs, hosts: hosts[3].update(guest="lab-app"),
     "docker_hosts[lab-metal].guest: 'lab-app' is not valid; expected null, or a hypervisor as well"),
    (lambda hvs, hosts: hosts[1].update(guest="lab-app"),
     "docker_hosts[lab-edge].guest: 'lab-app' is not valid; expected a guest no other Docker host runs on (docker_hosts[lab-app] does)"),
    (lambda hvs, hosts: hvs[1].update(name="lab-hv"), "hypervisors[].name: 'lab-hv' is not valid; expected names that appear once"),
    (lambda hvs, hosts: hosts[1].update(name="lab-app"), "docker_hosts[].name: 'lab-app' is not valid; expected names that appear once"),
    (lambda hvs, hosts: hosts[0]["budget"].update(memory="lots"), "docker_hosts[lab-app].budget.memory: 'lots' is not valid"),
    (lambda hvs, hosts: hosts[0]["budget"].update(cpus="-1"), "docker_hosts[lab-app].budget.cpus: '-1' is not valid"),
    (lambda hvs, hosts: hosts[0].update(capacity="big"), "docker_hosts[lab-app].capacity: 'big' is not valid; expected a dict"),
    (lambda hvs, hosts: hvs[0].update(guests={"lab-app": {}}), "hypervisors[lab-hv].guests: {'lab-app': {}} is not valid"),
    (lambda hvs, hosts: hvs[0]["guests"][0].update(memory="x", live={}), "hypervisors[lab-hv].guests[lab-app].memory: 'x' is not valid"),
    (lambda hvs, hosts: hvs[0]["guests"].append({"vcpus": 1}), "hypervisors[lab-hv].guests[2].name: None is not valid"),
    (lambda hvs, hosts: hosts[0]["services"].append({"state": "started"}), "docker_hosts[lab-app].services[2].name: None is not valid"),
    (lambda hvs, hosts: hosts[0]["services"][0]["usage"].update(cpu_percent="busy"),
     "docker_hosts[lab-app].services[db].usage.cpu_percent: 'busy' is not valid; expected a number"),
    (lambda hvs, hosts: hosts[0]["services"][1].update(container="shop-db"),
     "docker_hosts[lab-app].services[].container: 'shop-db' is not valid; expected names that appear once"),
])
def test_bad_input_names_the_option_and_the_value(change, message):
    hvs, hosts = sample.hypervisors(), sample.docker_hosts()
    change(hvs, hosts)
    with pytest.raises(LimitError) as caught:
        pm.build_map(hvs, hosts)
    assert str(caught.value).startswith(message)


def test_an_empty_hypervisor_or_guest_is_null():
    hosts = sample.docker_hosts()
    hosts[3].update(hypervisor="", guest="")
    hosts[2]["guest"] = ""
    data = pm.build_map(sample.hypervisors(), hosts)
    assert by_name(data["docker_hosts"], "lab-metal")["hypervisor"] is None
    assert by_name(data["hypervisors"], "lab-hv2")["docker_hosts"] == ["lab-batch"]


def test_docker_on_the_hypervisor_itself():
    hosts = [*sample.docker_hosts(), {"name": "hv-docker", "hypervisor": "lab-hv2", "guest": None, "services": []}]
    data = pm.build_map(sample.hypervisors(), hosts)
    assert by_name(data["hypervisors"], "lab-hv2")["docker_hosts"] == ["hv-docker"]
    assert "└── hv-docker  Docker on the hypervisor itself  services 0 cpus, 0 memory" in pm.render_text(data)


# ---------------------------------------------------------------- determinism


def shuffled() -> tuple[list[dict], list[dict]]:
    hvs, hosts = sample.hypervisors()[::-1], sample.docker_hosts()[::-1]
    for hv in hvs:
        hv["guests"].reverse()
        hv["capacity"] = dict(reversed(list(hv["capacity"].items())))
    for host in hosts:
        host["services"].reverse()
    return hvs, hosts


def test_same_data_in_any_order_gives_the_same_bytes():
    first, second = sample_map(), pm.build_map(*shuffled())
    assert pm.render_json(first) == pm.render_json(second)
    assert pm.render_text(first) == pm.render_text(second)
    assert pm.render_dot(first) == pm.render_dot(second)
    assert pm.render_html(first, "<svg></svg>") == pm.render_html(second, "<svg></svg>")
    assert json.loads(pm.render_json(first)) == first


def test_no_timestamp_in_any_output():
    data = sample_map()
    for text in (pm.render_json(data), pm.render_text(data), pm.render_dot(data), pm.render_html(data)):
        assert not re.search(r"\b20\d\d-\d\d-\d\d|\d\d:\d\d:\d\d", text.replace("2024-05-01T10:00:00", ""))


# ---------------------------------------------------------------- text


def test_tree_of_one_guest_reads_as_documented():
    capacity = {"cpus": 4, "memory": "24G", "accelerator": "tcg", "budget": {"cpus": 4, "memory": "22.5G"}}
    hvs = [{"name": "lab-hv", "uri": "qemu:///system", "capacity": capacity,
            "guests": [{"name": "lab-app", "state": "running", "vcpus": 2, "memory": "1536M"}]}]
    db = {"name": "db", "container": "shop-db", "state": "started", "health": "healthy",
          "config": {"image": "hyperdock/lab-db:1", "memory": "512M", "cpus": "1", "pids_limit": 200},
          "usage": {"memory_used_bytes": 96 * MIB, "cpu_percent": 2.5, "pids_used": 9}}
    hosts = [{"name": "lab-app", "hypervisor": "lab-hv", "guest": "lab-app", "services": [db]}]
    assert pm.render_text(pm.build_map(hvs, hosts)) == (
        "hyperdock platform: 1 hypervisor, 1 guest, 1 Docker host, 1 container (1 running)\n"
        "\n"
        "lab-hv  qemu:///system  tcg  guests 2/4 vCPUs, 1.5G/22.5G memory\n"
        "└── lab-app  running  2 vCPUs 1.5G  services 1/2 cpus, 512M/1.5G memory, 200 pids\n"
        "    └── db  healthy  hyperdock/lab-db:1  mem 96M/512M  cpus 0.025/1  pids 9/200\n"
    )


def test_tree_of_the_sample_aligns_siblings_and_lists_what_needs_attention():
    lines = pm.render_text(sample_map()).splitlines()
    assert lines[0] == "hyperdock platform: 2 hypervisors, 3 guests, 4 Docker hosts, 5 containers (4 running, 1 stopped, 1 unhealthy)"
    assert "lab-hv  qemu:///system  tcg  guests 3/4 vCPUs, 2.5G/22.5G memory" in lines
    assert "├── lab-app   running  2 vCPUs 1.5G (900M in use, rss 1.2G)  services 1.25/2 cpus, 640M/1.5G memory, 300/1000 pids" in lines
    assert "│   ├── db   healthy  hyperdock/lab-db:1   mem 96M/512M    cpus 0.025/1     pids 9/200" in lines
    assert "│   └── web  healthy  hyperdock/lab-web:1  mem 41.3M/128M  cpus 0.008/0.25  pids 4/100" in lines
    assert "    └── worker  stopped  hyperdock/lab-worker:1  mem -/1G  cpus -/1.5  pids -/500" in lines
    assert "Docker hosts on no hypervisor" in lines
    assert "    └── cron  running  hyperdock/busybox:latest  mem 3M/unlimited  cpus 0.001/unlimited  pids 2/unlimited" in lines
    assert lines[-4:] == ["  error    container proxy on lab-edge is unhealthy", "  warning  Docker host lab-metal: no memory limit on cron",
                          "  warning  container worker on lab-batch is stopped (exited)",
                          "  warning  container proxy on lab-edge uses 93.8% of its memory limit 64M"]


def test_a_guest_without_docker_host_and_an_empty_map():
    hvs = sample.hypervisors()
    hvs[1]["guests"].append({"name": "lab-spare", "state": "shutoff", "vcpus": 1, "memory": "512M"})
    text = pm.render_text(pm.build_map(hvs, sample.docker_hosts()))
    assert "└── lab-spare  shutoff  1 vCPU 512M  no Docker host" in text
    assert pm.render_text(pm.build_map([], [])) == "hyperdock platform: 0 hypervisors, 0 guests, 0 Docker hosts, 0 containers (0 running)\n"


# ---------------------------------------------------------------- DOT


def test_dot_has_a_cluster_per_hypervisor_and_guest_and_containers_with_their_limits():
    dot = pm.render_dot(sample_map())
    assert dot.startswith("digraph platform {\n") and dot.endswith("}\n")
    assert dot.count("subgraph cluster_h0 {") == 1 and dot.count("subgraph cluster_h1 {") == 1
    for cluster in ("cluster_h0_g0", "cluster_h0_g1", "cluster_h1_g0", "cluster_x0"):
        assert f"subgraph {cluster} {{" in dot
    assert 'label="lab-app  running  2 vCPUs 1.5G (900M in use, rss 1.2G)\\nservices 1.25/2 cpus, 640M/1.5G memory, 300/1000 pids"' in dot
    assert 'h0_g0_c0 [label="db\\nhealthy  hyperdock/lab-db:1\\nmem 96M/512M\\ncpus 0.025/1  pids 9/200", fillcolor="#e6f4ea"' in dot
    assert 'h0_g1_c0 [label="proxy\\nunhealthy' in dot and 'fillcolor="#fde8e8", color="#c53030"' in dot
    # Guests keep map order left to right: an anchor's edges leave in that order.
    assert "h0_top -> h0_g0_c0 [weight=0];\n  h0_top -> h0_g1_c0 [weight=0];" in dot


def test_dot_escapes_quotes_backslashes_and_newlines():
    service = {"name": 'we"b\\N', "state": "started", "config": {"image": "evil\"]; x [label=\"pwn", "memory": "64M"}}
    dot = pm.render_dot(pm.build_map([], one_host([service], name="a\nb")))
    assert 'label="we\\"b\\\\N\\n' in dot
    assert 'evil\\"]; x [label=\\"pwn' in dot
    assert "a b  not a guest" in dot
    for line in dot.splitlines():  # every quote in a label is escaped: the quotes that remain pair up
        assert len(re.findall(r'(?<!\\)"', line)) % 2 == 0, line


# ---------------------------------------------------------------- HTML


EVIL = '<script>alert("x")</script>'


def test_html_escapes_every_value_from_the_input():
    hvs = sample.hypervisors()
    hvs[0]["guests"][0]["labels"] = {"x": EVIL}
    hosts = sample.docker_hosts()
    hosts[0]["services"][0]["config"]["image"] = EVIL
    hosts[0]["services"][1]["name"] = '"><img src=x onerror=alert(1)>'
    page = pm.render_html(pm.build_map(hvs, hosts, title=EVIL))
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_is_self_contained_and_shows_every_layer():
    data = sample_map()
    page = pm.render_html(data)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert external_references(page) == [] and "http" not in page and "<script" not in page
    assert "<link" not in page and "@import" not in page
    for name in ["lab-hv", "lab-hv2", "lab-app", "lab-edge", "lab-batch", "lab-metal", "db", "web", "proxy", "worker", "cron"]:
        assert f">{name}<" in page, name
    assert '<span class="badge b-unhealthy">unhealthy</span>' in page and '<span class="badge b-stopped">stopped</span>' in page
    assert "Needs attention (4)" in page and 'id="graph"' not in page
    # Bars: the hypervisor's vCPU budget 75% (amber), the proxy's memory 93.8% (high), cron without limit (striped).
    assert '<span class="lvl-warn" style="width:75.0%"></span>' in page
    assert '<span class="lvl-high" style="width:93.8%"></span>' in page
    assert '<span class="lvl-none"></span>' in page


def test_html_over_budget_bar_is_full_and_says_over():
    hosts = sample.docker_hosts()
    hosts[0]["budget"]["memory"] = "512M"
    page = pm.render_html(pm.build_map(sample.hypervisors(), hosts))
    assert '<span class="lvl-over" style="width:100.0%"></span>' in page and "125.0% over" in page


def test_html_embeds_the_svg_without_prolog_or_doctype():
    svg = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"\n'
           ' "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<!-- Generated by graphviz -->\n<svg width="8pt"><g/></svg>\n')
    page = pm.render_html(sample_map(), svg)
    assert '<div class="svg"><svg width="8pt"><g/></svg>' in page
    assert "<?xml" not in page and "DOCTYPE svg" not in page and external_references(page) == []


@pytest.mark.parametrize(("pct", "level"), [(None, "none"), (0.0, "ok"), (74.9, "ok"), (75.0, "warn"), (90.0, "high"),
                                            (100.0, "high"), (100.1, "over")])
def test_bar_levels(pct, level):
    assert pm.level(pct) == level


# ---------------------------------------------------------------- the runner's edges


class FakeModule:
    def __init__(self, dot: str | None) -> None:
        self.dot = dot

    def get_bin_path(self, name: str) -> str | None:
        return self.dot

    def fail_json(self, **result: object) -> None:
        raise AssertionError(result["msg"])


def test_svg_without_graphviz_fails_naming_formats_and_the_fix():
    with pytest.raises(AssertionError) as caught:
        pm._svg(FakeModule(None), "digraph {}")
    message = str(caught.value)
    assert message.startswith("formats: 'svg' needs Graphviz's dot") and "install graphviz" in message
    assert "leave svg out of formats" in message
