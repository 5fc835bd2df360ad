#!/usr/bin/env bash
# kubelet-post-stop.sh: kubelet's ExecStopPost. Nothing needs cleaning after kubelet stops (cri-dockerd owns its
# socket); it only leaves a line in the journal. Installed into BIN_DIR, so it stands alone.
set -Eeuo pipefail
printf '[kubelet-post-stop.sh] kubelet stopped at %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
