#!/usr/bin/env bash
# A real single-node SLURM for the cluster tests (Debian's slurm-wlm, munge, no accounting
# database), run as root without systemd.
#   .ci/slurm.sh up     install the packages if needed, (re)start the daemons, wait until idle
#   .ci/slurm.sh down   stop the daemons this script started, and only those
# The node advertises NODE_CPUS CPUs (default 16), NODE_MEM MB (default 131072) and
# NODE_GPUS fake GPUs (default 2, gres backed by character devices), so that it looks like
# an ordinary GPU node; SELECT_TYPE=select/cons_res makes it an old scheduler that refuses
# --gpus. State lives in $SLURM_RUN_DIR (default /var/spool/ganprint-slurm).
set -euo pipefail
RUN=${SLURM_RUN_DIR:-/var/spool/ganprint-slurm}
NODE_CPUS=${NODE_CPUS:-16}
NODE_MEM=${NODE_MEM:-131072}
NODE_GPUS=${NODE_GPUS:-2}
SELECT_TYPE=${SELECT_TYPE:-select/cons_tres}
HOST=$(hostname -s)

stop_started() {
  for name in "$@"; do
    local file="$RUN/$name.pid"
    if [ -s "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null; then
      local pid
      pid=$(cat "$file")
      kill "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -f "$file"
  done
}

install_packages() {
  command -v slurmctld >/dev/null && return
  [ "$(id -u)" = 0 ] || { echo "slurm.sh: installing SLURM needs root" >&2; return 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurm-wlm slurmctld slurmd slurm-client munge >/dev/null
}

write_config() {
  mkdir -p "$RUN"/{state,spool,log} /etc/slurm
  # the job step of the Snakemake plugin drops SLURM_CONF: the file must be at the built-in path
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ganprint-ci
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$RUN/state
SlurmdSpoolDir=$RUN/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$RUN/log/slurmctld.log
SlurmdLogFile=$RUN/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=$SELECT_TYPE
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=1800
GresTypes=gpu
NodeName=$HOST CPUs=$NODE_CPUS RealMemory=$NODE_MEM Gres=gpu:$NODE_GPUS State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  local devices=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty)
  : > /etc/slurm/gres.conf
  for i in $(seq 0 $((NODE_GPUS - 1))); do
    echo "NodeName=$HOST Name=gpu File=${devices[$i]} Count=1" >> /etc/slurm/gres.conf
  done
}

start_munge() {
  mkdir -p /run/munge && chown munge:munge /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --force && chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  pgrep -x munged >/dev/null && return
  runuser -u munge -- /usr/sbin/munged
  pgrep -x munged -n > "$RUN/munged.pid"
}

case "${1:-}" in
  up)
    install_packages
    mkdir -p "$RUN"
    stop_started slurmd slurmctld
    write_config
    start_munge
    slurmctld -c  # fresh state: a changed SelectType cannot read the old one
    slurmd
    for _ in $(seq 1 60); do sinfo -h -o %t 2>/dev/null | grep -qx idle && break; sleep 0.5; done
    sinfo -h -o %t | grep -qx idle || { echo "slurm.sh: the node did not come up; see $RUN/log" >&2; exit 1; }
    sinfo
    ;;
  down)
    stop_started slurmd slurmctld munged
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
