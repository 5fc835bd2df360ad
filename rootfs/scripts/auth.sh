#!/usr/bin/env bash
# auth.sh [login|logout]: log docker in to (or out of) the cluster registry. The password is read from the environment
# and handed to docker on stdin (--password-stdin), so it is never in any process's argv; the Kubefile label passes
# no argument at all.
#
# docker stores the credentials in ~/.docker/config.json (of the effective user, e.g. /root) or $DOCKER_CONFIG; whether that file existed before is recorded, so logout
# removes it only when login created it.
# Reads: registryDomain, registryPort, registryUsername, registryPassword, DOCKER_CONFIG. Records: auth.*.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

action="${1:-login}"
registryDomain="${registryDomain:-sealos.hub}"
registryPort="${registryPort:-5000}"
registry="$registryDomain:$registryPort"
# The effective user's own home (root's, under sudo), whatever HOME says; exported so docker uses the same file.
home="$(getent passwd "$(id -u)" | cut -d: -f6)"
DOCKER_CONFIG="${DOCKER_CONFIG:-${home:-${HOME:-/root}}/.docker}"
export DOCKER_CONFIG
config_dir="$DOCKER_CONFIG"
component auth

case "$action" in
login)
  step "docker login $registry"
  [[ -n "${registryUsername:-}" ]] || die "registryUsername is empty: set registryUsername"
  [[ -n "${registryPassword:-}" ]] || die "registryPassword is empty: set registryPassword"
  command_exists docker || die "docker is not installed: run init-docker.sh first"
  ensure_dir "$config_dir" 0700
  if [[ ! -e "$config_dir/config.json" ]]; then record_created "$config_dir/config.json"; fi
  if ! printf '%s' "$registryPassword" | docker login --username "$registryUsername" --password-stdin "$registry" >/dev/null; then
    die "docker login to $registry failed: check registryUsername/registryPassword and that $registryDomain resolves to the registry"
  fi
  log "logged in to $registry"
  ;;
logout)
  step "docker logout $registry"
  if command_exists docker; then docker logout "$registry" >/dev/null 2>&1 || warn "docker logout $registry failed"; fi
  clean_records
  log "logged out of $registry"
  ;;
*)
  die "unknown action \"$action\": use 'auth.sh' (login) or 'auth.sh logout'"
  ;;
esac
