#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_services
short_description: A project's services reconciled in one task, within a budget
version_added: 0.1.0
description:
  - Reconciles a whole set of services (containers), their networks and volumes in a single module call, in
    the C(depends_on) order of the services, with independent work run in parallel.
  - Each service takes the options of M(hyperdock.platform.docker_service) (except O(hyperdock.platform.docker_service#module:name));
    limits change live, anything else recreates the container and the result says why.
  - Before any change, the services' limits are summed and checked against O(budget).
  - Containers are named C(PROJECT-SERVICE) and labelled C(io.hyperdock.project) and C(io.hyperdock.service); O(prune) uses
    those labels and never touches anything else.
author:
  - hyperdock.platform contributors (@hyperdock)
options:
  project:
    description: The project's name; it prefixes container names and labels everything created.
    type: str
    required: true
  services:
    description:
      - The services by name; each value takes the service options of M(hyperdock.platform.docker_service)
        (O(hyperdock.platform.docker_service#module:state), O(hyperdock.platform.docker_service#module:image),
        O(hyperdock.platform.docker_service#module:memory), and so on), plus C(depends_on), a list of service names started first.
    type: dict
    default: {}
  compose:
    description:
      - A Docker Compose file's content (a string or a mapping), mapped onto the same model and merged with O(services).
      - 'Supported per service: C(image), C(command), C(environment), C(ports) and C(volumes) (short syntax), C(networks),
        C(depends_on) (start order), C(restart), C(healthcheck), C(mem_limit), C(cpus), C(pids_limit) and
        C(deploy.resources.limits) (C(cpus), C(memory), C(pids)) / C(reservations) (C(memory)).'
      - Anything else fails with an error naming the key.
    type: raw
  networks:
    description: Networks to create, as a list of names or a dict of name to C(driver), C(internal), C(labels), C(external).
    type: raw
  volumes:
    description: Named volumes to create, as a list of names or a dict of name to C(driver), C(labels), C(external).
    type: raw
  prune:
    description: Remove this project's containers (found by label) that are no longer declared.
    type: bool
    default: false
  remove_volumes:
    description: When removing containers (V(absent) or pruned), also remove their named volumes.
    type: bool
    default: false
  budget:
    description:
      - The most the declared services may reserve on this Docker host together. Each key defaults to the host's capacity
        from C(docker info) times O(overcommit) (pids have no default budget).
      - Services without a given limit do not count towards it; see O(require_limits).
    type: dict
    suboptions:
      memory:
        description: Sum of C(memory) limits, such as C(16G).
        type: str
      cpus:
        description: Sum of C(cpus) (or C(cpu_quota)/C(cpu_period)), such as C(4).
        type: str
      pids:
        description: Sum of C(pids_limit).
        type: int
  budget_scope:
    description:
      - What counts against O(budget).
      - V(host) counts this project's services and every running container of other projects or none, with
        their memory, cpus and pids limits, since they share the host; the error names them C(other:<name>).
      - V(project) counts this project's services only.
    type: str
    choices: [host, project]
    default: host
  overcommit:
    description: Ratio applied to the host's capacity for the default O(budget).
    type: float
    default: 1.0
  require_limits:
    description: Refuse services that do not set C(memory), C(cpus) and C(pids_limit).
    type: bool
    default: false
  parallel:
    description: Most Docker operations run at once.
    type: int
    default: 8
  wait:
    description:
      - Wait until every started service is ready before returning, as C(docker compose up --wait) does, whether or not
        this run changed it. Ready is V(healthy) for a service with a healthcheck, running for one without.
      - Each C(depends_on) wave must be ready before the next one starts, so a service starts only once the services it
        depends on are healthy.
      - Fails, naming each service that is not ready with its state and its last healthcheck output, when a container
        exits or O(wait_timeout) passes. Never waits in check mode.
    type: bool
    default: false
  wait_timeout:
    description: Seconds O(wait) waits in all, at least 1.
    type: int
    default: 300
extends_documentation_fragment:
  - hyperdock.platform.docker
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: hyperdock.platform.docker_service
  - module: hyperdock.platform.docker_service_info
"""

EXAMPLES = r"""
- name: Deploy the shop, every service with limits
  hyperdock.platform.docker_services:
    project: shop
    require_limits: true
    networks: [shop-net]
    volumes: [shop-db]
    services:
      db:
        image: hyperdock/busybox:latest
        command: sleep infinity
        init: true
        networks: [{name: shop-net, aliases: [db]}]
        volumes: ["shop-db:/var/lib/db"]
        memory: 512M
        cpus: "1"
        pids_limit: 100
      web:
        image: hyperdock/busybox:latest
        command: httpd -f -p 8080
        init: true
        depends_on: [db]
        networks: [shop-net]
        ports: ["8080:8080"]
        memory: 128M
        cpus: "0.5"
        pids_limit: 50
    prune: true

- name: The same from a Compose file
  hyperdock.platform.docker_services:
    project: shop
    compose: "{{ lookup('file', 'compose.yml') }}"
"""

RETURN = r"""
actions:
  description: The plan that was (or in check mode, would be) executed, in order.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "update_live", "target": "web", "changes": {"memory": {"before": "128M", "after": "256M"}}}]
recreated_because:
  description: For each recreated service, the options that forced it.
  returned: always
  type: dict
  sample: {"web": ["image"]}
services:
  description: Each declared service's container after the run.
  returned: always
  type: dict
  sample: {"web": {"container": "shop-web", "id": "3f4c...", "state": "started"}}
budget:
  description: The sums of the services' limits and the budget they were checked against.
  returned: always
  type: dict
  sample: {"memory": {"used": "640M", "budget": "23G"}, "cpus": {"used": "1.5", "budget": "2"}, "pids": {"used": "150", "budget": null}}
pulled:
  description: Images pulled during the run.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._docker_runner import SERVICES_MODULE_ARGS, run_services


def main() -> None:
    module = AnsibleModule(argument_spec=SERVICES_MODULE_ARGS, supports_check_mode=True)
    run_services(module)


if __name__ == "__main__":
    main()
