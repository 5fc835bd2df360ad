# shellcheck shell=bash
# common.sh: the helpers every hook script sources. Sourcing it only defines variables and functions; it changes
# nothing on the host.
#
# Why the helpers look the way they do:
#   * Every install records what it created under STATE_DIR (outside the rootfs, so a push of a new tree never touches
#     the records), so the matching clean removes exactly that and restores what the user had before.
#   * Files are only rewritten when their bytes or mode differ, and services are only restarted when something they
#     read changed, so a second run changes nothing.
#   * A failing command names the step it belongs to (STEP) and exits non-zero.
#
# Record files, one absolute path per line, in STATE_DIR:
#   <component>.created  files and symlinks the component created (removed by its clean)
#   <component>.backup   pre-existing files it replaced; the original is kept at STATE_DIR/backup/<path> and restored
#   <component>.dirs     directories it created (removed by its clean when empty, deepest first)
#   <component>.data     data directories it created (removed with their content unless keepData=true)
#   <component>.<fact>   single values a clean needs (e.g. registry.image, docker.user-installed)
#
# Test hook: SEALOS_PROVIDER_HOST_ROOT prefixes every host path the scripts touch (/etc, /proc/sys, /run ...) except
# BIN_DIR, so the unit tests can run the helpers inside a temporary directory. It is empty on real hosts.

# shellcheck disable=SC2034 # these are read by the scripts that source this file
COMMON_SH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
SCRIPTS_DIR="$COMMON_SH_DIR"
ROOTFS="$(dirname "$SCRIPTS_DIR")"
STATE_DIR="${SEALOS_PROVIDER_STATE_DIR:-$(dirname "$ROOTFS")/state}"
BIN_DIR="${BIN_DIR:-/usr/bin}"
HOST_ROOT="${SEALOS_PROVIDER_HOST_ROOT:-}"
SYSTEMD_DIR="$HOST_ROOT/etc/systemd/system"
SCRIPT_NAME="$(basename "${BASH_SOURCE[1]:-${0}}")"
COMPONENT="${COMPONENT:-}"
STEP="starting"
CHANGES=0
# sudo and non-login shells may lack the sbin directories (modprobe, sysctl, ss, ip); BIN_DIR comes first so the
# programs this rootfs installs are the ones found. Tests set SEALOS_PROVIDER_SYSTEM_PATH="" to control PATH fully.
SYSTEM_PATH="${SEALOS_PROVIDER_SYSTEM_PATH-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
PATH="$BIN_DIR:$PATH${SYSTEM_PATH:+:$SYSTEM_PATH}"
export PATH BIN_DIR

# ---------------------------------------------------------------------------------------------------------------------
# Logging. Nothing here ever prints a secret: callers pass messages, never values of registryPassword.

log() { printf '[%s] %s: %s\n' "$SCRIPT_NAME" "$STEP" "$*"; }
warn() { printf '[%s] WARNING %s: %s\n' "$SCRIPT_NAME" "$STEP" "$*" >&2; }
die() {
  printf '[%s] ERROR in step "%s": %s\n' "$SCRIPT_NAME" "$STEP" "$*" >&2
  exit 1
}

# step NAME: names what follows, for log lines and for the error a failing command produces.
step() {
  STEP="$1"
  log "..."
}

# The ERR trap turns any failing command into an error that names the step, the line and the command.
_on_err() {
  local rc="$1" line="$2" cmd="$3"
  printf '[%s] ERROR in step "%s": command failed with exit code %s at line %s: %s\n' \
    "$SCRIPT_NAME" "$STEP" "$rc" "$line" "$cmd" >&2
  exit "$rc"
}
trap '_on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------------------------------------------------
# Values.

# is_true VALUE: true for true/yes/1/on in any case.
is_true() {
  case "${1,,}" in
  true | yes | 1 | on) return 0 ;;
  *) return 1 ;;
  esac
}

