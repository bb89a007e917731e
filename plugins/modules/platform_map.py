#!/usr/bin/python
# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_map
short_description: A map of the platform, which container runs on which guest on which hypervisor, and how full each layer is
version_added: 0.1.0
description:
  - Takes what M(hyperdock.platform.hypervisor_info), M(hyperdock.platform.guest_info) and
    M(hyperdock.platform.docker_service_info) returned for every host and writes a map of the platform into O(dest).
  - The map shows each layer against its budget. A hypervisor's guest budget against the vCPUs and memory its guests take
    (their ceilings, as the guest budget counts them). A Docker host's service budget against the limits of its containers
    (stopped ones too, since they may start at any time). Each container's memory, CPU and pids in use against its limits, and its health.
  - V(json) writes C(map.json), the normalised data. V(text) writes C(map.txt), a tree. V(svg) writes C(map.svg), a
    Graphviz drawing. V(html) writes C(map.html), one self-contained page (inline CSS, no script, no external resource)
    with the SVG drawing inline when V(svg) is written too.
  - Output is deterministic, with everything sorted and no timestamp, so the same input reports no change.
    A file is rewritten, atomically and with mode C(0644), only when its content differs.
  - Runs where the play runs it, usually the controller (V(localhost)); it reads no daemon itself.
author:
  - hyperdock.platform contributors (@hyperdock)
