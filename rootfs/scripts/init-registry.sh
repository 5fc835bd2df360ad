#!/usr/bin/env bash
# init-registry.sh [registryData] [registryConfig]: run the cluster registry as registry.service, a docker container of
# the image in ../images/registry.tar, with its blobs under registryData itself (never a symlink into the rootfs:
# sealos #1605) and its config and htpasswd under registryConfig.
#
# Needs docker: when docker is not running, init-docker.sh runs first (sealos calls init-registry before init).
# Reads: registryData, registryConfig, registryDomain, registryPort, criData, BIN_DIR.
# Records: registry.{created,backup,dirs,data,image}.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

registryData="${1:-${registryData:-/var/lib/registry}}"
registryConfig="${2:-${registryConfig:-/etc/registry}}"
registryDomain="${registryDomain:-sealos.hub}"
registryPort="${registryPort:-5000}"
require_path registryData "$registryData"
require_path registryConfig "$registryConfig"
[[ "$registryData" != *:* ]] || die "registryData=\"$registryData\" contains ':', which docker -v cannot mount: choose a path without ':'"
[[ "$registryConfig" != *:* ]] || die "registryConfig=\"$registryConfig\" contains ':', which docker -v cannot mount: choose a path without ':'"
if ! [[ "$registryPort" =~ ^[0-9]{1,5}$ ]] || ((10#$registryPort < 1 || 10#$registryPort > 65535)); then
  die "registryPort=\"$registryPort\" is not a port: set it to a number from 1 to 65535"
fi
component registry

# systemd_env NAME VALUE: one EnvironmentFile line; inside double quotes systemd unescapes \" \\ \` and \$.
systemd_env() {
  local value="$2"
  [[ "$value" != *$'\n'* ]] || die "$1 contains a newline"
  value="${value//\\/\\\\}"
  value="${value//\"/\\\"}"
  value="${value//\$/\\\$}"
  value="${value//\`/\\\`}"
  printf '%s="%s"\n' "$1" "$value"
}

# registry_ready HOST PORT: /v2/ answers 401 (credentials required) or 200.
registry_ready() {
  local code
  code="$(http_status "$1" "$2" /v2/)"
  [[ "$code" == 401 || "$code" == 200 ]]
}

step "checking docker"
if ! unit_active docker.service || ! docker info >/dev/null 2>&1; then
  log "docker is not running: running init-docker.sh first"
  bash "$SCRIPTS_DIR/init-docker.sh" || die "init-docker.sh failed (see its error above)"
fi

step "loading the registry image"
tarball="$ROOTFS/images/registry.tar"
[[ -f "$tarball" ]] || die "$tarball is missing: fill the rootfs artifact slot images/registry.tar"
known_ids="$(docker images -qa --no-trunc 2>/dev/null | sort -u)"
loaded="$(docker load -i "$tarball")" || die "docker load -i $tarball failed"
image="$(printf '%s\n' "$loaded" | sed -n 's/^Loaded image: //p' | tail -n 1)"
if [[ -z "$image" ]]; then image="$(printf '%s\n' "$loaded" | sed -n 's/^Loaded image ID: //p' | tail -n 1)"; fi
[[ -n "$image" ]] || die "docker load printed no 'Loaded image:' line for $tarball: $loaded"
image_id="$(docker image inspect --format '{{.Id}}' "$image")"
if [[ -z "$(get_fact image)" ]] && ! grep -Fxq -- "$image_id" <<<"$known_ids"; then
  set_fact image "$image"
fi
log "registry image: $image"

step "registry directories"
data_dir="$(host_path "$registryData")"
config_dir="$(host_path "$registryConfig")"
[[ ! -f "$data_dir" ]] || die "registryData=\"$registryData\" is a regular file: remove it or choose another registryData"
ensure_data_dir "$data_dir" 0755
ensure_dir "$config_dir" 0755

step "copying the rootfs image store into $registryData/docker/registry"
store="$ROOTFS/registry/docker/registry"
if [[ -d "$store" ]] && [[ -n "$(find "$store" -mindepth 1 ! -name .gitkeep -print -quit)" ]]; then
  ensure_dir "$data_dir/docker/registry"
  # --skip-old-files: blobs already in the registry are never overwritten.
  tar -C "$store" --exclude=./.gitkeep -cf - . | tar -C "$data_dir/docker/registry" --skip-old-files -xf -
else
  log "the rootfs has no images in registry/docker/registry: nothing to copy"
fi

step "registry configuration"
mark="$(changes_mark)"
install_file "$ROOTFS/etc/registry_config.yml" "$config_dir/registry_config.yml" 0644
[[ -f "$ROOTFS/etc/registry_htpasswd" ]] ||
  die "$ROOTFS/etc/registry_htpasswd is missing: it is written by the provider (user:bcrypt(password)) before init-registry.sh runs"
install_file "$ROOTFS/etc/registry_htpasswd" "$config_dir/registry_htpasswd" 0600

step "installing registry.service"
docker_bin="$(command -v docker)"
{
  printf '# Written by init-registry.sh; read by registry.service.\n'
  systemd_env SEALOS_REGISTRY_DOCKER "$docker_bin"
  systemd_env SEALOS_REGISTRY_IMAGE "$image"
  systemd_env SEALOS_REGISTRY_DATA "$registryData"
  systemd_env SEALOS_REGISTRY_CONFIG "$registryConfig"
} | install_content "$(host_path /etc/default/sealos-registry)" 0644
unit_mark="$(changes_mark)"
install_file "$ROOTFS/etc/registry.service" "$SYSTEMD_DIR/registry.service" 0644
if changed_since "$unit_mark"; then systemd_reload; fi

step "starting registry.service"
changed=false
if changed_since "$mark"; then changed=true; fi
converge_unit registry.service "$changed"

step "waiting for the registry on $registryDomain:$registryPort"
probe_host="$registryDomain"
if ! getent hosts "$probe_host" >/dev/null 2>&1; then
  warn "$registryDomain does not resolve on this host yet (the provider adds it to /etc/hosts): probing 127.0.0.1"
  probe_host=127.0.0.1
fi
if ! wait_until 120 registry_ready "$probe_host" "$registryPort"; then
  unit_diagnostics registry.service >&2
  die "the registry did not answer on http://$probe_host:$registryPort/v2/ within 120s (journal above)"
fi
log "the registry answers on http://$registryDomain:$registryPort/v2/"
