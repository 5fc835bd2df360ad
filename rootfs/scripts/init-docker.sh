#!/usr/bin/env bash
# init-docker.sh [criData]: install docker (dockerd with its own containerd) and its configuration.
#
# Unlike sealos's script, /etc/docker/daemon.json is written BEFORE docker's first start (so data-root and the
# insecure registry are in force from the start), it is rewritten on every run (also when docker was already there),
# a docker the user installed keeps its binaries and unit, and docker is restarted only when something it reads changed.
# Reads: criData, BIN_DIR, SEALOS_PROVIDER_STATE_DIR. Records: docker.{created,backup,dirs,data,user-installed}.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

criData="${1:-${criData:-/var/lib/docker}}"
require_path criData "$criData"
component docker

step "detecting an existing docker"
user_docker="$(get_fact user-installed)"
if [[ -z "$user_docker" ]]; then
  user_docker=false
  if command_exists dockerd && ! is_recorded created "$(command -v dockerd)" '*'; then user_docker=true; fi
  set_fact user-installed "$user_docker"
fi
if [[ "$user_docker" == true ]]; then log "docker was installed by the user: keeping its binaries, managing daemon.json"; fi

step "writing /etc/docker/daemon.json"
mark="$(changes_mark)"
install_file "$ROOTFS/etc/daemon.json" "$(host_path /etc/docker/daemon.json)" 0644

step "creating the docker data directory $criData"
ensure_data_dir "$(host_path "$criData")" 0710

step "installing the docker binaries"
if [[ "$user_docker" != true ]]; then
  tarball="$ROOTFS/cri/docker.tgz"
  [[ -f "$tarball" ]] || die "$tarball is missing: fill the rootfs artifact slot cri/docker.tgz"
  unpacked="$(mktemp -d)"
  trap 'rm -rf -- "$unpacked"' EXIT
  tar -xzf "$tarball" -C "$unpacked" --strip-components=1
  for bin in "$unpacked"/*; do
    [[ -f "$bin" ]] || continue
    dst="$BIN_DIR/$(basename "$bin")"
    if [[ -e "$dst" ]] && ! is_recorded created "$dst" '*'; then
      log "keeping the existing $dst"
      continue
    fi
    install_file "$bin" "$dst" 0755
  done
fi

step "installing docker.service"
unit_mark="$(changes_mark)"
unit="$SYSTEMD_DIR/docker.service"
if [[ "$user_docker" == true ]] && ! is_recorded created "$unit" '*' && ! is_recorded backup "$unit" &&
  systemctl cat docker.service >/dev/null 2>&1; then
  log "keeping the user's docker.service"
else
  install_file "$ROOTFS/etc/docker.service" "$unit" 0644
fi
if changed_since "$unit_mark"; then systemd_reload; fi

step "starting docker"
# containerd makes /opt/containerd (empty plugin bin and lib dirs) at its first start: made here first, it is recorded,
# so clean removes it when nothing else was put there (it holds no data of the user's: keepData does not keep it).
if [[ "$user_docker" != true ]]; then ensure_dir "$(host_path /opt/containerd)" 0711; fi
changed=false
if changed_since "$mark"; then changed=true; fi
converge_unit docker.service "$changed"

step "waiting for docker to answer"
if ! wait_until 120 docker info; then
  unit_diagnostics docker.service >&2
  die "docker did not answer 'docker info' within 120s (journal above)"
fi
log "docker is ready"