# require_path FIELD VALUE: an absolute path without a newline, or a clear error naming the field.
require_path() {
  local field="$1" value="$2"
  [[ -n "$value" ]] || die "$field is empty: set it to an absolute path (e.g. $field=/var/lib/x)"
  [[ "$value" == /* ]] || die "$field=\"$value\" is not an absolute path: set $field to a path starting with /"
  [[ "$value" != *$'\n'* ]] || die "$field contains a newline: choose a path without one"
}

# host_path PATH: PATH as seen through SEALOS_PROVIDER_HOST_ROOT (PATH itself on real hosts).
host_path() { printf '%s%s' "$HOST_ROOT" "$1"; }

command_exists() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------------------------------
# Records.

component() {
  COMPONENT="$1"
  mkdir -p "$STATE_DIR"
  chmod 0700 "$STATE_DIR"
}

record_file() {
  [[ -n "$COMPONENT" ]] || die "internal: component not set before recording"
  printf '%s/%s.%s' "$STATE_DIR" "$COMPONENT" "$1"
}

# record KIND PATH: add PATH to <component>.KIND once.
record() {
  local kind="$1" path="$2" file
  [[ "$path" != *$'\n'* ]] || die "cannot record a path containing a newline"
  file="$(record_file "$kind")"
  mkdir -p "$STATE_DIR"
  if [[ ! -f "$file" ]] || ! grep -Fxq -- "$path" "$file"; then
    printf '%s\n' "$path" >>"$file"
  fi
}

record_created() { record created "$1"; }
record_dir() { record dirs "$1"; }

# is_recorded KIND PATH [COMPONENT|*]: whether PATH is in a record (of any component with '*').
is_recorded() {
  local kind="$1" path="$2" comp="${3:-$COMPONENT}" f
  for f in "$STATE_DIR"/$comp."$kind"; do
    [[ -f "$f" ]] && grep -Fxq -- "$path" "$f" && return 0
  done
  return 1
}

# records KIND: print the paths of <component>.KIND, one per line (nothing if absent).
records() {
  local file
  file="$(record_file "$1")"
  if [[ -f "$file" ]]; then cat -- "$file"; fi
}

# set_fact NAME VALUE / get_fact NAME: single values a later clean needs.
set_fact() { printf '%s\n' "$2" >"$(record_file "$1")"; }
get_fact() {
  local file
  file="$(record_file "$1")"
  if [[ -f "$file" ]]; then head -n 1 -- "$file"; fi
}

# ---------------------------------------------------------------------------------------------------------------------
# Directories and files.

# ensure_dir DIR [MODE]: mkdir -p, recording every level that did not exist (so clean can rmdir them, deepest first).
ensure_dir() {
  local dir="$1" mode="${2:-}" probe missing=()
  probe="$dir"
  while [[ -n "$probe" && "$probe" != "/" && ! -e "$probe" && ! -L "$probe" ]]; do
    missing=("$probe" "${missing[@]}")
    probe="$(dirname "$probe")"
  done
  [[ -d "$dir" ]] || [[ ! -e "$dir" ]] || die "$dir exists and is not a directory"
  local d
  for d in "${missing[@]}"; do
    record_dir "$d"
    mkdir -- "$d"
    if [[ -n "$mode" && "$d" == "$dir" ]]; then chmod "$mode" -- "$d"; fi
  done
}

# ensure_data_dir DIR [MODE]: like ensure_dir, and DIR itself is recorded as data when this call created it.
ensure_data_dir() {
  local dir="$1"
  if [[ ! -e "$dir" && ! -L "$dir" ]]; then
    ensure_dir "$dir" "${2:-}"
    record data "$dir"
  else
    [[ -d "$dir" ]] || die "$dir exists and is not a directory"
  fi
}

# backup_once PATH: keep the user's original of PATH in STATE_DIR/backup (only the first time).
backup_once() {
  local path="$1" saved
  saved="$STATE_DIR/backup$path"
  if [[ ! -e "$saved" && ! -L "$saved" ]]; then
    mkdir -p "$(dirname "$saved")"
    cp -a -- "$path" "$saved"
  fi
  record backup "$path"
}

mode_of() { stat -c '%a' -- "$1"; }
same_mode() { (($((8#$(mode_of "$1"))) == $((8#$2)))); }

# changes_mark / changed_since MARK: did an install_file (or replace_block) change anything after MARK?
changes_mark() { printf '%s' "$CHANGES"; }
changed_since() { ((CHANGES > $1)); }

# install_file SRC DST MODE: put SRC's bytes at DST with MODE. Writes only when bytes or mode differ; a DST that did not
# exist is recorded as created; a DST that the user had is backed up once so clean can restore it. The new content is
# written to a 0600 temporary file next to DST and renamed into place, so a secret is never readable by others. The
# temporary name is ours alone (INSTALL_TMP_TAG), so a copy that a killed run left half-written is removed by the next.
INSTALL_TMP_TAG="sealos-provider-new"
install_file() {
  local src="$1" dst="$2" mode="$3" tmp stale
  [[ -f "$src" ]] || die "missing source file $src (the rootfs is incomplete: push and render the tree again)"
  [[ ! -d "$dst" || -L "$dst" ]] || die "$dst is a directory, expected a file: move it away and run again"
  ensure_dir "$(dirname "$dst")"
  if [[ -e "$dst" || -L "$dst" ]]; then
    if ! is_recorded created "$dst" '*'; then backup_once "$dst"; fi
    if [[ -f "$dst" && ! -L "$dst" ]] && cmp -s -- "$src" "$dst" && same_mode "$dst" "$mode"; then
      return 0
    fi
  else
    record_created "$dst"
  fi
  for stale in "$(dirname "$dst")/.$(basename "$dst").$INSTALL_TMP_TAG."*; do
    if [[ -f "$stale" && ! -L "$stale" ]]; then rm -f -- "$stale"; fi
  done
  tmp="$(mktemp "$(dirname "$dst")/.$(basename "$dst").$INSTALL_TMP_TAG.XXXXXX")"
  cat -- "$src" >"$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$dst"
  CHANGES=$((CHANGES + 1))
  log "installed $dst"
}

# install_content DST MODE: install_file with the content read from stdin.
install_content() {
  local dst="$1" mode="$2" tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  install_file "$tmp" "$dst" "$mode"
  rm -f -- "$tmp"
}

# write_in_place FILE CONTENT_FILE: replace FILE's bytes without replacing its inode (/etc/hosts may be a bind mount).
write_in_place() {
  local file="$1" content="$2"
  if [[ -f "$file" ]] && cmp -s -- "$content" "$file"; then return 0; fi
  cat -- "$content" >"$file"
  CHANGES=$((CHANGES + 1))
  log "updated $file"
}

BLOCK_BEGIN='# >>> sealos-provider managed block: do not edit, replaced on every install >>>'
BLOCK_END='# <<< sealos-provider managed block <<<'

# replace_block FILE CONTENT_FILE: FILE keeps everything outside our marked block; the block becomes CONTENT_FILE.
# Running it again with the same content changes nothing (no appended duplicates).
replace_block() {
  local file="$1" content="$2" tmp
  tmp="$(mktemp)"
  if [[ -f "$file" ]]; then
    awk -v b="$BLOCK_BEGIN" -v e="$BLOCK_END" '$0==b{skip=1;next} $0==e{skip=0;next} !skip' "$file" >"$tmp"
  else
    ensure_dir "$(dirname "$file")"
    record_created "$file"
    : >"$file"
  fi
  {
    printf '%s\n' "$BLOCK_BEGIN"
    grep -v '^[[:space:]]*$' -- "$content" || true
    printf '%s\n' "$BLOCK_END"
  } >>"$tmp"
  write_in_place "$file" "$tmp"
  rm -f -- "$tmp"
}

# remove_block FILE: drop our marked block (if any) from FILE, in place.
remove_block() {
  local file="$1" tmp
  [[ -f "$file" ]] || return 0
  tmp="$(mktemp)"
  awk -v b="$BLOCK_BEGIN" -v e="$BLOCK_END" '$0==b{skip=1;next} $0==e{skip=0;next} !skip' "$file" >"$tmp"
  write_in_place "$file" "$tmp"
  rm -f -- "$tmp"
}

# safe_rm_rf PATH: rm -rf that refuses system directories, relative paths and anything with a mount point below it.
safe_rm_rf() {
  local path="$1" real
  [[ "$path" == /* ]] || die "refusing to remove the relative path $path"
  [[ -e "$path" || -L "$path" ]] || return 0
  real="$(readlink -m -- "$path")"
  case "$real" in
  / | /bin | /boot | /dev | /etc | /home | /lib | /lib64 | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | \
    /usr | /usr/* | /var | /var/lib | /var/run | /var/log | /mnt | /media)
    die "refusing to remove the system directory $path"
    ;;
  esac
  if [[ -L "$path" ]]; then
    rm -f -- "$path"
    return 0
  fi
  if awk -v p="$real/" '{ if (index($5 "/", p) == 1) found=1 } END { exit !found }' /proc/self/mountinfo; then
    warn "not removing $path: something is still mounted below it (unmount it, then run clean again)"
    return 1
  fi
  rm -rf -- "$path"
}

# clean_records [DATA...]: undo what <component> recorded: remove created files, restore backups, remove data dirs
# (unless keepData=true), remove created dirs when empty, then forget the records. Missing paths are fine (a partial
# install, or someone removed them already).
clean_records() {
  local path saved failed=0
  while IFS= read -r path; do
    [[ -n "$path" ]] || continue
    if [[ -d "$path" && ! -L "$path" ]]; then
      warn "$path was recorded as a file but is a directory: left in place"
    else
      rm -f -- "$path"
    fi
  done < <(records created | tac)
  while IFS= read -r path; do
    [[ -n "$path" ]] || continue
    saved="$STATE_DIR/backup$path"
    if [[ -e "$saved" || -L "$saved" ]]; then
      rm -f -- "$path"
      mkdir -p "$(dirname "$path")"
      cp -a -- "$saved" "$path"
      rm -f -- "$saved"
      log "restored the original $path"
    fi
  done < <(records backup)
  while IFS= read -r path; do
    [[ -n "$path" ]] || continue
    if is_true "${keepData:-false}"; then
      log "keeping data directory $path (keepData=true)"
    else
      safe_rm_rf "$path" || failed=1
    fi
  done < <(records data)
  while IFS= read -r path; do
    [[ -n "$path" ]] || continue
    # a kept data directory stays even when nothing was written into it yet (its parents then stay too: not empty)
    if is_true "${keepData:-false}" && is_recorded data "$path"; then continue; fi
    if [[ -d "$path" && ! -L "$path" ]]; then rmdir -- "$path" 2>/dev/null || true; fi
  done < <(records dirs | tac)
  rm -f -- "$(record_file created)" "$(record_file backup)" "$(record_file dirs)"
  # Forget the component (facts included) once everything it recorded is undone; a data dir that could not be removed
  # stays recorded so the next clean tries again.
  if ((failed == 0)); then rm -f -- "$STATE_DIR/$COMPONENT".*; fi
  return "$failed"
}

# ---------------------------------------------------------------------------------------------------------------------
# Archives.

# extract_member ARCHIVE MEMBER DST_FILE: one file out of a tarball (gzip or not), without touching anything else.
extract_member() {
  local archive="$1" member="$2" dst="$3"
  tar -xOf "$archive" -- "$member" >"$dst" 2>/dev/null ||
    tar -xOf "$archive" -- "./$member" >"$dst" ||
    die "$archive has no member $member"
}

# ---------------------------------------------------------------------------------------------------------------------
# Services.

systemd_reload() { systemctl daemon-reload; }

# reload_if_systemd: daemon-reload when systemctl exists (clean scripts tolerate a host without it).
reload_if_systemd() {
  if command_exists systemctl; then systemctl daemon-reload || warn "systemctl daemon-reload failed"; fi
}

unit_active() { systemctl is-active --quiet -- "$1"; }

# converge_unit UNIT CHANGED: enable UNIT, and (re)start it when what it reads changed or it is not running.
converge_unit() {
  local unit="$1" changed="$2"
  systemctl enable -- "$unit" >/dev/null 2>&1 || systemctl enable -- "$unit"
  if [[ "$changed" == true ]] || ! unit_active "$unit"; then
    log "restarting $unit"
    systemctl restart -- "$unit"
  else
    log "$unit is active and unchanged"
  fi
}

# stop_unit UNIT: stop and disable UNIT if systemd knows it; nothing if it does not.
stop_unit() {
  local unit="$1"
  command_exists systemctl || return 0
  if systemctl cat -- "$unit" >/dev/null 2>&1; then
    systemctl stop -- "$unit" 2>/dev/null || warn "could not stop $unit"
    systemctl disable -- "$unit" >/dev/null 2>&1 || true
    systemctl reset-failed -- "$unit" >/dev/null 2>&1 || true
  fi
}

# wait_until SECONDS COMMAND...: poll COMMAND once a second until it succeeds (true) or SECONDS pass (false).
wait_until() {
  local seconds="$1" i
  shift
  for ((i = 0; i < seconds; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

socket_exists() { [[ -S "$1" ]]; }

# unit_diagnostics UNIT: the last journal lines of UNIT, for an error message.
unit_diagnostics() {
  if command_exists journalctl; then journalctl -u "$1" -n 40 --no-pager 2>/dev/null || true; fi
}

# ---------------------------------------------------------------------------------------------------------------------
# Listening ports: only sockets in LISTEN state count (sealos #2686: `lsof -i` also reports connected sockets).

# port_listeners PORT: one line per TCP socket listening on PORT, as "<address> <process names or ?>".
port_listeners() {
  local port="$1"
  if [[ "${SEALOS_PROVIDER_PORT_PROBE:-auto}" != proc ]] && command_exists ss; then
    ss -ltnpH 2>/dev/null | awk -v p="$port" '{
      n = split($4, a, ":"); if (a[n] != p) next
      procs = "?"
      if (match($0, /users:\(\(.*\)\)/)) {
        s = substr($0, RSTART, RLENGTH); procs = ""
        while (match(s, /\("[^"]+"/)) { procs = procs (procs == "" ? "" : ",") substr(s, RSTART + 2, RLENGTH - 3); s = substr(s, RSTART + RLENGTH) }
      }
      print $4, procs }'
    return 0
  fi
  _proc_port_listeners "$port"
}

# The /proc/net/tcp{,6} fallback: state 0A is LISTEN; owners are found through /proc/<pid>/fd socket inodes.
_proc_port_listeners() {
  local port="$1" hex inode addr f pid names
  hex="$(printf '%04X' "$port")"
  while read -r addr inode; do
    names=""
    for f in /proc/[0-9]*/fd/*; do
      if [[ "$(readlink "$f" 2>/dev/null)" == "socket:[$inode]" ]]; then
        pid="${f#/proc/}"
        pid="${pid%%/*}"
        names="${names:+$names,}$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')"
      fi
    done
    printf '%s %s\n' "$addr" "${names:-?}"
  done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { print $2, $10 }' | sort -u)
}

# port_conflicts PORT OURS...: print the listeners on PORT whose processes are not among OURS (name prefixes).
port_conflicts() {
  local port="$1" addr procs p ok name
  shift
  while read -r addr procs; do
    [[ -n "$addr" ]] || continue
    ok=false
    IFS=, read -r -a names <<<"$procs"
    for name in "${names[@]}"; do
      for p in "$@"; do
        if [[ "$name" == "$p"* ]]; then ok=true; fi
      done
    done
    if [[ "$ok" != true ]]; then printf '%s %s\n' "$addr" "$procs"; fi
  done < <(port_listeners "$port")
}

# ---------------------------------------------------------------------------------------------------------------------
# Kernel features: tested, not assumed. A failing modprobe is fine when the feature is built into the kernel.

# feature_present MODULE: whether what MODULE provides is available (loaded, built in, or visible in /proc or /sys).
feature_present() {
  local m="$1"
  case "$m" in
  br_netfilter) [[ -e "$(host_path /proc/sys/net/bridge/bridge-nf-call-iptables)" ]] ;;
  bridge) [[ -e "$(host_path /sys/module/bridge)" || -e "$(host_path /proc/sys/net/bridge)" ]] ;;
  overlay) grep -qw overlay "$(host_path /proc/filesystems)" 2>/dev/null ;;
  nf_conntrack) [[ -e "$(host_path /proc/sys/net/netfilter/nf_conntrack_max)" ]] ;;
  ip_vs) [[ -e "$(host_path /proc/net/ip_vs)" || -e "$(host_path /sys/module/ip_vs)" ]] ;;
  *) [[ -e "$(host_path "/sys/module/$m")" ]] ;;
  esac
}

# ensure_feature MODULE: modprobe MODULE unless present; true when the feature is there afterwards.
ensure_feature() {
  local m="$1"
  feature_present "$m" && return 0
  modprobe -- "$m" >/dev/null 2>&1 || true
  feature_present "$m"
}

# sysctl_key_exists KEY: the kernel knows KEY (net.ipv4.ip_forward -> /proc/sys/net/ipv4/ip_forward).
sysctl_key_exists() { [[ -e "$(host_path "/proc/sys/${1//.//}")" ]]; }

# render_sysctl SRC...: print the "key = value" lines of SRC files whose keys this kernel has, sorted and unique.
render_sysctl() {
  local line key value
  cat -- "$@" | while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%#*}"
    [[ "$line" == *=* ]] || continue
    key="${line%%=*}"
    value="${line#*=}"
    key="$(printf '%s' "$key" | tr -d '[:space:]')"
    value="$(printf '%s' "$value" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
    [[ -n "$key" ]] || continue
    if sysctl_key_exists "$key"; then
      printf '%s = %s\n' "$key" "$value"
    else
      printf '# %s is not supported by this kernel: skipped\n' "$key" >&2
    fi
  done | sort -u
}

# apply_sysctl_file FILE: apply FILE's keys one by one; a key the kernel refuses (read-only /proc/sys in a container)
# is a warning, not a failure.
apply_sysctl_file() {
  local file="$1" line key value
  [[ -f "$file" ]] || return 0
  while IFS= read -r line; do
    [[ "$line" == *=* && "$line" != \#* ]] || continue
    key="${line%% =*}"
    value="${line#*= }"
    if ! sysctl -q -w "$key=$value" >/dev/null 2>&1; then
      warn "could not set $key=$value (read-only or refused by the kernel): kubeadm preflight will report it if it matters"
    fi
  done <"$file"
}

# ---------------------------------------------------------------------------------------------------------------------
# HTTP probe of the registry: curl when present, bash's /dev/tcp otherwise.

# http_status HOST PORT PATH: print the HTTP status code of GET http://HOST:PORT/PATH (000 when unreachable).
http_status() {
  local host="$1" port="$2" path="$3" line code
  if command_exists curl; then
    curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$host:$port$path" || true
    return 0
  fi
  if ! exec 3<>"/dev/tcp/$host/$port" 2>/dev/null; then
    printf '000'
    return 0
  fi
  printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$path" "$host" "$port" >&3
  IFS= read -r -t 5 line <&3 || line=""
  exec 3<&- 3>&-
  code="$(printf '%s' "$line" | awk '{print $2}')"
  printf '%s' "${code:-000}"
}
