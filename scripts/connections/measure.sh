#!/usr/bin/env bash
# Count a client's TCP connections from OUTSIDE the client.
#
# Usage: scripts/connections/measure.sh [options] -- COMMAND [ARGS...]
#   -o DIR          output directory (default <repo>/target/connections/<timestamp>)
#   -i MS           sampling interval in ms (default 150)
#   -d SECONDS      stop the command (SIGTERM to its process group) after SECONDS; without it
#                   the measurement ends when the command exits
#   --at "S ..."    also report the sockets open at these seconds (default "30")
#   --strace        run the command under `strace -f -e trace=connect` and count connect()
#                   calls exactly (installs strace with apt-get if it is missing)
#   --ports "P ..." only count connections whose remote port is in this list (default: all)
#
# The command runs in its own process group. Every interval the script lists the TCP sockets
# (`ss -tnpH`, all non-listening states, so SYN-SENT connects are seen too) owned by any process
# of that group or descending from the command, and records each distinct connection
# (local addr:port -> remote addr:port) with the times it was first and last seen. Times are
# ms since the command was started (exported to the command as MEASURE_T0_MS, epoch ms).
#
# Output (stdout = the summary; files in DIR):
#   samples.tsv      t_ms state local remote pid          (one line per socket per sample)
#   connections.tsv  id local remote first_ms last_ms first_state last_state
#   strace.txt       raw strace output (with --strace)
#   cmd.stdout, cmd.stderr   the command's output
#   summary.txt      total sockets ever seen, open at each --at time, open in the last sample,
#                    the same per remote port, and the connect() counts from strace
# "Open at the end" is the last sample taken while the command was still running (before the
# SIGTERM of -d), so a client that closes its sockets on exit still shows its steady state.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

OUT=""
INTERVAL_MS=150
DURATION=""
AT="30"
USE_STRACE=0
PORTS=""
die() { echo "measure: error: $*" >&2; exit 1; }

while (($#)); do
    case "$1" in
    -o) OUT="$2"; shift 2 ;;
    -i) INTERVAL_MS="$2"; shift 2 ;;
    -d) DURATION="$2"; shift 2 ;;
    --at) AT="$2"; shift 2 ;;
    --strace) USE_STRACE=1; shift ;;
    --ports) PORTS="$2"; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (the command goes after --)" ;;
    esac
