#!/usr/bin/env bash
# clean-registry.sh [registryData] [registryConfig]: undo init-registry.sh from its records: stop and remove the unit,
# the container and the image it loaded, the config files it wrote, and registryData only if init created it and
# keepData is not true. A user's pre-existing directories and files stay.
# Reads: keepData. Records read: registry.*.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

registryData="${1:-${registryData:-/var/lib/registry}}"
component registry

step "stopping registry.service"
stop_unit registry.service

step "removing the registry container and image"
if command_exists docker && docker info >/dev/null 2>&1; then
  if docker container inspect sealos-registry >/dev/null 2>&1; then docker rm -f sealos-registry >/dev/null; fi
  image="$(get_fact image)"
  if [[ -n "$image" ]] && docker image inspect "$image" >/dev/null 2>&1; then
    docker rmi "$image" >/dev/null || warn "could not remove the image $image (in use?)"
  fi
else
  log "docker is not running: no container or image to remove"
fi

step "removing what init-registry.sh created (registryData=$registryData)"
clean_records || die "some recorded paths could not be removed (see the warnings above)"
reload_if_systemd
log "registry cleaned"