requirements:
  - Graphviz's C(dot) on the controller, for O(formats=svg).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode renders everything, compares it with the files in O(dest) and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff shows C(map.txt) before and after (the first of O(formats) when V(text) is not among them).
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
options:
  hypervisors:
    description: The hypervisors, each with what its info modules returned.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The hypervisor's inventory name; what O(docker_hosts[].hypervisor) refers to.
        type: str
        required: true
      uri:
        description: Its libvirt connection URI (default C(capacity.uri)).
        type: str
      capacity:
        description:
          - What RV(hyperdock.platform.hypervisor_info#module:hypervisor) returned for it. C(cpus), C(memory_bytes) (or C(memory))
            and C(budget) are used, and C(hostname), C(accelerator) and C(libvirt_version) are shown when present.
          - Without C(budget), its guests may take all of C(cpus) and C(memory).
        type: dict
        default: {}
      guests:
        description:
          - What RV(hyperdock.platform.guest_info#module:guests) returned for it.
          - Each guest's C(labels) and C(usage) (C(cpu_time_seconds), C(memory_used_bytes) or C(memory_used), C(memory_rss_bytes) or C(memory_rss)) are shown
            when present.
        type: list
        elements: dict
        default: []
  docker_hosts:
    description: The Docker hosts, each placed on its guest, with the services M(hyperdock.platform.docker_service_info) found on it.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The Docker host's inventory name.
        type: str
        required: true
      hypervisor:
        description:
          - The O(hypervisors[].name) of the hypervisor it runs on.
          - Null for a Docker host that is not a guest (bare metal, a cloud instance).
        type: str
      guest:
        description:
          - The libvirt domain name of the guest it runs on, one of its hypervisor's O(hypervisors[].guests).
          - Null with O(docker_hosts[].hypervisor) set, for Docker on the hypervisor itself.
        type: str
      budget:
        description:
          - What its containers' limits may add up to, as O(hyperdock.platform.docker_services#module:budget) has it.
          - Without it, the engine's O(docker_hosts[].capacity), else the guest's vCPUs and memory.
        type: dict
        suboptions:
          memory:
            description: A size such as V(1536M) or V(2G).
            type: str
          cpus:
            description: A CPU amount such as V(1.5).
            type: str
          pids:
            description: A number of processes.
            type: int
      capacity:
        description:
          - What the engine sees, with C(cpus) and C(memory_bytes) (or C(memory)).
          - RV(hyperdock.platform.docker_service_info#module:host) fits as it is, and its C(server_version) is shown.
        type: dict
      services:
        description: What RV(hyperdock.platform.docker_service_info#module:services) returned for it.
        type: list
        elements: dict
        default: []
  dest:
    description: The directory to write the map into; created (mode C(0755)) when missing.
    type: path
    required: true
  formats:
    description: Which files to write. Each is named C(map.<extension>) in O(dest).
    type: list
    elements: str
    choices: [json, svg, html, text]
    default: [json, svg, html, text]
  title:
    description: The title of the page, the drawing and the tree.
    type: str
    default: hyperdock platform
notes:
  - The bars are green below 75%, amber to 90%, orange to 100% and striped red over budget.
  - Files of formats no longer in O(formats) are left in O(dest).
seealso:
  - module: hyperdock.platform.hypervisor_info
  - module: hyperdock.platform.guest_info
  - module: hyperdock.platform.docker_service_info
"""

EXAMPLES = r"""
# Each host collects its part of the map, then the controller draws it (playbooks/map.yml does this for the inventory).
- name: Capacity and guests of the hypervisors
  hosts: hypervisors
  gather_facts: false
  tasks:
    - name: Capacity and guest budget
      hyperdock.platform.hypervisor_info:
        probe_kvm: false
      register: map_capacity

    - name: Guests
      hyperdock.platform.guest_info:
      register: map_guests

    - name: Keep this hypervisor's part of the map
      ansible.builtin.set_fact:
        map_part:
          name: "{{ inventory_hostname }}"
          capacity: "{{ map_capacity.hypervisor }}"
          guests: "{{ map_guests.guests }}"

- name: Services of the Docker hosts
  hosts: docker_hosts
  gather_facts: false
  tasks:
    - name: Services, their usage and the engine's host
      hyperdock.platform.docker_service_info:
      register: map_services

    - name: Keep this Docker host's part of the map
      ansible.builtin.set_fact:
        map_part:
          name: "{{ inventory_hostname }}"
          hypervisor: "{{ guest_hypervisor | default(none) }}"
          guest: "{{ (guest_name | default(inventory_hostname)) if guest_hypervisor is defined else none }}"
          capacity: "{{ map_services.host }}"
          services: "{{ map_services.services }}"

- name: Draw the map
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write map.json, map.svg, map.html and map.txt
      hyperdock.platform.platform_map:
        dest: "{{ playbook_dir }}/../lab-output/map"
        hypervisors: "{{ groups['hypervisors'] | map('extract', hostvars, 'map_part') | list }}"
        docker_hosts: "{{ groups['docker_hosts'] | map('extract', hostvars, 'map_part') | list }}"
      register: platform

    - name: Show the tree
      ansible.builtin.debug:
        msg: "{{ platform.tree.splitlines() }}"

# Only the text tree and the data, for one bare-metal Docker host: no Graphviz needed.
- name: Map a build farm
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write map.txt and map.json
      hyperdock.platform.platform_map:
        dest: /tmp/build-farm-map
        formats: [text, json]
        title: build farm
        docker_hosts:
          - name: builder1
            budget: {memory: 12G, cpus: "6"}
            capacity: "{{ hostvars['builder1'].map_services.host }}"
            services: "{{ hostvars['builder1'].map_services.services }}"
"""

RETURN = r"""
files:
  description: The path of each file written (or that check mode would write), by format.
  returned: always
  type: dict
  sample: {json: /srv/map/map.json, svg: /srv/map/map.svg, html: /srv/map/map.html, text: /srv/map/map.txt}
tree:
  description: The map as a text tree (the content of C(map.txt)), whether or not V(text) is in O(formats).
  returned: always
  type: str
  sample: |
    hyperdock platform: 1 hypervisor, 1 guest, 1 Docker host, 1 container (1 running)

    lab-hv  qemu:///system  tcg  guests 2/4 vCPUs, 1.5G/22.5G memory
    └── lab-app  running  2 vCPUs 1.5G  services 1/2 cpus, 512M/1.5G memory
        └── db  healthy  hyperdock/lab-db:1  mem 96M/512M  cpus 0.025/1  pids 9/200
map:
  description:
    - The normalised map (the content of C(map.json)), one list per layer, each sorted by name.
    - Every size is given in the size vocabulary (V(1536M)) and in bytes (C(*_bytes)), CPU amounts in the cpus vocabulary (V(1.25)).
    - A budget or usage figure is a gauge with C(used), C(limit), C(free) and C(percent), each null when not known
      (no limit means no free and no percent).
  returned: always
  type: dict
  contains:
    title:
      description: O(title).
      type: str
    summary:
      description: Counts of hypervisors, guests, docker_hosts, containers, running, stopped, unhealthy, errors and warnings.
      type: dict
    hypervisors:
      description:
        - Each hypervisor with C(name), C(uri), C(hostname), C(driver), C(accelerator), C(libvirt_version), C(cpus),
          C(memory) and C(memory_bytes), the names of its C(guests) and of C(docker_hosts) running on it directly.
        - C(budget.vcpus) and C(budget.memory) are gauges of what its guests take (their ceilings) against its guest budget.
        - C(usage.memory) is the guests' RSS (what their processes hold on the host) against the host's memory, when the guests report usage.
      type: list
      elements: dict
    guests:
      description:
        - Each guest with C(name), C(hypervisor), C(state), C(type), C(vcpus), C(max_vcpus), C(memory), C(max_memory)
          (and C(*_bytes)), C(allocation) (what it takes of the hypervisor's budget), C(addresses), C(labels) and
          C(docker_host).
        - C(usage) (null when not reported) has C(cpu_time_seconds); C(memory), a gauge of what the guest's kernel has in
          use against its memory (C(used) null when the guest reports no balloon statistics); and C(rss) and C(rss_bytes),
          what its process holds on the host.
      type: list
      elements: dict
    docker_hosts:
      description:
        - Each Docker host with C(name), C(hypervisor), C(guest), C(engine) (C(name), C(server_version),
          C(containers_running) when given), C(capacity), the names of its C(containers), and per limit the containers
          with none (C(unlimited)).
        - C(budget.memory), C(budget.cpus) and C(budget.pids) are gauges of its containers' limits (stopped ones included)
          against its service budget, with the C(source) of that budget, V(budget), V(capacity) or V(guest).
      type: list
      elements: dict
    containers:
      description:
        - Each container with C(name) (the service), C(container), C(project), C(docker_host), C(guest), C(hypervisor),
          C(image), C(state) (V(started) or V(stopped)), C(status), C(health), C(restart_count) and C(limits)
          (C(memory), C(memory_bytes), C(cpus), C(pids)).
        - C(usage) (null when stopped or not sampled) has the gauges C(memory), C(cpus) and C(pids) against its limits,
          and C(source).
      type: list
      elements: dict
    warnings:
      description: What needs a look, errors first, each with C(level) (V(error) or V(warning)), C(layer), C(name) and C(message).
      type: list
      elements: dict
      sample:
        - {level: error, layer: container, name: proxy, message: container proxy on lab-edge is unhealthy}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hyperdock.platform.plugins.module_utils._platform_map import ARGUMENT_SPEC, run_platform_map


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_platform_map(module)


if __name__ == "__main__":
    main()
