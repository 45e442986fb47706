#!/usr/bin/env bash
# Several MPI "nodes" on one machine: network namespaces joined by a private bridge, and an
# Open MPI launch agent that starts the remote daemons inside them. Run as root.
#   tools/netns-cluster.sh up N          make nodes n0..n(N-1) (N <= 250) with addresses
#                                        198.18.0.1 .. 198.18.0.N (/24) and a hub namespace
#                                        holding the bridge; fails if the cluster exists
#   tools/netns-cluster.sh down          kill every process in the cluster's namespaces and
#                                        delete them (their veth links go with them); idempotent
#   tools/netns-cluster.sh status        list the nodes (namespace, address); exit 1 if none
#   tools/netns-cluster.sh hosts [S]     print the --host list, S slots per node (default 1)
#   tools/netns-cluster.sh exec I CMD..  run CMD inside node I
#   tools/netns-cluster.sh mpirun ARGS.. run mpirun inside node n0 with the launch agent and
#                                        both transports restricted to the cluster network;
#                                        adds --host (RLMPI_NETNS_SLOTS slots per node,
#                                        default 1) and --mca btl tcp,self unless ARGS set them;
#                                        the mpirun is $RLMPI_NETNS_MPIRUN (default: from PATH)
#   tools/netns-cluster.sh agent [SSH-OPTIONS] HOST CMD..
#                                        the plm_rsh_agent Open MPI calls: runs CMD (joined
#                                        by spaces, as ssh does) in the namespace of HOST
# Example:  tools/netns-cluster.sh up 2
#           RLMPI_NETNS_SLOTS=2 tools/netns-cluster.sh mpirun -n 4 --oversubscribe build/rlmpi ...
#           tools/netns-cluster.sh down
# Namespaces are named $RLMPI_NETNS_PREFIX-hub and $RLMPI_NETNS_PREFIX-n<I> (prefix default
# "rlmpi-nc"; several clusters with different prefixes can coexist, each on its own isolated
# 198.18.0.0/24). Nothing is created in the host's own network namespace and no address outside
# 198.18.0.0/15 (reserved for network benchmarks) is used. All nodes share the file system, so
# binaries and run directories are reached by the same absolute paths everywhere. Processes
# started by `exec`, `mpirun` and `agent` keep the caller's environment (PATH, OMPI_*).
# Exit codes: 0 ok, 1 error, 2 usage, 3 namespaces cannot be made here (not root, no `ip`,
# or `ip netns add` refused).
set -euo pipefail

PREFIX=${RLMPI_NETNS_PREFIX:-rlmpi-nc}
NET=198.18.0
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "netns-cluster: error: $1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

[[ $PREFIX =~ ^[A-Za-z0-9_.-]+$ ]] || die "RLMPI_NETNS_PREFIX may hold only letters, digits, '_', '.', '-'" 2

# The cluster's namespaces, and no other: exactly PREFIX-hub and PREFIX-n<digits>.
our_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX//./\\.}-(hub|n[0-9]+)\$" || true
}

nodes() { our_namespaces | sed -n 's/^.*-n\([0-9]*\)$/\1 &/p' | sort -n | cut -d' ' -f2; }

node_count() { nodes | wc -l; }

