# SPDX-License-Identifier: BSD-3-Clause
# Shared by scripts/run, scripts/test and scripts/bench: package installation and the build.
# Sourced, not executed.

# Debian packages logagg needs to build, run and test. One list, one place.
LOGAGG_PACKAGES=(
    build-essential pkg-config meson ninja-build python3
    libdpdk-dev dpdk            # DPDK 22.11 LTS: headers, libraries, PMDs (net_pcap, net_af_packet, net_ring)
    zlib1g-dev                  # GELF zlib/gzip payloads
    libsimdjson-dev             # JSON lines (On-Demand, in place)
    libfmt-dev                  # fmt (the wrap in subprojects/ is the fallback elsewhere)
    libgtest-dev libgmock-dev   # GoogleTest
    libbenchmark-dev            # Google Benchmark
    liburing-dev                # io_uring variants of tests/bench/file_paths.cpp
    clang libclang-rt-14-dev    # libFuzzer targets (scripts/fuzz)
    libpcap-dev tcpdump         # net_pcap's library; tests read captures back
    iproute2 bsdutils procps    # ip netns / veth, logger, sysctl
    iputils-ping ethtool        # netns tests: ping, turning veth checksum offload off
    universal-ctags             # scripts/long-functions (the ~100-line rule of docs/hacking.md)
    rsyslog                     # netns and sink tests: a real sender (omfwd) and collector (imtcp)
    tcpreplay                   # scripts/bench: replays a capture at a fixed rate (latency)
    libmicrohttpd-dev           # --metrics: the HTTP server of /metrics and /healthz
    prometheus tmux             # metrics tests: a real Prometheus and promtool; logagg-top in a tmux pane
    librdkafka-dev kcat         # Kafka sink (librdkafka 2.0 with its mock cluster); kcat to inspect topics by hand
    python3-scapy               # netns tcp_crafted: crafted TCP segments (Debian's /usr/bin/python3 runs it)
)

log() { printf '%s\n' "$*" >&2; }

# Installs whatever is missing, quietly; prints only what it does.
ensure_packages() {
    local missing=() p
    for p in "${LOGAGG_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "logagg: missing Debian packages: ${missing[*]}"
        log "logagg: run as root (or: sudo apt-get install ${missing[*]})"
        exit 1
    fi
    log "logagg: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_dir NAME [meson options...]: configures (once) and builds.
build_dir() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        log "logagg: configuring $dir"
        meson setup "$dir" "$@" >/dev/null
    fi
    ninja -C "$dir" >/dev/null || { ninja -C "$dir"; exit 1; }
}

# EAL lcore list that fits this machine: two lcores when it has two CPUs or more.
default_lcores() {
    if [ "$(nproc)" -ge 2 ]; then echo 0-1; else echo 0; fi
}

# ensure_syslog_ng: scripts/bench compares logagg with syslog-ng, whose Debian package conflicts
# with rsyslog (which logagg's tests need installed). So syslog-ng is never installed: its
# package and those of its libraries that are not installed are fetched with `apt-get download`
# and unpacked with `dpkg -x` into a cache directory, once per version, and run from there
# (LD_LIBRARY_PATH and --module-path). Sets SYSLOG_NG_ROOT to that directory, or leaves it empty
# (with a message) when the packages cannot be had; the benchmark then skips syslog-ng.
SYSLOG_NG_CACHE=${SYSLOG_NG_CACHE:-/var/cache/logagg}
ensure_syslog_ng() {
    SYSLOG_NG_ROOT=
    local version dir tmp p deps=()
    version=$(apt-cache policy syslog-ng-core 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        version=$(apt-cache policy syslog-ng-core 2>/dev/null | awk '/Candidate:/ {print $2}')
    fi
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        log "logagg: syslog-ng-core is not in the package lists; the benchmark skips syslog-ng"
        return 0
    fi
    dir="$SYSLOG_NG_CACHE/syslog-ng-${version//[^A-Za-z0-9.+-]/_}"
    if [ ! -x "$dir/usr/sbin/syslog-ng" ]; then
        log "logagg: fetching syslog-ng $version into $dir (unpacked, not installed)"
        # Its direct dependencies that are not installed here (virtual packages in <> skipped).
        for p in $(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                --no-replaces --no-enhances syslog-ng-core 2>/dev/null |
                awk '$1 ~ /Depends:$/ && $2 !~ /^</ {print $2}'); do
            [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || deps+=("$p")
        done
        tmp=$(mktemp -d)
        if ! (cd "$tmp" && apt-get download -qq syslog-ng-core "${deps[@]}" >/dev/null 2>&1); then
            rm -rf "$tmp"
            log "logagg: apt-get download syslog-ng-core ${deps[*]} failed; the benchmark skips syslog-ng"
            return 0
        fi
        mkdir -p "$tmp/root"
        for p in "$tmp"/*.deb; do dpkg -x "$p" "$tmp/root"; done
        mkdir -p "$SYSLOG_NG_CACHE"
        rm -rf "$dir"
        mv "$tmp/root" "$dir"
        rm -rf "$tmp"
    fi
    if syslog_ng_env "$dir" ldd "$dir/usr/sbin/syslog-ng" | grep -q 'not found'; then
        log "logagg: syslog-ng in $dir misses libraries:"
        syslog_ng_env "$dir" ldd "$dir/usr/sbin/syslog-ng" | grep 'not found' >&2
        return 0
    fi
    SYSLOG_NG_ROOT=$dir
}

# syslog_ng_env DIR CMD...: runs CMD with the libraries of the syslog-ng unpacked in DIR.
syslog_ng_env() {
    local dir=$1 libs
    shift
    libs=$(printf '%s:' "$dir"/usr/lib/*-linux-gnu*)
    LD_LIBRARY_PATH="$libs$dir/usr/lib/syslog-ng${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"
}
