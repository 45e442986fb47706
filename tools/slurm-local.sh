#!/usr/bin/env bash
# A private single-node SLURM on this machine (munge + slurmctld + slurmd), for testing the job
# scripts in jobs/. Run as root.
#   tools/slurm-local.sh start    install slurm-wlm/munge if missing (tools/install-deps.sh --slurm),
#                                 write the config, start the daemons, wait until the node is idle
#   tools/slurm-local.sh stop     cancel every job, stop the daemons; nothing of ours keeps running
#   tools/slurm-local.sh status   print whether it is up; exit 0 if up, 1 if not
#   tools/slurm-local.sh env      print the line to eval:  eval "$(tools/slurm-local.sh env)"
# Everything lives under RLMPI_SLURM_DIR (default /tmp/rlmpi-slurm): slurm.conf, munge key and
# socket, state, spool, logs (log/). It does not touch /etc/slurm or a system munged; client
# commands (sbatch, squeue, scontrol ...) find this cluster through SLURM_CONF=<dir>/slurm.conf.
# Settings (environment): RLMPI_SLURM_CPUS (CPUs of the node; default max(nproc, 4) so 4-task
# jobs fit on a 2-core machine: slurm then oversubscribes the cores), RLMPI_SLURM_PORT (slurmctld
# port, default 16817; slurmd uses the next one), RLMPI_SLURM_CRED_EXPIRE (seconds, default 10:
# a requeued job may start again that long after its requeue; slurm's default is 120).
# start and stop are idempotent.
set -euo pipefail

D=${RLMPI_SLURM_DIR:-/tmp/rlmpi-slurm}
CONF=$D/slurm.conf
PORT=${RLMPI_SLURM_PORT:-16817}
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
export SLURM_CONF=$CONF

