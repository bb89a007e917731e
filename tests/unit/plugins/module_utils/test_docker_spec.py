"""Service specs: validation, normalisation, Compose subset, reading back."""

from __future__ import annotations

import json

import pytest

from ansible_collections.hyperdock.platform.plugins.module_utils._docker_spec import (
    LABEL_HASH,
    LABEL_SPEC,
    LIVE_OPTIONS,
    RECREATE_OPTIONS,
    SpecError,
    labels_for,
    live_from_host_config,
    nano_cpus_of,
    normalize_service,
    parse_duration,
    port_bindings,
    services_from_compose,
    spec_from_inspect,
)

BASE = {"image": "hyperdock/busybox"}


def spec(**options):
    return normalize_service("web", dict(BASE, **options), cpu_count=2).spec


def test_defaults_and_canonical_spelling():
    s = spec(memory="512m", cpus=1.50, cpuset_cpus="1,0", command="sleep 'a b'", env={"B": 1, "A": True})
    assert s["image"] == "hyperdock/busybox:latest"
    assert s["memory"] == "512M"
    assert s["cpus"] == "1.5"
    assert s["cpuset_cpus"] == "0-1"
    assert s["command"] == ["sleep", "a b"]
    assert s["env"] == {"A": "true", "B": "1"}
    assert s["security_opt"] == ["no-new-privileges"]
    assert s["restart_policy"] is None  # unset limits mean "leave as is"


def test_same_meaning_same_spec_and_hash():
    a = normalize_service("web", dict(BASE, memory="1G", ports=["8080:80", "53:53/udp"], cap_add=["cap_net_admin"]))
    b = normalize_service("web", dict(BASE, image="hyperdock/busybox:latest", memory="1024M",
                                      ports=["53:53/udp", "8080:80/tcp"], cap_add=["NET_ADMIN"]))
    assert a.spec == b.spec
    assert a.config_hash == b.config_hash


def test_hash_ignores_live_options_only():
    base = normalize_service("web", dict(BASE, memory="1G"))
    assert normalize_service("web", dict(BASE, memory="2G", cpus="1")).config_hash == base.config_hash
    assert normalize_service("web", dict(BASE, memory="1G", env={"A": "1"})).config_hash != base.config_hash
    assert set(LIVE_OPTIONS).isdisjoint(RECREATE_OPTIONS)


@pytest.mark.parametrize("options, needle", [
    ({"memory": "12Q"}, "service web: memory: '12Q' is not valid"),
    ({"cpus": "-1"}, "service web: cpus: '-1' is not valid"),
    ({"cpus": "3"}, "at most the host's 2 CPUs"),
    ({"cpuset_cpus": "0-7"}, "cpuset_cpus: '0-7' is not valid; expected CPU numbers and ranges such as 0-2,4 within the host's CPUs 0-1"),
    ({"memory": "512M", "memory_swap": "256M"}, "memory_swap: '256M' is not valid; expected"),
    ({"memory_swap": "1G"}, "unless memory is set too"),
    ({"memory": "512M", "memory_reservation": "1G"}, "at most memory (512M)"),
    ({"cpus": "1", "cpu_quota": 50000}, "either cpus or cpu_period/cpu_quota"),
    ({"ports": ["8080:80", "8080:81"]}, "8080/tcp is taken twice"),
    ({"ports": ["99999:80"]}, "ports: '99999:80' is not valid"),
    ({"restart_policy": "sometimes"}, "restart_policy: 'sometimes'"),
    ({"volumes": ["data"]}, "volumes: 'data' is not valid"),
    ({"mounts": [{"source": "a", "target": "/x"}], "volumes": ["b:/x"]}, "each target mounted once"),
    ({"ulimits": {"nofile": "2048:1024"}}, "ulimits.nofile"),
    ({"labels": {"io.hyperdock.project": "x"}}, "labels: 'io.hyperdock.project'"),
    ({"healthcheck": {"test": "true", "interval": "soon"}}, "healthcheck.interval: 'soon'"),
    ({"pids_limit": "many"}, "pids_limit: 'many'"),
    ({"blkio_weight": 5}, "blkio_weight: 5 is not valid; expected a whole number at least 10 and at most 1000"),
    ({"bogus": 1}, "bogus is not a service option"),
])
def test_bad_input_names_service_option_value(options, needle):
    with pytest.raises(SpecError) as info:
        normalize_service("web", dict(BASE, **options), cpu_count=2)
    assert needle in str(info.value)


def test_image_required_unless_absent():
    with pytest.raises(SpecError, match="service db: image"):
        normalize_service("db", {})
    assert normalize_service("db", {"state": "absent"}).state == "absent"


def test_ports_and_bindings():
    s = spec(ports=["127.0.0.1:8443:443", 80, "9000:9000/udp"])
    assert s["ports"] == ["127.0.0.1:8443:443/tcp", "80/tcp", "9000:9000/udp"]
    exposed, bindings = port_bindings(s["ports"])
    assert (443, "tcp") in exposed
    assert bindings["443/tcp"] == [("127.0.0.1", "8443")]
    assert bindings["80/tcp"] == [("", "")]


def test_mounts_from_both_syntaxes():
    s = spec(volumes=["data:/data:ro"], mounts=[{"source": "/srv/www", "target": "/www/"}])
    assert s["mounts"] == [
        {"type": "volume", "source": "data", "target": "/data", "read_only": True},
        {"type": "bind", "source": "/srv/www", "target": "/www", "read_only": False},
    ]


