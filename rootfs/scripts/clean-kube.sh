#!/usr/bin/env bash
# clean-kube.sh: undo init-kube.sh from its records: kubelet stopped and disabled, kube binaries, hook scripts, units,
# the sysctl drop-in and /var/lib/kubelet (if init created it and keepData is not true) removed, the limits block
# dropped. Run after `kubeadm reset` (which unmounts the pod volumes under /var/lib/kubelet). The localhost lines of
# /etc/hosts stay: every host needs them.
# Reads: keepData. Records read: kube.*.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

component kube

step "stopping kubelet"
stop_unit kubelet.service

step "removing the limits block"
remove_block "$(host_path /etc/security/limits.conf)"

step "removing what init-kube.sh created"
clean_records || die "some recorded paths could not be removed (see the warnings above)"
reload_if_systemd
log "kube cleaned"
