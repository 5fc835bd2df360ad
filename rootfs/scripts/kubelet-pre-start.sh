#!/usr/bin/env bash
# kubelet-pre-start.sh: kubelet's ExecStartPre (also run by init-kube.sh). Installed into BIN_DIR, so it stands alone
# (no common.sh). Everything here is tolerant: a kernel feature that is built in needs no module, a read-only sysctl key
# (containers) is reported, not fatal.
set -Eeuo pipefail

HOST_ROOT="${SEALOS_PROVIDER_HOST_ROOT:-}"
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

warn() { printf '[kubelet-pre-start.sh] WARNING: %s\n' "$*" >&2; }

# present FEATURE: whether the kernel provides FEATURE now (as a loaded module or built in).
present() {
  case "$1" in
  br_netfilter) [[ -e "$HOST_ROOT/proc/sys/net/bridge/bridge-nf-call-iptables" ]] ;;
  bridge) [[ -e "$HOST_ROOT/sys/module/bridge" || -e "$HOST_ROOT/proc/sys/net/bridge" ]] ;;
  overlay) grep -qw overlay "$HOST_ROOT/proc/filesystems" 2>/dev/null ;;
  nf_conntrack) [[ -e "$HOST_ROOT/proc/sys/net/netfilter/nf_conntrack_max" ]] ;;
  ip_vs) [[ -e "$HOST_ROOT/proc/net/ip_vs" || -e "$HOST_ROOT/sys/module/ip_vs" ]] ;;
  *) [[ -e "$HOST_ROOT/sys/module/$1" ]] ;;
  esac
}

for feature in overlay bridge br_netfilter nf_conntrack ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh; do
  present "$feature" && continue
  modprobe -- "$feature" >/dev/null 2>&1 || true
  if [[ "$feature" == nf_conntrack ]] && ! present "$feature"; then
    modprobe -- nf_conntrack_ipv4 >/dev/null 2>&1 || true
  fi
  present "$feature" || warn "kernel feature $feature is missing: modprobe failed and it is not built in"
done

if command -v sysctl >/dev/null 2>&1; then
  if ! out="$(sysctl --system 2>&1 >/dev/null)"; then
    warn "some sysctl settings could not be applied (read-only /proc/sys?): $(printf '%s' "$out" | tr '\n' ' ')"
  fi
fi

if [[ -r "$HOST_ROOT/proc/swaps" ]] && (($(wc -l <"$HOST_ROOT/proc/swaps") > 1)); then
  swapoff -a || warn "swapoff failed: kubelet refuses to start with swap on unless configured to allow it"
fi

if command -v getenforce >/dev/null 2>&1 && [[ "$(getenforce 2>/dev/null)" == Enforcing ]]; then
  setenforce 0 || warn "setenforce 0 failed"
  if [[ -f "$HOST_ROOT/etc/selinux/config" ]]; then
    sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' "$HOST_ROOT/etc/selinux/config" || warn "could not edit /etc/selinux/config"
  fi
fi
exit 0