log() { echo "slurm-local: $*" >&2; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

pid_alive() {  # pid_alive FILE -> true if the pid in FILE runs
  local p
  [[ -s $1 ]] || return 1
  p=$(<"$1")
  [[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null
}

# Processes started from our daemons carry RLMPI_SLURM_LOCAL=$D in their environment (slurmd
# passes its environment to slurmstepd). Lists their pids, never matching by program name.
our_pids() {
  local e p
  for e in /proc/[0-9]*/environ; do
    p=${e#/proc/}; p=${p%/environ}
    [[ $p == "$$" || $p == "$BASHPID" ]] && continue
    if grep -qazxF "RLMPI_SLURM_LOCAL=$D" "$e" 2>/dev/null; then echo "$p"; fi
  done
}

node_name() { hostname -s; }

ping_ok() {  # slurmctld answers and the node is registered (not down / not responding)
  local st
  timeout 10 scontrol ping >/dev/null 2>&1 || return 1
  st=$(timeout 10 sinfo -h -N -n "$(node_name)" -o %T 2>/dev/null | head -n1) || return 1
  [[ -n $st && $st != *down* && $st != *drain* && $st != *unknown* && $st != *\** && $st != *fail* ]]
}

is_up() {
  pid_alive "$D/munged.pid" && pid_alive "$D/slurmctld.pid" && pid_alive "$D/slurmd.pid" && ping_ok
}

write_config() {
  local host cpus mem
  host=$(node_name)
  cpus=${RLMPI_SLURM_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}
  mem=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
  mkdir -p "$D"/{munge,state,spool,log}
  chmod 0700 "$D/munge"
  : >"$D/plugstack.conf"
  cat >"$CONF.new" <<EOF
# Written by tools/slurm-local.sh: a private single-node cluster for testing rlmpi's job scripts.
ClusterName=rlmpilocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$D/munge/munge.socket,cred_expire=${RLMPI_SLURM_CRED_EXPIRE:-10}
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
PlugStackConfig=$D/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.new" "$CONF"
  # cgroup.conf next to slurm.conf is read by some plugins even when cgroups are not used.
  printf 'CgroupPlugin=autodetect\nIgnoreSystemd=yes\n' >"$D/cgroup.conf"
}

start_munge() {
  pid_alive "$D/munged.pid" && return 0
  if [[ ! -s $D/munge/munge.key ]]; then
    if [[ -s /etc/munge/munge.key ]]; then cp /etc/munge/munge.key "$D/munge/munge.key"
    else dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none; fi
  fi
  chmod 0400 "$D/munge/munge.key"
  rm -f "$D/munge/munge.socket" "$D/munge/munge.socket.lock"
  RLMPI_SLURM_LOCAL=$D munged --force --socket="$D/munge/munge.socket" \
    --key-file="$D/munge/munge.key" --pid-file="$D/munged.pid" \
    --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed" 9>&- \
    || die "munged did not start (see $D/log/munged.log)"
  for _ in $(seq 50); do [[ -S $D/munge/munge.socket ]] && return 0; sleep 0.1; done
  die "munged socket $D/munge/munge.socket did not appear (see $D/log/munged.log)"
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "run as root (slurmd must run as root)"
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
      || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    log "slurm or munge missing: running tools/install-deps.sh --slurm"
    "$SRC_DIR/tools/install-deps.sh" --slurm </dev/null >&2 || die "installing slurm-wlm munge failed"
  fi
  if is_up; then
    log "already up ($D)"
    echo "export SLURM_CONF=$CONF"
    return 0
  fi
  # Half-up (a daemon died): restart the slurm daemons from our config.
  if ! pid_alive "$D/slurmctld.pid" && ! pid_alive "$D/slurmd.pid"; then write_config; fi
  [[ -s $CONF ]] || write_config
  start_munge
  if ! pid_alive "$D/slurmctld.pid"; then
    RLMPI_SLURM_LOCAL=$D slurmctld -f "$CONF" 9>&- || die "slurmctld did not start (see $D/log/slurmctld.log)"
  fi
  if ! pid_alive "$D/slurmd.pid"; then
    RLMPI_SLURM_LOCAL=$D slurmd -f "$CONF" -N "$(node_name)" 9>&- || die "slurmd did not start (see $D/log/slurmd.log)"
  fi
  local t
  for t in $(seq 60); do
    if is_up; then
      log "up: node $(node_name), $(sinfo -h -N -o '%c CPUs, %T' | head -n1), config $CONF"
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    # A node left DOWN by an earlier unclean stop comes back with RESUME.
    if (( t % 5 == 0 )) && pid_alive "$D/slurmd.pid"; then
      scontrol update NodeName="$(node_name)" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.5
  done
  log "slurmctld log tail:"; tail -n 15 "$D/log/slurmctld.log" >&2 2>/dev/null || true
  log "slurmd log tail:"; tail -n 15 "$D/log/slurmd.log" >&2 2>/dev/null || true
  die "the node did not come up within 30 s"
}

stop_pidfile() {  # stop_pidfile FILE NAME
  local p
  pid_alive "$1" || { rm -f "$1"; return 0; }
  p=$(<"$1")
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || { rm -f "$1"; return 0; }; sleep 0.1; done
  log "$2 (pid $p) ignored SIGTERM for 10 s: SIGKILL"
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$1"
}

cmd_stop() {
  if [[ -s $CONF ]] && pid_alive "$D/slurmctld.pid"; then
    # Cancel every job so the step daemons and job processes end through slurm.
    timeout 10 scancel --quiet --full --user=root >/dev/null 2>&1 || true
    for _ in $(seq 30); do
      [[ -z $(timeout 5 squeue -h -t R,CG,S -o %i 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
  stop_pidfile "$D/slurmd.pid" slurmd
  stop_pidfile "$D/slurmctld.pid" slurmctld
  stop_pidfile "$D/munged.pid" munged
  # Anything of ours still alive (a slurmstepd orphaned by a killed slurmd): by pid.
  local left p
  left=$(our_pids)
  if [[ -n $left ]]; then
    log "killing leftover processes: $(echo $left)"
    for p in $left; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in $(our_pids); do kill -KILL "$p" 2>/dev/null || true; done
  fi
  log "stopped"
}

cmd_status() {
  local m c s
  pid_alive "$D/munged.pid" && m=running || m=stopped
  pid_alive "$D/slurmctld.pid" && c=running || c=stopped
  pid_alive "$D/slurmd.pid" && s=running || s=stopped
  if is_up; then
    echo "slurm-local: up ($D; munged $m, slurmctld $c, slurmd $s; SLURM_CONF=$CONF)"
    sinfo -N -o '%N %c %T' 2>/dev/null || true
    return 0
  fi
  echo "slurm-local: down ($D; munged $m, slurmctld $c, slurmd $s)"
  return 1
}

locked() {  # one start/stop at a time (CTest runs tests in parallel)
  mkdir -p "$D"
  exec 9>"$D/.lock"
  flock -w 120 9 || die "another slurm-local.sh holds $D/.lock for 120 s"
  "$@"
}

case "${1:-}" in
  start) locked cmd_start ;;
  stop) locked cmd_stop ;;
  status) cmd_status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  -h|--help|help) sed -n 2,15p "$0" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
