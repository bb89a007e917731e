# Copyright: hyperdock.platform contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # The Docker host connection, shared by every docker_* module.
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker daemon to talk to, as C(unix:///path/to/socket) or C(tcp://host:port).
      - With C(tcp://) and TLS options, the connection uses mutual TLS.
      - The environment variable E(DOCKER_HOST) is the default when set.
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  tls_ca_cert:
    description:
      - CA certificate that signed the daemon's certificate; the daemon's certificate is verified against it.
      - E(DOCKER_TLS_CA_CERT) is the default; with none of the TLS options set, E(DOCKER_CERT_PATH)/C(ca.pem) is used when that
        variable is set.
    type: path
  tls_client_cert:
    description:
      - Client certificate presented to the daemon. Requires O(tls_client_key).
      - E(DOCKER_TLS_CLIENT_CERT) is the default, else E(DOCKER_CERT_PATH)/C(cert.pem).
    type: path
  tls_client_key:
    description:
      - Private key of O(tls_client_cert).
      - E(DOCKER_TLS_CLIENT_KEY) is the default, else E(DOCKER_CERT_PATH)/C(key.pem).
    type: path
  tls_hostname:
    description:
      - The name the daemon's certificate must carry, when it differs from the host in O(docker_host).
      - E(DOCKER_TLS_HOSTNAME) is the default.
    type: str
  timeout:
    description:
      - Seconds to wait for each Docker API call. E(DOCKER_TIMEOUT) is the default.
    type: int
    default: 60
requirements:
  - docker (the Docker SDK for Python) >= 7.0
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
  action_group:
    description: Use C(group/hyperdock.platform.docker) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - hyperdock.platform.docker
"""

    # The options of one service (docker_service, and each entry of docker_services' services).
    SERVICE = r"""
options:
  state:
    description:
      - V(started) creates the container if needed and runs it; V(stopped) creates it if needed and stops it.
      - V(present) creates it if needed without starting it, and leaves an existing one running or stopped as it is.
      - V(absent) removes the container but keeps its named volumes, unless O(remove_volumes=true).
    type: str
    default: started
    choices: [present, started, stopped, absent]
  image:
    description:
      - The image to run, such as C(hyperdock/busybox:latest); a missing tag means C(latest).
      - Required unless O(state=absent). A change recreates the container, and so does the tag now naming a different image.
    type: str
  pull:
    description:
      - V(missing) pulls the image only when it is not present, V(always) on every run, V(never) fails when it is missing.
    type: str
    default: missing
    choices: [missing, always, never]
  command:
    description: The command, as a list or as a string split like a shell would. Unset keeps the image's.
    type: raw
  entrypoint:
    description: The entrypoint, as a list or as a string split like a shell would.
    type: raw
  env:
    description: Environment variables, as a dict (or a list of C(NAME=value)).
    type: raw
  labels:
    description: Labels for the container; C(io.hyperdock.*) is reserved.
    type: dict
  user:
    description: User (and group) to run as, such as C(1000:1000).
    type: str
  working_dir:
    description: Working directory inside the container.
    type: str
  ports:
    description: Published ports, C([host_ip:][host_port:]container_port[/protocol]), such as C(8080:80).
    type: list
    elements: raw
  mounts:
    description:
      - Mounts, each a dict with C(source) (a volume name or an absolute host path), C(target), and optional C(type)
        (V(volume) or V(bind), guessed from C(source)) and C(read_only).
    type: list
    elements: dict
  volumes:
    description: Mounts in the short syntax C(source:/target[:ro]), merged with O(mounts).
    type: list
    elements: str
  networks:
    description: Networks to join, each a name or a dict with C(name) and C(aliases). Unset means the default bridge.
    type: list
    elements: raw
  restart_policy:
    description: V(no), V(always), V(unless-stopped), V(on-failure) or C(on-failure:N). Changed live.
    type: str
  healthcheck:
    description:
      - A dict with C(test) (a shell string or a list), C(interval), C(timeout), C(start_period) (durations such as C(30s)),
        C(retries), or C(disable=true).
    type: dict
  read_only:
    description: Mount the root filesystem read-only.
    type: bool
    default: false
  cap_add:
    description: Capabilities to add, such as C(NET_ADMIN).
    type: list
    elements: str
  cap_drop:
    description: Capabilities to drop, such as C(ALL).
    type: list
    elements: str
  security_opt:
    description: Security options, such as C(apparmor=unconfined).
    type: list
    elements: str
  no_new_privileges:
    description: Add C(no-new-privileges) to the security options, so processes cannot gain privileges.
    type: bool
    default: true
  init:
    description: Run an init process as PID 1 that forwards signals and reaps zombies.
    type: bool
    default: false
  shm_size:
    description: Size of C(/dev/shm), such as C(64M).
    type: str
  memory:
    description: Memory limit, such as C(512M) or C(2G) (binary units, at least C(6M)). Changed live.
    type: str
  memory_reservation:
    description: Soft memory limit, at most O(memory). Changed live.
    type: str
  memory_swap:
    description:
      - Memory plus swap limit, at least O(memory), or C(-1)/C(unlimited). Changed live.
      - Unset, it is twice O(memory), as the engine sets it at create, also after a live O(memory) change.
    type: str
  cpus:
    description: CPUs the container may use, such as C(0.5) or C(2). Not together with O(cpu_period)/O(cpu_quota). Changed live.
    type: str
  cpu_shares:
    description: Relative CPU weight (2 to 262144; the engine's default is 1024). Changed live.
    type: int
  cpu_period:
    description: CFS period in microseconds (1000 to 1000000). Changed live.
    type: int
  cpu_quota:
    description: CFS quota in microseconds per O(cpu_period). Changed live.
    type: int
  cpuset_cpus:
    description: Host CPUs the container may run on, such as C(0-2,4); each must exist on the host. Changed live.
    type: str
  cpuset_mems:
    description: NUMA memory nodes the container may use, such as C(0). Changed live.
    type: str
  pids_limit:
    description: Maximum number of processes; C(-1) for unlimited. Changed live.
    type: int
  blkio_weight:
    description: Relative block I/O weight (10 to 1000). Changed live.
    type: int
  device_read_bps:
    description: Read rate limits, each a dict with C(path) (such as C(/dev/sda)) and C(rate) (a size per second, such as C(10M)).
    type: list
    elements: dict
  device_write_bps:
    description: Write rate limits, each a dict with C(path) and C(rate) (a size per second).
    type: list
    elements: dict
  device_read_iops:
    description: Read operation limits, each a dict with C(path) and C(rate) (operations per second).
    type: list
    elements: dict
  device_write_iops:
    description: Write operation limits, each a dict with C(path) and C(rate) (operations per second).
    type: list
    elements: dict
  ulimits:
    description: Ulimits by name, each a number, C(soft:hard) or a dict with C(soft) and C(hard), such as C(nofile=1024:2048).
    type: dict
  oom_score_adj:
    description: OOM killer preference, -1000 to 1000.
    type: int
  stop_timeout:
    description: Seconds to wait after SIGTERM before SIGKILL when stopping or recreating.
    type: int
    default: 10
notes:
  - Options marked I(changed live) are applied to the running container with the engine's update API, without a restart
    (its Id and start time stay). Any other change recreates the container, keeping its named volumes, and the result's
    RV(recreated_because) names the options that forced it.
  - A limit option left unset means I(leave it as it is), not I(remove it).
  - Sizes and CPU amounts use the same units as the guest modules.
"""
