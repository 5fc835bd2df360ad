#!/usr/bin/env bash
# init-kube.sh: prepare the host for kubeadm: kernel settings, limits, kube binaries, the kubelet unit and drop-in.
#
# Idempotent: sysctl settings go to one drop-in (only keys this kernel has) and limits to one marked block, both
# replaced rather than appended; /etc/hosts is edited in place (it may be a bind mount). kubelet is enabled, not
# started: kubeadm starts it.
# Reads: registryDomain, registryPort, sandboxImage, SEALOS_SYS_IMAGE_ENDPOINT, BIN_DIR.
# Records: kube.{created,backup,dirs,data}.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

registryDomain="${registryDomain:-sealos.hub}"
registryPort="${registryPort:-5000}"
sandboxImage="${sandboxImage:-}"
shim_socket="${SEALOS_SYS_IMAGE_ENDPOINT:-/var/run/image-cri-shim.sock}"
component kube

# ensure_hosts_line ADDRESS: /etc/hosts maps ADDRESS to localhost (appended in place when missing).
ensure_hosts_line() {
  local address="$1" hosts
  hosts="$(host_path /etc/hosts)"
  [[ -e "$hosts" ]] || : >"$hosts"
  if awk -v a="$address" '$1 == a { for (i = 2; i <= NF; i++) if ($i == "localhost") f = 1 } END { exit !f }' "$hosts"; then
    return 0
  fi
  if [[ -s "$hosts" && -n "$(tail -c 1 "$hosts")" ]]; then printf '\n' >>"$hosts"; fi
  printf '%s localhost\n' "$address" >>"$hosts"
  CHANGES=$((CHANGES + 1))
  log "added '$address localhost' to /etc/hosts"
}

step "localhost entries in /etc/hosts"
ensure_hosts_line 127.0.0.1
ensure_hosts_line ::1

step "installing the kubelet hook scripts"
mark="$(changes_mark)"
install_file "$SCRIPTS_DIR/kubelet-pre-start.sh" "$BIN_DIR/kubelet-pre-start.sh" 0755
install_file "$SCRIPTS_DIR/kubelet-post-stop.sh" "$BIN_DIR/kubelet-post-stop.sh" 0755

step "kernel modules, swap and SELinux (kubelet-pre-start.sh)"
bash "$BIN_DIR/kubelet-pre-start.sh"

step "kernel settings (sysctl drop-in)"
sysctl_sources=("$ROOTFS"/etc/sysctl.d/*.conf)
if [[ -f "${sysctl_sources[0]}" ]]; then
  rendered="$(mktemp)"
  {
    printf '# Written by sealos-provider init-kube.sh from rootfs/etc/sysctl.d: only keys this kernel has.\n'
    render_sysctl "${sysctl_sources[@]}" 2>/dev/null
  } >"$rendered"
  dropin="$(host_path /etc/sysctl.d/99-sealos-provider.conf)"
  install_file "$rendered" "$dropin" 0644
  rm -f -- "$rendered"
  apply_sysctl_file "$dropin"
fi

step "process limits (marked block in /etc/security/limits.conf)"
limits_sources=("$ROOTFS"/etc/limits.d/*.conf)
if [[ -f "${limits_sources[0]}" ]]; then
  limits="$(mktemp)"
  grep -hv '^[[:space:]]*#' -- "${limits_sources[@]}" >"$limits" || true
  replace_block "$(host_path /etc/security/limits.conf)" "$limits"
  rm -f -- "$limits"
fi

step "installing kubeadm, kubectl, kubelet"
for bin in kubeadm kubectl kubelet; do
  [[ -f "$ROOTFS/bin/$bin" ]] || die "$ROOTFS/bin/$bin is missing: fill the rootfs artifact slot bin/$bin"
  install_file "$ROOTFS/bin/$bin" "$BIN_DIR/$bin" 0755
done

step "installing conntrack"
if [[ -e "$BIN_DIR/conntrack" ]] && ! is_recorded created "$BIN_DIR/conntrack" '*'; then
  log "keeping the existing $BIN_DIR/conntrack"
elif [[ -f "$ROOTFS/bin/conntrack" ]]; then
  install_file "$ROOTFS/bin/conntrack" "$BIN_DIR/conntrack" 0755
elif command_exists conntrack; then
  log "using the host's $(command -v conntrack)"
else
  warn "no conntrack in the rootfs (bin/conntrack) nor on the host: kubeadm preflight will fail until one is installed"
fi

step "installing the kubelet unit and drop-in"
unit_mark="$(changes_mark)"
install_file "$ROOTFS/etc/kubelet.service" "$SYSTEMD_DIR/kubelet.service" 0644
install_file "$ROOTFS/etc/10-kubeadm.conf" "$SYSTEMD_DIR/kubelet.service.d/10-kubeadm.conf" 0644
install_file "$ROOTFS/etc/kubelet-flags.env" "$SYSTEMD_DIR/kubelet.service.d/kubelet-flags.env" 0644
ensure_data_dir "$(host_path /var/lib/kubelet)" 0700
if changed_since "$unit_mark"; then systemd_reload; fi

step "pre-pulling the sandbox image"
if [[ -z "$sandboxImage" ]]; then
  warn "sandboxImage is not set: not pre-pulling the pause image"
else
  image="$registryDomain:$registryPort/$sandboxImage"
  if command_exists crictl && out="$(crictl --image-endpoint "unix://$shim_socket" --timeout 5m pull "$image" 2>&1)"; then
    log "pulled $image"
  else
    warn "could not pre-pull the sandbox image $image through image-cri-shim ($shim_socket): ${out:-crictl not found}"
  fi
fi

step "enabling kubelet"
systemctl enable kubelet.service >/dev/null 2>&1 || systemctl enable kubelet.service
if changed_since "$mark" && unit_active kubelet.service; then
  log "kubelet is running and its binaries or configuration changed: restarting it"
  systemctl restart kubelet.service
fi
log "kubelet is installed and enabled (kubeadm starts it)"