done
(($#)) || die "no command given (usage: measure.sh [options] -- COMMAND ARGS...)"
[[ "$INTERVAL_MS" =~ ^[0-9]+$ ]] && ((INTERVAL_MS > 0)) || die "-i wants a positive integer"
[[ -z "$DURATION" || "$DURATION" =~ ^[0-9]+$ ]] || die "-d wants whole seconds"

command -v ss >/dev/null || {
    echo "measure: installing iproute2 (for ss)" >&2
    apt-get install -y -q iproute2 >&2 || die "cannot install iproute2"
}
if ((USE_STRACE)) && ! command -v strace >/dev/null; then
    echo "measure: installing strace" >&2
    { apt-get install -y -q strace || { apt-get update -q && apt-get install -y -q strace; }; } >&2 ||
        die "cannot install strace"
fi

OUT="${OUT:-$REPO_ROOT/target/connections/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
SAMPLES="$OUT/samples.tsv"
: >"$SAMPLES"

now_ms() { date +%s%3N; }

# Start the command in a new session (its own process group) so it can be stopped as a whole.
# setsid does not fork here (a background job is not a group leader), so $! is the command.
T0=$(now_ms)
# Lets the command put its own timeline on the same clock (ConnHarness reads it).
export MEASURE_T0_MS="$T0"
if ((USE_STRACE)); then
    # --seccomp-bpf (strace >= 5.3) stops only at connect(), which keeps a JVM at full speed.
    SB=()
    strace --help 2>&1 | grep -q -- --seccomp-bpf && SB=(--seccomp-bpf)
    setsid strace -f -qq -ttt "${SB[@]}" -e trace=connect -o "$OUT/strace.txt" -- "$@" \
        >"$OUT/cmd.stdout" 2>"$OUT/cmd.stderr" </dev/null &
else
    setsid "$@" >"$OUT/cmd.stdout" 2>"$OUT/cmd.stderr" </dev/null &
fi
CMD_PID=$!
echo "measure: started pid $CMD_PID: $*" >&2
echo "measure: output in $OUT" >&2

stopped_by_us=0
stop_cmd() {
    if kill -0 "$CMD_PID" 2>/dev/null; then
        stopped_by_us=1
        kill -TERM -- "-$CMD_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do kill -0 "$CMD_PID" 2>/dev/null || return 0; sleep 0.1; done
        kill -KILL -- "-$CMD_PID" 2>/dev/null || true
    fi
}
trap 'stop_cmd' EXIT INT TERM

# PIDs to watch: the command's process group plus every descendant of the command.
watched_pids() {
    ps -e -o pid=,ppid=,pgid= | awk -v root="$CMD_PID" '
        { pid[NR] = $1; ppid[NR] = $2; pg[NR] = $3 }
        END {
            keep[root] = 1
            for (i = 1; i <= NR; i++) if (pg[i] == root) keep[pid[i]] = 1
            do {
                changed = 0
                for (i = 1; i <= NR; i++)
                    if ((ppid[i] in keep) && !(pid[i] in keep)) { keep[pid[i]] = 1; changed = 1 }
            } while (changed)
            for (p in keep) printf "%s ", p
        }'
}

sample() {
    local t pids
    pids="$(watched_pids)"
    # Time stamp taken after the (slower) process scan, right before ss reads the sockets.
    t=$(($(now_ms) - T0))
    ss -tnpH 2>/dev/null | awk -v t="$t" -v pids="$pids" -v ports="$PORTS" '
        BEGIN {
            n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1
            m = split(ports, b, " "); for (i = 1; i <= m; i++) port_ok[b[i]] = 1
        }
        function norm(addr) { sub(/^\[::ffff:/, "", addr); sub(/\]:/, ":", addr); return addr }
        {
            # State Recv-Q Send-Q Local Peer Process
            if (!match($0, /pid=[0-9]+/)) next
            p = substr($0, RSTART + 4, RLENGTH - 4)
            if (!(p in want)) next
            local_ = norm($4); peer = norm($5)
            rp = peer; sub(/.*:/, "", rp)
            if (m > 0 && !(rp in port_ok)) next
            print t "\t" $1 "\t" local_ "\t" peer "\t" p
        }' >>"$SAMPLES"
}

deadline=""
[[ -n "$DURATION" ]] && deadline=$((T0 + DURATION * 1000))
interval_s="$(awk -v ms="$INTERVAL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
while kill -0 "$CMD_PID" 2>/dev/null; do
    # A zombie (exited, not yet reaped) owns no sockets; stop sampling it.
    [[ "$(ps -o stat= -p "$CMD_PID" 2>/dev/null)" == Z* ]] && break
    sample
    if [[ -n "$deadline" ]] && (($(now_ms) >= deadline)); then break; fi
    sleep "$interval_s"
done
END_MS=$(($(now_ms) - T0))
stop_cmd
cmd_rc=0
wait "$CMD_PID" 2>/dev/null || cmd_rc=$?
trap - EXIT INT TERM

# ------------------------------------------------------------------------------- analysis
awk -F'\t' '
    {
        key = $3 " " $4
        if (!(key in first)) { first[key] = $1; fstate[key] = $2; order[++n] = key }
        last[key] = $1; lstate[key] = $2
    }
    END {
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, lr, " ")
            printf "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", i, lr[1], lr[2], first[k], last[k], fstate[k], lstate[k]
        }
    }' "$SAMPLES" >"$OUT/connections.tsv"

