#!/usr/bin/env bash
# init-cri-dockerd.sh [criDockerdData]: install cri-dockerd (the CRI for docker), crictl and their units.
#
# Guards on the real binary name (cri-dockerd; sealos tested `cri-docker`, so it reinstalled on every run), keeps a
# cri-dockerd/crictl the user installed, and restarts only what changed.
# Reads: criDockerdData, SEALOS_SYS_CRI_ENDPOINT, BIN_DIR. Records: cri-dockerd.{created,backup,dirs,data}.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

criDockerdData="${1:-${criDockerdData:-/var/lib/cri-dockerd}}"
cri_socket="${SEALOS_SYS_CRI_ENDPOINT:-/var/run/cri-dockerd.sock}"
require_path criDockerdData "$criDockerdData"
require_path SEALOS_SYS_CRI_ENDPOINT "$cri_socket"
component cri-dockerd

step "checking docker"
docker info >/dev/null 2>&1 || die "docker is not running: run init-docker.sh first"

unpacked="$(mktemp -d)"
trap 'rm -rf -- "$unpacked"' EXIT

# install_binary SRC NAME: SRC to BIN_DIR/NAME unless the user already has their own NAME there.
install_binary() {
  local src="$1" dst="$BIN_DIR/$2"
  if [[ -e "$dst" ]] && ! is_recorded created "$dst" '*'; then
    log "keeping the existing $dst"
  else
    install_file "$src" "$dst" 0755
  fi
}

step "installing cri-dockerd"
mark="$(changes_mark)"
[[ -f "$ROOTFS/cri/cri-dockerd.tgz" ]] || die "$ROOTFS/cri/cri-dockerd.tgz is missing: fill the artifact slot"
extract_member "$ROOTFS/cri/cri-dockerd.tgz" cri-dockerd/cri-dockerd "$unpacked/cri-dockerd"
install_binary "$unpacked/cri-dockerd" cri-dockerd

step "installing crictl"
[[ -f "$ROOTFS/cri/crictl.tar.gz" ]] || die "$ROOTFS/cri/crictl.tar.gz is missing: fill the artifact slot"
extract_member "$ROOTFS/cri/crictl.tar.gz" crictl "$unpacked/crictl"
install_binary "$unpacked/crictl" crictl
install_file "$ROOTFS/etc/crictl.yaml" "$(host_path /etc/crictl.yaml)" 0644

step "creating $criDockerdData"
ensure_data_dir "$(host_path "$criDockerdData")" 0750

step "installing the cri-docker units"
socket_mark="$(changes_mark)"
install_file "$ROOTFS/etc/cri-docker.socket" "$SYSTEMD_DIR/cri-docker.socket" 0644
socket_changed=false
if changed_since "$socket_mark"; then socket_changed=true; fi
install_file "$ROOTFS/etc/cri-docker.service" "$SYSTEMD_DIR/cri-docker.service" 0644
if changed_since "$socket_mark"; then systemd_reload; fi

step "starting cri-docker"
changed=false
if changed_since "$mark"; then changed=true; fi
converge_unit cri-docker.socket "$socket_changed"
converge_unit cri-docker.service "$changed"

step "waiting for the cri-dockerd socket $cri_socket"
if ! wait_until 60 socket_exists "$(host_path "$cri_socket")"; then
  unit_diagnostics cri-docker.service >&2
  die "$cri_socket did not appear within 60s (journal above)"
fi
log "cri-dockerd is ready"
