#!/usr/bin/env bash
# Count a client's TCP connections from OUTSIDE the client.
#
# Usage: scripts/connections/measure.sh [options] -- COMMAND [ARGS...]
#        scripts/connections/measure.sh --analyze DIR [--at "S ..."]   (re-summarize a run)
#   -o DIR          output directory (default <repo>/target/connections/<timestamp>)
#   -i MS           sampling interval in ms (default 150)
#   -d SECONDS      stop the command (SIGTERM to its process group) after SECONDS; without it
#                   the measurement ends when the command exits
#   --at "S ..."    also report the sockets open at these seconds (default "30")
#   --strace        run the command under `strace -f -e trace=connect` and count connect()
#                   calls exactly (installs strace with apt-get if it is missing)
#   --ports "P ..." only count connections whose remote port is in this list (default: all)
#
# The command runs in its own session/process group. Every interval the script lists the TCP
# sockets (`ss -tnpH`: all non-listening states, so SYN-SENT connects are seen too) owned by any
# process of that group or descending from the command, and records each distinct connection
# (local addr:port -> remote addr:port) with the times it was first and last seen. Times are
# ms since the command was started (exported to the command as MEASURE_T0_MS, epoch ms, so the
# command can print its own timeline on the same clock; ConnHarness does).
#
# Output (stdout = the summary; files in DIR):
#   samples.tsv      t_ms state local remote pid  (one line per socket per sample, plus one
#                    "t_ms #sample - - -" marker line per sample)
#   connections.tsv  id local remote first_ms last_ms first_state last_state
#   strace.txt       raw strace output (with --strace; -ttt epoch timestamps)
#   cmd.stdout, cmd.stderr   the command's output
#   meta.env         t0_ms (epoch ms of the start), end_ms, exit status, options
#   summary.txt      total sockets ever seen, open at each --at time, open in the last sample,
#                    the same per remote port, a per-socket timeline, and (with --strace) the
#                    exact connect() calls with their times
# "Open at the end" is the last sample taken while the command was still running (before the
# SIGTERM of -d), so a client that closes its sockets on exit still shows its steady state.
# A socket that lives shorter than the interval can be missed by sampling; strace cannot miss it.
set -euo pipefail
# (Everything below runs from main, so bash has parsed the whole file before anything runs and
# editing the script during a 10-minute measurement cannot corrupt that measurement.)