def test_healthcheck_and_durations():
    s = spec(healthcheck={"test": "wget -q -O- localhost", "interval": "1m30s", "timeout": 5, "retries": 3})
    assert s["healthcheck"] == {"test": ["CMD-SHELL", "wget -q -O- localhost"], "interval": "90s", "timeout": "5s", "retries": 3}
    assert parse_duration("500ms", "x") == 500_000_000


def test_ulimits_and_devices():
    s = spec(ulimits={"nofile": "1024:2048", "nproc": 64, "core": {"soft": 0, "hard": 0}},
             device_read_bps=[{"path": "/dev/sda", "rate": "10m"}], device_write_iops=[{"path": "/dev/sda", "rate": "100"}])
    assert s["ulimits"] == {"core": "0:0", "nofile": "1024:2048", "nproc": "64:64"}
    assert s["device_read_bps"] == [{"path": "/dev/sda", "rate": "10M"}]
    assert s["device_write_iops"] == [{"path": "/dev/sda", "rate": 100}]


def test_no_new_privileges_can_be_turned_off():
    assert spec(no_new_privileges=False)["security_opt"] is None
    assert spec(security_opt=["no-new-privileges:true", "apparmor=unconfined"])["security_opt"] == [
        "apparmor=unconfined", "no-new-privileges"]


def test_nano_cpus_of():
    assert nano_cpus_of(spec(cpus="0.5")) == 500_000_000
    assert nano_cpus_of(spec(cpu_quota=50000, cpu_period=100000)) == 500_000_000
    assert nano_cpus_of(spec()) == 0


COMPOSE = """
services:
  db:
    image: hyperdock/busybox
    command: sleep 3600
    environment: [A=1]
    volumes: ["db:/data"]
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 256m, pids: 40}
        reservations: {memory: 64m}
  web:
    image: hyperdock/busybox
    ports: ["8080:80"]
    depends_on: {db: {condition: service_started}}
    restart: unless-stopped
    mem_limit: 128m
    networks: {front: {aliases: [www]}}
networks:
  front: {}
volumes:
  db:
"""


def test_compose_subset_maps_onto_service_options():
    services, networks, volumes = services_from_compose(COMPOSE)
    db = normalize_service("db", services["db"], project="p")
    assert (db.spec["cpus"], db.spec["memory"], db.spec["pids_limit"], db.spec["memory_reservation"]) == ("0.5", "256M", 40, "64M")
    assert db.container == "p-db"
    web = normalize_service("web", services["web"])
    assert web.depends_on == ["db"]
    assert web.spec["restart_policy"] == "unless-stopped"
    assert web.spec["networks"] == [{"name": "front", "aliases": ["www"]}]
    assert set(networks) == {"front"} and set(volumes) == {"db"}


@pytest.mark.parametrize("text, needle", [
    ("services: {a: {image: x, privileged: true}}", "services.a.privileged is outside the supported subset"),
    ("services: {a: {image: x, deploy: {replicas: 2}}}", "services.a.deploy.replicas"),
    ("services: {a: {image: x, deploy: {resources: {reservations: {cpus: 1}}}}}", "deploy.resources.reservations.cpus"),
    ("services: {a: {image: x, depends_on: {b: {condition: service_healthy}}}}", "service_healthy"),
    ("services: {a: {image: x, ports: [{target: 80}]}}", "services.a.ports"),
    ("services: {a: {image: x}}\nconfigs: {}", "configs is outside the supported subset"),
    ("services: [a]", "expected a mapping with a services mapping"),
])
def test_compose_outside_subset_is_an_error(text, needle):
    with pytest.raises(SpecError) as info:
        services_from_compose(text)
    assert needle in str(info.value)


def test_daemon_defaults_read_as_unset():
    live = live_from_host_config({"Memory": 0, "MemorySwap": 0, "NanoCpus": 0, "CpuShares": 0, "PidsLimit": None,
                                  "CpusetCpus": "", "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}})
    assert live["memory"] is None and live["cpus"] is None and live["cpuset_cpus"] is None
    assert live["pids_limit"] == -1 and live["restart_policy"] == "no"
    live = live_from_host_config({"Memory": 268435456, "MemorySwap": -1, "NanoCpus": 1500000000, "CpusetCpus": "1,0",
                                  "PidsLimit": 50, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    assert live == dict(live, memory="256M", memory_swap="unlimited", cpus="1.5", cpuset_cpus="0-1", pids_limit=50,
                        restart_policy="on-failure:3")


def test_round_trip_through_labels():
    service = normalize_service("web", dict(BASE, memory="256M", cpus="0.5", env={"A": "1"}, pids_limit=10,
                                            restart_policy="always"), project="p")
    labels = labels_for(service, "p")
    assert labels[LABEL_HASH] == service.config_hash
    attrs = {"Config": {"Labels": labels}, "HostConfig": {"Memory": 268435456, "MemorySwap": 536870912, "NanoCpus": 500000000,
                                                          "PidsLimit": 10, "RestartPolicy": {"Name": "always"}}}
    back = spec_from_inspect(attrs)
    for option in (*RECREATE_OPTIONS, "memory", "cpus", "pids_limit", "restart_policy"):
        assert back[option] == service.spec[option], option
    assert json.loads(labels[LABEL_SPEC])["env"] == {"A": "1"}
