#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Side: bench tool. Runs build/tests/bench/logagg-file-paths over the sets docs/performance.md
# reports ("File sink: how records reach the segment file"), each set one process whose
# configurations run interleaved, and prints their tables with the load average around each.
#
#   tests/bench/file_paths.sh [--rounds N] [--seconds S] [--disk DIR]
#                             [--only main|spin|sizes|chunks|depth|huge]
#
# main gets --rounds (5) rounds, the other sets at most 3.
#
# Writes to /dev/shm (tmpfs) and to --disk (default build/file-paths-tmp, the file system of the
# work tree); every file is removed after its run. The hugepage set runs only when 2 MiB hugepages are
# reserved and mounted (hugepages/setup-hugepages --pages 600); otherwise it says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FILE_PATHS_BIN:-$root/build/tests/bench/logagg-file-paths}
disk=$root/build/file-paths-tmp
rounds=5 seconds=1.5 only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=${2:?}; shift 2 ;;
        --seconds) seconds=${2:?}; shift 2 ;;
        --only) only=${2:?}; shift 2 ;;
        --disk) disk=${2:?}; shift 2 ;;
        *) echo "file_paths.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "file_paths.sh: build it first (ninja -C build)" >&2; exit 1; }
mkdir -p "$disk"
dirs="/dev/shm,$disk"

run() { # run NAME MEMORY-ARGS ARGS...
    local name=$1 mem=$2 r=$rounds
    shift 2
    [ -z "$only" ] || [ "$only" = "$name" ] || return 0
    [ "$name" = main ] || [ "$r" -le 3 ] || r=3
    echo "## $name ($(uptime | sed 's/.*load/load/'))"
    # shellcheck disable=SC2086
    "$bin" -l 0-1 --log-level=3 $mem --file-prefix "file-paths-$$-$name" -- \
        --rounds "$r" --seconds "$seconds" "$@"
    echo "## end of $name ($(uptime | sed 's/.*load/load/'))"
    echo
}

nohuge="--no-huge -m 1024"
all=bare-iov,bare-chunk,iov,sink-copy,chunk,chunk-desc,chunk-nt,uring,direct,direct-uring,tcp-iov,tcp-chunk
run main "$nohuge" --paths "$all" --dirs "$dirs" --sizes 250
run spin "$nohuge" --wait spin --paths bare-iov,bare-chunk,iov,sink-copy,chunk,chunk-desc,uring,direct-uring \
    --dirs "$dirs" --sizes 250
run sizes "$nohuge" --paths bare-iov,bare-chunk,iov,chunk,uring --dirs "$dirs" --sizes 100,1000
run chunks "$nohuge" --paths chunk,uring,direct-uring --dirs "$dirs" --sizes 250 --chunks 64K,256K,1M
run depth "$nohuge" --paths direct-uring --dirs "$disk" --sizes 250 --chunks 1M --inflight 16
if [ "$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)" -ge 520 ] &&
    grep -q hugetlbfs /proc/mounts; then
    run huge "-m 1024 --huge-unlink" --paths bare-iov,bare-chunk,iov,sink-copy,chunk,uring,direct-uring \
        --dirs "$dirs" --sizes 250
elif [ -z "$only" ] || [ "$only" = huge ]; then
    echo "## huge: skipped: fewer than 520 free 2 MiB hugepages or no hugetlbfs mount" \
        "(hugepages/setup-hugepages --pages 600)"
fi