kill_our_processes() {  # TERM first; KILL whatever is still there half a second later
  local sig ns pids
  for sig in TERM KILL; do
    pids=()
    for ns in $(our_namespaces); do
      mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null | grep -vx "$$")
    done
    ((${#pids[@]})) || return 0
    kill "-$sig" "${pids[@]}" 2>/dev/null || true
    [[ $sig == KILL ]] || sleep 0.5
  done
}

cmd_down() {
  local ns
  kill_our_processes
  for ns in $(our_namespaces); do
    ip netns del "$ns" 2>/dev/null || echo "netns-cluster: could not delete namespace $ns" >&2
  done
  [[ -z $(our_namespaces) ]] || die "namespaces left: $(our_namespaces | tr '\n' ' ')"
}

cmd_up() {
  local n=${1:-} i hub=$PREFIX-hub ns
  [[ $n =~ ^[0-9]+$ ]] || n=0
  ((n >= 1 && n <= 250)) || die "up needs a node count 1..250" 2
  [[ $(id -u) == 0 ]] || die "network namespaces need root (running as uid $(id -u))" 3
  command -v ip >/dev/null || die "the 'ip' command (iproute2) is not installed" 3
  [[ -z $(our_namespaces) ]] || die "cluster '$PREFIX' exists already; run 'down' first"
  ip netns add "$hub" 2>/dev/null || die "'ip netns add $hub' failed: network namespaces are not available here" 3
  trap 'cmd_down 2>/dev/null; die "could not build the cluster; removed what was made"' ERR
  ip -n "$hub" link add br0 type bridge
  ip -n "$hub" link set br0 up
  for ((i = 0; i < n; i++)); do
    ns=$PREFIX-n$i
    ip netns add "$ns"
    # Both ends are created inside our namespaces: the host's interface list never changes.
    ip -n "$hub" link add "v$i" type veth peer name eth0 netns "$ns"
    ip -n "$hub" link set "v$i" master br0 up
    ip -n "$ns" addr add "$NET.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  trap - ERR
  cmd_status
}

cmd_status() {
  local ns found=1
  for ns in $(nodes); do
    echo "$ns $NET.$((${ns##*-n} + 1))"
    found=0
  done
  return $found
}

cmd_hosts() {
  local slots=${1:-1} n i list=
  [[ $slots =~ ^[1-9][0-9]*$ ]] || die "hosts needs a positive slot count" 2
  n=$(node_count)
  ((n > 0)) || die "cluster '$PREFIX' is not up"
  for ((i = 1; i <= n; i++)); do list+=${list:+,}$NET.$i:$slots; done
  echo "$list"
}

cmd_exec() {
  local i=${1:-}
  [[ $i =~ ^[0-9]+$ && $# -ge 2 ]] || die "exec needs a node number and a command" 2
  shift
  ip netns list | awk '{print $1}' | grep -qx "$PREFIX-n$i" || die "node $PREFIX-n$i does not exist"
  exec ip netns exec "$PREFIX-n$i" "$@"
}

has_arg() {  # has_arg PATTERN ARGS.. -> true if one of ARGS matches the extended regex PATTERN
  local p=$1 a
  shift
  for a in "$@"; do [[ $a =~ $p ]] && return 0; done
  return 1
}

has_mca() {  # has_mca NAME ARGS.. -> true if ARGS hold "--mca NAME" (or -mca / --gmca)
  local name=$1 prev='' a
  shift
  for a in "$@"; do
    [[ $a == "$name" && $prev =~ ^--?g?mca$ ]] && return 0
    prev=$a
  done
  return 1
}

cmd_mpirun() {
  local extra=()
  [[ $SELF != *" "* ]] || die "the path of this script must not contain spaces (Open MPI splits the agent at spaces)"
  (($(node_count) > 0)) || die "cluster '$PREFIX' is not up"
  has_arg '^--?(H|host|hostfile|machinefile|default-hostfile)$' "$@" || extra+=(--host "$(cmd_hosts "${RLMPI_NETNS_SLOTS:-1}")")
  has_mca btl "$@" || extra+=(--mca btl "tcp,self")
  export RLMPI_NETNS_PREFIX=$PREFIX  # the agent, started by this mpirun, finds the cluster by it
  exec ip netns exec "$PREFIX-n0" "${RLMPI_NETNS_MPIRUN:-mpirun}" --mca plm_rsh_agent "$SELF agent" \
    --mca btl_tcp_if_include "$NET.0/24" --mca oob_tcp_if_include "$NET.0/24" "${extra[@]}" "$@"
}

cmd_agent() {
  local host i
  # ssh-style options first; these take a value (Open MPI passes none by default, but a user's
  # plm_rsh_args may).
  while [[ ${1:-} == -* ]]; do
    case $1 in
      -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
      *) shift ;;
    esac
  done
  (($# >= 2)) || die "agent needs a host and a command" 2
  host=$1
  shift
  [[ $host =~ ^198\.18\.0\.([0-9]+)$ ]] || die "agent: '$host' is not a node address of the cluster ($NET.1 ..)"
  i=$((BASH_REMATCH[1] - 1))
  ip netns list | awk '{print $1}' | grep -qx "$PREFIX-n$i" || die "agent: no node $PREFIX-n$i for $host"
  exec ip netns exec "$PREFIX-n$i" /bin/sh -c "$*"
}

sub=${1:-}
(($#)) && shift
case $sub in
  up) cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  hosts) cmd_hosts "$@" ;;
  exec) cmd_exec "$@" ;;
  mpirun) cmd_mpirun "$@" ;;
  agent) cmd_agent "$@" ;;
  *) usage ;;
esac
