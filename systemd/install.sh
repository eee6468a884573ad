#!/usr/bin/env bash
# Installs vigil as a systemd service on Debian 12: the release binary in /usr/local/bin, the unit,
# the sysusers.d and tmpfiles.d entries, /etc/vigil/ (config, models, a fresh ingest token) unless it
# is already there. Run as root from a checkout. Safe to run again: existing config is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
scripts/setup-system
scripts/build --product vigil
install -m 0755 "$(swift build -c release --show-bin-path)/vigil" /usr/local/bin/vigil
install -m 0644 systemd/vigil.service /etc/systemd/system/vigil.service
install -m 0644 systemd/vigil.sysusers /usr/lib/sysusers.d/vigil.conf
install -m 0644 systemd/vigil.tmpfiles /usr/lib/tmpfiles.d/vigil.conf
systemd-sysusers vigil.conf 2>/dev/null || systemd-sysusers
systemd-tmpfiles --create vigil.conf 2>/dev/null || systemd-tmpfiles --create
if [[ ! -f /etc/vigil/vigil.yaml ]]; then
  install -m 0640 -g vigil systemd/etc-vigil/vigil.yaml /etc/vigil/vigil.yaml
fi
if [[ -z "$(ls -A /etc/vigil/models 2>/dev/null)" ]]; then
  install -m 0640 -g vigil Models/*.yaml /etc/vigil/models/
fi
if [[ ! -f /etc/vigil/ingest.token ]]; then
  (umask 0027; head -c 32 /dev/urandom | base64 > /etc/vigil/ingest.token)
  chgrp vigil /etc/vigil/ingest.token
fi
/usr/local/bin/vigil validate --config /etc/vigil/vigil.yaml
systemctl daemon-reload
echo "installed; start with: systemctl enable --now vigil"