die() { echo "measure: error: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# PIDs to watch: the command's process group plus every descendant of the command.
watched_pids() { # ROOT_PID
    ps -e -o pid=,ppid=,pgid= | awk -v root="$1" '
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

sample() { # ROOT_PID T0 PORTS SAMPLES_FILE
    local t pids
    pids="$(watched_pids "$1")"
    # Time stamp taken after the (slower) process scan, right before ss reads the sockets.
    t=$(($(now_ms) - $2))
    ss -tnpH 2>/dev/null | awk -v t="$t" -v pids="$pids" -v ports="$3" '
        BEGIN {
            n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1
            m = split(ports, b, " "); for (i = 1; i <= m; i++) port_ok[b[i]] = 1
            # One marker line per sample, so a sample in which no socket is open still counts.
            print t "\t#sample\t-\t-\t-"
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
        }' >>"$4"
}

# Summarize a run directory (reads meta.env, samples.tsv, strace.txt).
analyze() { # DIR AT
    local dir="$1" at="$2" t0 end_ms stopped rc interval duration ports command
    [[ -f "$dir/meta.env" && -f "$dir/samples.tsv" ]] || die "$dir has no meta.env/samples.tsv"
    t0="$(sed -n 's/^t0_ms=//p' "$dir/meta.env")"
    end_ms="$(sed -n 's/^end_ms=//p' "$dir/meta.env")"
    stopped="$(sed -n 's/^stopped_by_measure=//p' "$dir/meta.env")"
    rc="$(sed -n 's/^exit_status=//p' "$dir/meta.env")"
    interval="$(sed -n 's/^interval_ms=//p' "$dir/meta.env")"
    duration="$(sed -n 's/^duration_s=//p' "$dir/meta.env")"
    ports="$(sed -n 's/^ports=//p' "$dir/meta.env")"
    command="$(sed -n 's/^command=//p' "$dir/meta.env")"

    awk -F'\t' '
        $2 == "#sample" { next }
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
        }' "$dir/samples.tsv" >"$dir/connections.tsv"

    {
        echo "command: $command"
        if [[ "$stopped" == 1 ]]; then
            echo "ran ${end_ms} ms, stopped by measure.sh (-d $duration); sampled every ${interval} ms"
        else
            echo "ran ${end_ms} ms, exited with status $rc; sampled every ${interval} ms"
        fi
        awk -F'\t' -v at="$at" -v conns="$dir/connections.tsv" '
            # samples.tsv: per sample time, the set of connections present
            { if (!($1 in seen_t)) { seen_t[$1] = 1; times[++nt] = $1 } }
            $2 != "#sample" { present[$1, $3 " " $4] = 1 }
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
                    c = 0; split("", byp)
                    for (i = 1; i <= nc; i++) if ((best, loc[i] " " rem[i]) in present) { c++; byp[rport[i]]++ }
                    printf "open at %ss (sample t=%d ms): %d", ats[j], best, c
                    for (k = 1; k <= np; k++) if (byp[ports[k]]) printf "  [:%s x%d]", ports[k], byp[ports[k]]
                    printf "\n"
                }
                if (nt > 0) {
                    c = 0; split("", byp)
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
            }' "$dir/samples.tsv"
        if [[ -f "$dir/strace.txt" ]]; then
            # connect() to IPv4/IPv6 addresses only (AF_UNIX connects, e.g. to nscd, are not TCP).
            # Lines: "PID EPOCH.micro connect(FD, {sa_family=AF_INET6, sin6_port=htons(P), ...}, L)
            # = RESULT" or, when another thread interrupts it under -f, "... <unfinished ...>".
            grep -E '^[0-9]+ [0-9.]+ connect\([0-9]+, \{sa_family=AF_INET6?,' "$dir/strace.txt" |
                sed -nE 's/^([0-9]+) ([0-9.]+) connect\(([0-9]+), .*sin6?_port=htons\(([0-9]+)\).*(\) = (.*)|<unfinished \.\.\.>)$/\1 \2 \3 \4 \6/p' |
                awk -v t0="$t0" -v ports="$ports" '
                    BEGIN { m = split(ports, b, " "); for (i = 1; i <= m; i++) ok[b[i]] = 1 }
                    m > 0 && !($4 in ok) { next }
                    {
                        n++; res = $5; for (i = 6; i <= NF; i++) res = res " " $i
                        if (res == "") res = "(unfinished)"
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
    } | tee "$dir/summary.txt"
}

main() {
    local script_dir repo_root out="" interval_ms=150 duration="" at="30" use_strace=0 ports=""
    local analyze_dir=""
    script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    repo_root="$(cd "$script_dir/../.." && pwd)"

    while (($#)); do
        case "$1" in
        -o) out="$2"; shift 2 ;;
        -i) interval_ms="$2"; shift 2 ;;
        -d) duration="$2"; shift 2 ;;
        --at) at="$2"; shift 2 ;;
        --strace) use_strace=1; shift ;;
        --ports) ports="$2"; shift 2 ;;
        --analyze) analyze_dir="$2"; shift 2 ;;
        --) shift; break ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (the command goes after --)" ;;
        esac
    done
    if [[ -n "$analyze_dir" ]]; then analyze "$analyze_dir" "$at"; return; fi
    (($#)) || die "no command given (usage: measure.sh [options] -- COMMAND ARGS...)"
    [[ "$interval_ms" =~ ^[0-9]+$ ]] && ((interval_ms > 0)) || die "-i wants a positive integer"
    [[ -z "$duration" || "$duration" =~ ^[0-9]+$ ]] || die "-d wants whole seconds"

    command -v ss >/dev/null || {
        echo "measure: installing iproute2 (for ss)" >&2
        { apt-get install -y -q iproute2 || { apt-get update -q && apt-get install -y -q iproute2; }; } >&2 ||
            die "cannot install iproute2"
    }
    if ((use_strace)) && ! command -v strace >/dev/null; then
        echo "measure: installing strace" >&2
        { apt-get install -y -q strace || { apt-get update -q && apt-get install -y -q strace; }; } >&2 ||
            die "cannot install strace"
    fi

    out="${out:-$repo_root/target/connections/$(date -u +%Y%m%dT%H%M%SZ)}"
    mkdir -p "$out"
    rm -f "$out/strace.txt" "$out/summary.txt" "$out/connections.tsv"
    local samples="$out/samples.tsv"
    : >"$samples"

    # Start the command in a new session (its own process group) so it can be stopped as a
    # whole. setsid does not fork here (a background job of a script is not a group leader), so
    # $! is the command itself.
    local t0 cmd_pid
    t0=$(now_ms)
    export MEASURE_T0_MS="$t0"
    if ((use_strace)); then
        # --seccomp-bpf (strace >= 5.3) stops only at connect(), which keeps a JVM at full speed.
        local sb=()
        strace --help 2>&1 | grep -q -- --seccomp-bpf && sb=(--seccomp-bpf)
        setsid strace -f -qq -ttt "${sb[@]}" -e trace=connect -o "$out/strace.txt" -- "$@" \
            >"$out/cmd.stdout" 2>"$out/cmd.stderr" </dev/null &
    else
        setsid "$@" >"$out/cmd.stdout" 2>"$out/cmd.stderr" </dev/null &
    fi
    cmd_pid=$!
    echo "measure: started pid $cmd_pid: $*" >&2
    echo "measure: output in $out" >&2

    STOPPED_BY_US=0
    CMD_PID="$cmd_pid"
    trap 'stop_cmd' EXIT
    trap 'stop_cmd; exit 130' INT TERM

    local deadline="" next=$t0 now
    [[ -n "$duration" ]] && deadline=$((t0 + duration * 1000))
    while alive "$cmd_pid"; do
        sample "$cmd_pid" "$t0" "$ports" "$samples"
        now=$(now_ms)
        if [[ -n "$deadline" ]] && ((now >= deadline)); then break; fi
        # Fixed-rate ticks: the sample itself takes tens of ms on a loaded machine.
        next=$((next + interval_ms))
        ((next < now)) && next=$now
        sleep "$(((next - now) / 1000)).$(printf '%03d' $(((next - now) % 1000)))"
    done
    local end_ms=$(($(now_ms) - t0)) cmd_rc=0
    stop_cmd
    wait "$cmd_pid" 2>/dev/null || cmd_rc=$?
    trap - EXIT INT TERM

    {
        echo "t0_ms=$t0"
        echo "end_ms=$end_ms"
        echo "stopped_by_measure=$STOPPED_BY_US"
        echo "exit_status=$cmd_rc"
        echo "interval_ms=$interval_ms"
        echo "duration_s=$duration"
        echo "ports=$ports"
        echo "command=$*"
    } >"$out/meta.env"
    analyze "$out" "$at"
}

# True while the command runs (an exited but not yet reaped zombie does not count).
alive() {
    kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]
}

# SIGTERM the command's process group, wait up to 10 s, then SIGKILL it.
stop_cmd() {
    if alive "$CMD_PID"; then
        STOPPED_BY_US=1
        kill -TERM -- "-$CMD_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do alive "$CMD_PID" || return 0; sleep 0.1; done
        kill -KILL -- "-$CMD_PID" 2>/dev/null || true
    fi
}

main "$@"; exit $?  # same line: bash must not read past it if the file is edited meanwhile
