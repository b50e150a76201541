#!/usr/bin/env bash
# Starts a local PostgreSQL for the tests: the Debian cluster if there is one,
# else a new one; listens on 127.0.0.1:5432 with trust auth for loopback.
set -euo pipefail
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  $sudo_cmd pg_createcluster "$version" main >/dev/null
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  # Loopback trust for the test user, ahead of the packaged rules.
  $sudo_cmd sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
$sudo_cmd pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
  $sudo_cmd pg_ctlcluster --skip-systemctl-redirect "$version" main reload
for _ in $(seq 1 30); do
  psql -h 127.0.0.1 -U postgres -Atc 'select 1' >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
