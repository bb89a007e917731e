#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_service
short_description: One long-running container, declared, with limits changed live
version_added: 0.1.0
description:
  - Creates, updates, starts, stops or removes one container so that it matches what is declared.
  - CPU, memory, pids, I/O weight and restart-policy changes are applied to the running container with the engine's update
    API, without a restart. Other changes recreate the container and say why in RV(recreated_because).
  - Check mode and C(--diff) report the same plan a real run executes, limits included.
  - To deploy several services, prefer M(hyperdock.platform.docker_services), which reconciles them in one call.
author:
  - hyperdock.platform contributors (@hyperdock)
options:
  name:
    description: The container's name.
    type: str
    required: true
  remove_volumes:
    description: With O(state=absent), also remove the container's named volumes (never done otherwise).
    type: bool
    default: false
extends_documentation_fragment:
  - hyperdock.platform.docker
  - hyperdock.platform.docker.SERVICE
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: hyperdock.platform.docker_services
  - module: hyperdock.platform.docker_service_info
"""

EXAMPLES = r"""
- name: Run a web server with limits
  hyperdock.platform.docker_service:
    name: web
    image: hyperdock/busybox:latest
    command: httpd -f -p 8080
    init: true
    ports: ["8080:8080"]
    volumes: ["web-data:/data"]
    memory: 256M
    cpus: "0.5"
    pids_limit: 64
    restart_policy: unless-stopped

- name: Give it more CPU and memory, live (no restart)
  hyperdock.platform.docker_service:
    name: web
    image: hyperdock/busybox:latest
    command: httpd -f -p 8080
    init: true
    ports: ["8080:8080"]
    volumes: ["web-data:/data"]
    memory: 512M
    cpus: "1.5"
    pids_limit: 64
    restart_policy: unless-stopped

- name: Remove it, keeping the web-data volume
  hyperdock.platform.docker_service:
    name: web
    state: absent
"""

RETURN = r"""
container:
  description: The container after the run.
  returned: always
  type: dict
  contains:
    name:
      description: Its name.
      type: str
    id:
      description: Its Id; null when absent (or not created yet in check mode).
      type: str
    state:
      description: The declared state.
      type: str
  sample: {"name": "web", "id": "3f4c...", "state": "started"}
actions:
  description: The plan that was (or in check mode, would be) executed.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "update_live", "target": "web", "changes": {"cpus": {"before": "0.5", "after": "1.5"}}}]
recreated_because:
  description: The options whose change forced a recreate; empty when none was needed.
  returned: always
  type: list
  elements: str
  sample: ["image", "env"]
pulled:
  description: Images pulled during the run.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._docker_runner import SERVICE_MODULE_ARGS, run_service


def main() -> None:
    module = AnsibleModule(argument_spec=SERVICE_MODULE_ARGS, supports_check_mode=True)
    run_service(module)


if __name__ == "__main__":
    main()
