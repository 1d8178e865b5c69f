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
    clang libclang-rt-14-dev    # libFuzzer targets (scripts/fuzz)
    libpcap-dev tcpdump         # net_pcap's library; tests read captures back
    iproute2 bsdutils procps    # ip netns / veth, logger, sysctl
    iputils-ping ethtool        # netns tests: ping, turning veth checksum offload off
    rsyslog                     # netns and sink tests: a real sender (omfwd) and collector (imtcp)
    tcpreplay                   # scripts/bench: replays a capture at a fixed rate (latency)
    librdkafka-dev kcat         # Kafka sink (librdkafka 2.0 with its mock cluster); kcat to inspect topics by hand
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
