#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_service_info
short_description: Services' configuration, state, health and live usage against their limits
version_added: 0.1.0
description:
  - For each service (container), its configuration in the vocabulary of M(hyperdock.platform.docker_service), its
    state, health and uptime, and its live usage against its limits (memory, CPU %, pids).
  - Usage comes from one stats sample per container, taken in parallel.
  - RV(host) describes the engine's host (name, version, CPUs, memory) from one more call.
author:
  - hyperdock.platform contributors (@hyperdock)
options:
  name:
    description: Container names (or Ids) to report. Missing ones are listed in RV(missing).
    type: list
    elements: str
  project:
    description: Report every container of this project (by its C(io.hyperdock.project) label).
    type: str
  usage:
    description: Sample live usage; takes about a second (in parallel for all containers).
    type: bool
    default: true
  parallel:
    description: Most Docker calls run at once.
    type: int
    default: 8
notes:
  - With neither O(name) nor O(project), every container managed by hyperdock.platform is reported.
extends_documentation_fragment:
  - hyperdock.platform.docker
  - hyperdock.platform.info_module
seealso:
  - module: hyperdock.platform.docker_service
  - module: hyperdock.platform.docker_services
"""

EXAMPLES = r"""
- name: Usage of the shop's services against their limits
  hyperdock.platform.docker_service_info:
    project: shop
  register: shop

- name: Warn about services near their memory limit
  ansible.builtin.debug:
    msg: "{{ item.name }} uses {{ item.usage.memory_percent }}% of {{ item.usage.memory_limit }}"
  loop: "{{ shop.services }}"
  when: item.usage and (item.usage.memory_percent or 0) > 80
"""

RETURN = r"""
services:
  description: One entry per container found, sorted by service name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The service name (its label), else the container name.
      type: str
    container:
      description: The container name.
      type: str
    id:
      description: The container Id.
      type: str
    project:
      description: The project it belongs to, if any.
      type: str
    state:
      description: V(started) or V(stopped).
      type: str
    status:
      description: The engine's status, such as C(running) or C(exited).
      type: str
    health:
      description: C(starting), C(healthy) or C(unhealthy); null without a healthcheck.
      type: str
    started_at:
      description: When it was last started (null when stopped).
      type: str
    uptime_seconds:
      description: Seconds since then (null when stopped).
      type: float
    restart_count:
      description: How often the engine restarted it.
      type: int
    config:
      description: Its configuration in the options of M(hyperdock.platform.docker_service).
      type: dict
    usage:
      description:
        - Live usage against limits (null when stopped or O(usage=false)).
        - C(source) is V(engine) when the numbers come from the engine's one-shot stats, or V(cgroup) when the engine
          reported none and they were read from the container's cgroup files (a local daemon only).
      type: dict
  sample:
    - name: web
      container: shop-web
      state: started
      health: healthy
      uptime_seconds: 3600.2
      config: {image: "hyperdock/busybox:latest", memory: 128M, cpus: "0.5", pids_limit: 50}
      usage: {memory_used: 2M, memory_limit: 128M, memory_percent: 1.56, cpu_percent: 0.1, cpus_limit: "0.5", pids_used: 2, pids_limit: 50,
              source: engine}
missing:
  description: Names in O(name) that match no container.
  returned: always
  type: list
  elements: str
host:
  description:
    - The Docker engine's host, from one C(GET /info) call; what M(hyperdock.platform.platform_map) takes as a Docker
      host's C(capacity).
  returned: always
  type: dict
  contains:
    name:
      description: The engine's host name.
      type: str
      sample: lab-app
    server_version:
      description: The engine's version.
      type: str
      sample: 20.10.24+dfsg1
    cpus:
      description: CPUs the engine sees (C(NCPU)).
      type: int
      sample: 2
    memory:
      description: Memory the engine sees (C(MemTotal)), as sizes are written elsewhere.
      type: str
      sample: 2013520K
    memory_bytes:
      description: The same in bytes.
      type: int
      sample: 2061844480
    containers_running:
      description: Running containers on the engine, managed by hyperdock.platform or not.
      type: int
      sample: 3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._docker_runner import INFO_MODULE_ARGS, run_info


def main() -> None:
    module = AnsibleModule(argument_spec=INFO_MODULE_ARGS, supports_check_mode=True,
                           mutually_exclusive=[("name", "project")])
    run_info(module)


if __name__ == "__main__":
    main()
