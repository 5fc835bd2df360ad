#!/usr/bin/env bash
# check.sh [registryData]: preflight checks before anything is installed. Changes nothing; reports every problem at once
# and exits 1 if there is any. Passes again after a successful install (our own components' ports are not conflicts).
# Reads: registryData, registryPort, SEALOS_SYS_CRI_ENDPOINT.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

registryData="${1:-${registryData:-/var/lib/registry}}"
registryPort="${registryPort:-5000}"
cri_socket="${SEALOS_SYS_CRI_ENDPOINT:-/var/run/cri-dockerd.sock}"
problems=()

# Process names (prefixes, as the kernel truncates them to 15 characters) of the components this cluster runs.
OUR_PROCESSES=(kube-apiserver kube-controller kube-scheduler kube-proxy kubelet etcd registry)
KUBE_PORTS=(6443 2379 2380 10249 10250 10256 10257 10259)

# containerd_is_docker_only SOCKET: the containerd behind SOCKET is docker's (its child, or CRI disabled in its config),
# so it is not a second CRI runtime.
containerd_is_docker_only() {
  local socket="$1" pid ppid_comm
  pid="$(ss -xlpH 2>/dev/null | awk -v s="$socket" '$5 == s && match($0, /pid=[0-9]+/) { print substr($0, RSTART + 4, RLENGTH - 4); exit }')"
  if [[ -n "$pid" ]]; then
    ppid_comm="$(cat "/proc/$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)/comm" 2>/dev/null || true)"
    [[ "$ppid_comm" == dockerd ]] && return 0
  fi
  grep -Eqs '^[[:space:]]*disabled_plugins[[:space:]]*=.*"(io\.containerd\.grpc\.v1\.)?cri"' "$(host_path /etc/containerd/config.toml)"
}

step "container runtimes"
# A containerd that our own interrupted install put there (recorded in docker.created) is not someone else's: the next
# init-docker.sh completes that install, so a re-run after any failure converges.
if command_exists containerd && ! command_exists docker && ! is_recorded created "$(command -v containerd)" docker; then
  problems+=("containerd is installed without docker ($(command -v containerd)): this rootfs installs docker with its own containerd; remove that containerd or use a containerd rootfs")
fi
foreign=()
for socket in /run/containerd/containerd.sock /run/k3s/containerd/containerd.sock /run/crio/crio.sock /run/isulad.sock /run/dockershim.sock; do
  [[ -S "$(host_path "$socket")" ]] || continue
  [[ "$(readlink -m "$socket")" != "$(readlink -m "$cri_socket")" ]] || continue
  if [[ "$socket" == */containerd.sock ]] && containerd_is_docker_only "$socket"; then continue; fi
  foreign+=("$socket")
done
if ((${#foreign[@]} > 0)); then
  problems+=("CRI sockets of other container runtimes exist: ${foreign[*]}; kubelet must use only $cri_socket (sealos #2716/#2603): stop and remove those runtimes, or disable their CRI plugin")
fi

step "listening ports"
for port in "${KUBE_PORTS[@]}" "$registryPort"; do
  conflicts="$(port_conflicts "$port" "${OUR_PROCESSES[@]}" | tr '\n' ';')"
  if [[ -n "$conflicts" ]]; then
    problems+=("port $port is already listening (address and process: ${conflicts%;}): stop that service or choose another port")
  fi
done

step "registryData"
if [[ -n "$registryData" && -f "$(host_path "$registryData")" ]]; then
  problems+=("registryData=\"$registryData\" is a regular file: the registry needs a directory there; remove the file or choose another registryData")
fi

if ((${#problems[@]} > 0)); then
  STEP="preflight"
  for problem in "${problems[@]}"; do printf '[%s] ERROR: %s\n' "$SCRIPT_NAME" "$problem" >&2; done
  die "${#problems[@]} preflight check(s) failed (listed above)"
fi
STEP="preflight"
log "all checks passed"
