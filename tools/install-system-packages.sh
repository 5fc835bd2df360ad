#!/usr/bin/env bash
# Install the Debian packages the demo and the tests need, only those missing. Safe to repeat; needs root.
set -Eeuo pipefail
packages=(
  docker.io          # the Docker engine that runs the node containers (and whose binaries fill cri/docker.tgz)
  mmdebstrap         # builds the node image from Debian packages
  openssh-server     # sshd for the SSH layer's tests
  openssh-client     # ssh, ssh-keygen, ssh-agent
  shellcheck         # lints the rootfs scripts
  docker-registry    # the distribution registry packed as images/registry.tar
  conntrack lsof     # rootfs slots bin/conntrack and opt/lsof
  apache2-utils      # htpasswd, to cross-check our bcrypt lines
  sudo curl iproute2 ca-certificates git make
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-system-packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-system-packages: all present"
fi