{
    echo "command: $*"
    if ((stopped_by_us)); then
        echo "ran ${END_MS} ms, stopped by measure.sh (-d $DURATION); sampled every ${INTERVAL_MS} ms"
    else
        echo "ran ${END_MS} ms, exited with status $cmd_rc; sampled every ${INTERVAL_MS} ms"
    fi
    awk -F'\t' -v at="$AT" -v conns="$OUT/connections.tsv" '
        # samples.tsv: per sample time, the set of connections present
        { key = $3 " " $4; present[$1, key] = 1; if (!($1 in seen_t)) { seen_t[$1] = 1; times[++nt] = $1 } }
        END {
            while ((getline line < conns) > 0) {
                split(line, f, "\t"); nc++
                id[nc] = f[1]; loc[nc] = f[2]; rem[nc] = f[3]; fst[nc] = f[4]; lst[nc] = f[5]
                port = rem[nc]; sub(/.*:/, "", port); rport[nc] = port
                if (!(port in ever)) ports[++np] = port
                ever[port]++
            }
            printf "sockets ever seen: %d\n", nc
            n_at = split(at, ats, " ")
            for (j = 1; j <= n_at; j++) {
                tt = ats[j] * 1000; best = ""
                for (i = 1; i <= nt; i++) if (times[i] <= tt) best = times[i]
                if (best == "" || (nt > 0 && times[nt] < tt)) { printf "open at %ss: (no sample that late)\n", ats[j]; continue }
                c = 0; delete byp
                for (i = 1; i <= nc; i++) if ((best, loc[i] " " rem[i]) in present) { c++; byp[rport[i]]++ }
                printf "open at %ss (sample t=%d ms): %d", ats[j], best, c
                for (k = 1; k <= np; k++) if (byp[ports[k]]) printf "  [:%s x%d]", ports[k], byp[ports[k]]
                printf "\n"
            }
            if (nt > 0) {
                c = 0; delete byp
                for (i = 1; i <= nc; i++) if ((times[nt], loc[i] " " rem[i]) in present) { c++; byp[rport[i]]++ }
                printf "open at the end (last sample t=%d ms): %d", times[nt], c
                for (k = 1; k <= np; k++) if (byp[ports[k]]) printf "  [:%s x%d]", ports[k], byp[ports[k]]
                printf "\n"
            }
            printf "per remote port (ever seen / open at the end):\n"
            for (k = 1; k <= np; k++) {
                c = 0
                for (i = 1; i <= nc; i++) if (rport[i] == ports[k] && nt > 0 && ((times[nt], loc[i] " " rem[i]) in present)) c++
                printf "  :%s  %d / %d\n", ports[k], ever[ports[k]], c
            }
            printf "timeline (first seen .. last seen, ms since start):\n"
            for (i = 1; i <= nc; i++)
                printf "  #%d %s -> %s  %d .. %d%s\n", id[i], loc[i], rem[i], fst[i], lst[i],
                    (nt > 0 && lst[i] == times[nt]) ? " (still open)" : ""
        }' "$SAMPLES"
    if ((USE_STRACE)); then
        # Count connect() to IPv4/IPv6 addresses (AF_UNIX connects, e.g. to nscd, are not TCP).
        # Lines: "PID EPOCH.micro connect(FD, {sa_family=AF_INET6, sin6_port=htons(P), ...".
        grep -E '^[0-9]+ [0-9.]+ connect\([0-9]+, \{sa_family=AF_INET6?,' "$OUT/strace.txt" |
            sed -nE 's/^([0-9]+) ([0-9.]+) connect\(([0-9]+), .*sin6?_port=htons\(([0-9]+)\).*\) = (.*)$/\1 \2 \3 \4 \5/p' |
            awk -v t0="$T0" -v ports="$PORTS" '
                BEGIN { m = split(ports, b, " "); for (i = 1; i <= m; i++) ok[b[i]] = 1 }
                m > 0 && !($4 in ok) { next }
                {
                    n++; res = $5; for (i = 6; i <= NF; i++) res = res " " $i
                    line[n] = sprintf("  %7d ms  pid %s fd %s -> :%s  = %s", $2 * 1000 - t0, $1, $3, $4, res)
                    if (!($4 in cnt)) order[++np] = $4
                    cnt[$4]++
                }
                END {
                    printf "strace: connect() calls to TCP addresses: %d\n", n
                    for (k = 1; k <= np; k++) printf "  :%s  %d\n", order[k], cnt[order[k]]
                    for (i = 1; i <= n; i++) print line[i]
                }'
    fi
} | tee "$OUT/summary.txt"
