#!/usr/bin/env bash
# The Debian packages `make demo` and `make test` need, installed when we are root and missing.
# Not root: one line naming the exact command, and exit 1 before anything slow starts.
#   usage: devtools/system-packages.sh demo|test|e2e
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v python3.11 >/dev/null 2>&1 || need+=(python3.11 python3.11-venv)
if [ "${1:-test}" = test ] || [ "${1:-test}" = e2e ]; then
  # Real journal files for the journald suites; etcd behind the Kubernetes API server suites.
  command -v journalctl >/dev/null 2>&1 || need+=(systemd)
  [ -x /lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
  command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
  # TLS and credentials in front of Elasticsearch for the security suites.
  command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
fi
if [ "${1:-test}" = e2e ]; then
  # The one-node cluster: container runtime, CNI plugins, and gcc for the sandbox image.
  command -v containerd >/dev/null 2>&1 || need+=(containerd)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
fi
# The compiled core is Rust (native/); LOGWAX_NATIVE=0 runs the Python path without it.
if [ "${LOGWAX_NATIVE:-1}" != 0 ] && ! command -v cargo >/dev/null 2>&1; then
  echo "missing Rust's cargo for the compiled core: install it (https://rustup.rs), or set LOGWAX_NATIVE=0" >&2
  exit 1
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages; run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
