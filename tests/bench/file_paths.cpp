// SPDX-License-Identifier: BSD-3-Clause
// Side: bench tool (measures ways for a file sink to get records into a segment file; not part of
// logagg, never part of the pass/fail suites: no timing is asserted).
//
// Reproduces logagg's two-lcore situation: a producer on EAL lcore 1 plays the RX + worker lcore
// (it takes mbufs from a real DPDK pktmbuf pool, writes a frame into each as the RX PMD does,
// with the RX time in a registered dynfield, and hands the message over), a consumer on the main
// lcore plays the sink lcore. Every way of handing records over and writing them is run in the
// same process, interleaved, to tmpfs and to a disk file system, and printed as one table.
//
//   logagg-file-paths [EAL args] -- [--paths P,...] [--dirs DIR,...] [--sizes B,...]
//                     [--chunks BYTES,...] [--seconds S] [--rounds R] [--inflight N]
//
// Paths (how records get from the producer to the file):
//   bare-iov      no DPDK: the producer writes message + LF into 2,176-byte-stride slots, the
//                 consumer pwritev()s 1,024 of them at a time (issue 11's bare loop)
//   bare-chunk    the same, and the producer also appends each message to a contiguous byte ring
//                 the consumer pwrite()s in chunks (issue 11's second bare loop)
//   iov           today's file sink: 16-byte descriptors {mbuf, offset, length} through an SPSC
//                 rte_ring; the consumer reads each mbuf's header (cost, data pointer, RX time),
//                 prefetches the message, builds two iovecs per record (the message and a shared
//                 LF), pwritev()s up to IOV_MAX iovecs, then frees the mbufs in bulk
//   sink-copy     descriptors as iov, but the consumer copies each record + LF into one buffer and
//                 pwrite()s it (the copy moved from the kernel to the sink)
//   chunk         the producer appends each record + LF to a per-lane byte ring while its bytes
//                 are in its cache and frees the mbuf at once; one 16-byte mark per burst {end
//                 position, records, RX time} goes through an SPSC rte_ring; the consumer
//                 pwrite()s whole chunks (CHUNK bytes, or less when the oldest mark is 1 ms old)
//   chunk-desc    the producer copies as in chunk, but hands each record over as a descriptor of
//                 its bytes in the ring (logagg's generated pieces: {position, length}) through
//                 the descriptor ring; the consumer keeps per-record bookkeeping as logagg's
//                 record queue does (without touching any mbuf) and pwritev()s batches of up to
//                 1,024 records whose adjacent pieces merge into one iovec (iov_batch::push)
//   chunk-nt      chunk with non-temporal stores for the copy
//   uring         chunk, written with io_uring (IORING_OP_WRITE_FIXED on a registered buffer and
//                 file), up to --inflight writes in flight; the consumer sleeps in
//                 io_uring_wait_cqe when it has nothing else to do
//   direct        chunk, O_DIRECT pwrite() of whole 4 KiB blocks from the 4 KiB-aligned ring; the
//                 last partial block is written padded from a bounce buffer and the file cut back
//                 to its length with ftruncate()
//   direct-uring  direct through io_uring
//   tcp-iov       iov, but sendmsg() of the iovecs on a TCP connection over loopback to a discard
//                 server thread in this process
//   tcp-chunk     chunk, send() of the chunks on the same kind of connection
//
// CPU: getrusage(RUSAGE_THREAD) of the producer and of the consumer over their run, and
// getrusage(RUSAGE_SELF) of the process (io_uring's io-wq workers and the discard server are
// threads of this process). A side with nothing to do sleeps (nanosleep, after a short spin) so
// its CPU is the work it did, not polling.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <emmintrin.h>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#ifdef LOGAGG_HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

/// Ethernet + IPv4 + UDP header bytes before the message in each frame (as received).
constexpr uint32_t hdr_len = 42;
/// Producer burst: logagg's --burst default.
constexpr uint32_t burst = 32;
/// Descriptor ring: logagg's --sink-ring-size default.
constexpr uint32_t desc_ring_size = 16384;
/// Records per iovec batch: two iovecs each (message + LF) in IOV_MAX.
constexpr uint32_t iov_batch_records = IOV_MAX / 2;
/// logagg's batch-ms default: a partial chunk goes out once its oldest record is this old.
constexpr uint64_t batch_age_us = 1000;
/// Chunks in the byte ring: 16 x 256 KiB = 4 MiB, about what the descriptor ring holds in
/// 250-byte messages (16,384 x 251 bytes).
constexpr uint64_t ring_chunks = 16;
/// O_DIRECT alignment (logical block size of the file systems here; 4 KiB covers all).
constexpr uint64_t dio_align = 4096;

enum class path_kind {
    bare_iov,
    bare_chunk,
    iov,
    sink_copy,
    chunk,
    chunk_nt,
    uring,
    direct,
    direct_uring,
    tcp_iov,
    tcp_chunk,
    chunk_desc
};

struct path_name {
    path_kind k;
    const char* name;
};
constexpr path_name path_names[] = {
    {path_kind::bare_iov, "bare-iov"},
    {path_kind::bare_chunk, "bare-chunk"},
    {path_kind::iov, "iov"},
    {path_kind::sink_copy, "sink-copy"},
    {path_kind::chunk, "chunk"},
    {path_kind::chunk_nt, "chunk-nt"},
    {path_kind::uring, "uring"},
    {path_kind::direct, "direct"},
    {path_kind::direct_uring, "direct-uring"},
    {path_kind::tcp_iov, "tcp-iov"},
    {path_kind::tcp_chunk, "tcp-chunk"},
    {path_kind::chunk_desc, "chunk-desc"},
};

const char* name_of(path_kind k) {
    for (const path_name& p : path_names) {
        if (p.k == k) {
            return p.name;
        }
    }
    return "?";
}

bool is_bare(path_kind k) {
    return k == path_kind::bare_iov || k == path_kind::bare_chunk;
}
/// The producer hands descriptors (mbuf references) over.
bool uses_descs(path_kind k) {
    return k == path_kind::iov || k == path_kind::sink_copy || k == path_kind::tcp_iov;
}
/// The producer copies into the byte ring.
bool uses_ring(path_kind k) {
    return k == path_kind::bare_chunk || k == path_kind::chunk || k == path_kind::chunk_nt ||
           k == path_kind::uring || k == path_kind::direct || k == path_kind::direct_uring ||
           k == path_kind::tcp_chunk || k == path_kind::chunk_desc;
}
bool is_tcp(path_kind k) {
    return k == path_kind::tcp_iov || k == path_kind::tcp_chunk;
}
bool is_direct(path_kind k) {
    return k == path_kind::direct || k == path_kind::direct_uring;
}
bool is_uring(path_kind k) {
    return k == path_kind::uring || k == path_kind::direct_uring;
}

struct config {
    path_kind path = path_kind::iov;
    std::string dir; ///< "" for TCP
    uint32_t msg = 250;
    uint64_t chunk = 256 << 10;
};

/// One descriptor, as logagg's msg_desc (16 bytes).
struct desc {
    rte_mbuf* pkt;
    uint32_t off;
    uint32_t len;
};
static_assert(sizeof(desc) == 16);

/// End of a producer burst in the byte ring.
struct mark {
    uint64_t end;     ///< byte-ring position after the burst's last record
    uint32_t records; ///< records that end in the burst
    uint32_t rx_us;   ///< RX time of the burst, microseconds since the run started
};
static_assert(sizeof(mark) == 16);

struct thread_cpu {
    double user = 0;
    double sys = 0;
};

double tv_s(const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

thread_cpu cpu_of(int who) {
    rusage u{};
    getrusage(who, &u);
    return {tv_s(u.ru_utime), tv_s(u.ru_stime)};
}

thread_cpu minus(thread_cpu a, thread_cpu b) {
    return {a.user - b.user, a.sys - b.sys};
}

struct result {
    bool ok = false;
    std::string note;
    uint64_t records = 0;
    uint64_t bytes = 0;
    uint64_t syscalls = 0; ///< writes (or submissions) by the consumer
    double wall = 0;
    thread_cpu prod, cons, self, server;
    uint64_t lat_sum_us = 0;  ///< RX-to-written, summed over records (for the mean)
    uint64_t pinned_left = 0; ///< descriptor paths: mbuf memory still counted at the end (0)
};

/// Everything the two sides share.
struct shared {
    rte_mempool* pool = nullptr;
    int rx_tsc_off = -1; ///< the RX time dynfield (as logagg's pkt_meta)
    rte_ring* descs = nullptr;
    rte_ring* marks = nullptr;
    char* ring = nullptr; ///< byte ring, 4 KiB aligned
    uint64_t ring_cap = 0;
    uint64_t ring_size = 0; ///< of this run
    char* slots = nullptr;  ///< bare paths: 2,176-byte stride
    uint32_t n_slots = 0;
    uint64_t tsc_per_us = 1;

    config c;
    int fd = -1;
    uint64_t deadline = 0;
    uint64_t t0 = 0; ///< TSC at the start of the run (marks carry RX times relative to it)
    alignas(64) std::atomic<uint64_t> released{0};  ///< byte ring: consumer -> producer
    alignas(64) std::atomic<uint64_t> slot_head{0}; ///< bare: producer -> consumer
    alignas(64) std::atomic<uint64_t> slot_tail{0}; ///< bare: consumer -> producer
    alignas(64) std::atomic<uint64_t> chunk_pub{0}; ///< bare-chunk: byte-ring end published
    alignas(64) std::atomic<bool> go{false};
    std::atomic<bool> producer_done{false};
    std::atomic<bool> abort{false}; ///< the consumer failed: the producer stops waiting
    uint64_t produced = 0;
    uint64_t produced_bytes = 0;
    thread_cpu prod_cpu;
    char frame[hdr_len + 4096] = {};
};

shared* g = nullptr;

/// The last write error of the consumer (for the table: a run that failed says why).
char g_write_error[128] = {};

/// --wait sleep (default): a side with nothing to do sleeps, so its CPU is its work, not
/// polling; --wait spin: it busy-polls, as logagg's lcores do today.
bool g_spin = false;

/// Waits for the other side.
struct waiter {
    uint32_t spins = 0;
    void wait() {
        if (g_spin) {
            rte_pause();
            return;
        }
        const timespec ts{0, 20'000};
        nanosleep(&ts, nullptr);
    }
    void reset() { spins = 0; }
};

/// Fills g->frame with headers and a @p len-byte RFC 5424 message; seq digits at seq_off.
uint32_t seq_off = 0;
void make_frame(uint32_t len) {
    std::memset(g->frame, 0, sizeof g->frame);
    char* m = g->frame + hdr_len;
    const char* head = "<134>1 2026-11-19T08:00:00.000037Z gw-07.example.net checkout 4242 ORDER - "
                       "seq=0000000000 ";
    const uint32_t hl = static_cast<uint32_t>(std::strlen(head));
    std::memcpy(m, head, std::min(hl, len));
    const char* fill =
        "GET /api/v1/orders HTTP/1.1 200 ms=001 ua=\"Mozilla/5.0 (X11; Linux x86_64)\" "
        "upstream=10.1.2.3:8080 cache=MISS tls=TLSv1.3 ";
    const uint32_t fl = static_cast<uint32_t>(std::strlen(fill));
    for (uint32_t i = hl; i < len; ++i) {
        m[i] = fill[(i - hl) % fl];
    }
    seq_off = hdr_len + static_cast<uint32_t>(std::strstr(head, "seq=") - head) + 4;
}

/// The next sequence number in the frame template (in place, decimal).
void next_seq() {
    char* d = g->frame + seq_off + 9;
    while (*d == '9') {
        *d-- = '0';
    }
    ++*d;
}

uint64_t& rx_tsc(rte_mbuf* m) {
    return *RTE_MBUF_DYNFIELD(m, g->rx_tsc_off, uint64_t*);
}

/// Copies with non-temporal stores where 16-byte aligned.
void copy_nt(char* dst, const char* src, uint32_t n) {
    while (n != 0 && (reinterpret_cast<uintptr_t>(dst) & 15) != 0) {
        *dst++ = *src++;
        --n;
    }
    while (n >= 16) {
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
        dst += 16;
        src += 16;
        n -= 16;
    }
    while (n != 0) {
        *dst++ = *src++;
        --n;
    }
}

/// A producer that finds no room waits (sleeping) until a quarter of the room is free, not
/// just enough for one burst: one sleep per many records, as an adaptive poller would, so its
/// CPU is its work rather than wake-ups. Busy-polling (--wait spin) waits for what it needs.
template <class Room>
void wait_for_room(Room room, uint64_t need, uint64_t capacity, waiter& w) {
    if (room() >= need) {
        return;
    }
    const uint64_t want = g_spin ? need : std::max(need, capacity / 4);
    while (room() < want && !g->abort.load(std::memory_order_relaxed)) {
        w.wait();
    }
}

/// Producer: appends @p n bytes (+ LF) at byte-ring position @p head, waiting for room.
void ring_append(uint64_t& head, const char* p, uint32_t n, bool nt, waiter& w) {
    const uint64_t need = n + 1;
    wait_for_room(
        [&] { return g->ring_size - (head - g->released.load(std::memory_order_acquire)); }, need,
        g->ring_size, w);
    if (g->abort.load(std::memory_order_relaxed)) {
        return; // the run failed: nothing is written any more
    }
    w.reset();
    const uint64_t at = head % g->ring_size;
    const uint64_t first = std::min<uint64_t>(n, g->ring_size - at);
    if (nt) {
        copy_nt(g->ring + at, p, static_cast<uint32_t>(first));
        if (first < n) {
            copy_nt(g->ring, p + first, static_cast<uint32_t>(n - first));
        }
    } else {
        std::memcpy(g->ring + at, p, first);
        if (first < n) {
            std::memcpy(g->ring, p + first, n - first);
        }
    }
    g->ring[(head + n) % g->ring_size] = '\n';
    head += need;
}

void push_mark(uint64_t end, uint32_t records, uint64_t tsc, waiter& w) {
    mark mk{end, records, static_cast<uint32_t>((tsc - g->t0) / g->tsc_per_us)};
    while (rte_ring_enqueue_elem(g->marks, &mk, sizeof mk) != 0 &&
           !g->abort.load(std::memory_order_relaxed)) {
        w.wait();
    }
    w.reset();
}

/// The producer (EAL lcore 1): RX + worker.
int producer(void*) {
    while (!g->go.load(std::memory_order_acquire)) {
        rte_pause();
    }
    prctl(PR_SET_TIMERSLACK, 1UL); // sleeps of 20 us, not 20 + 50
    const thread_cpu c0 = cpu_of(RUSAGE_THREAD);
    const config& c = g->c;
    const uint32_t flen = hdr_len + c.msg;
    uint64_t n = 0;
    uint64_t head = 0; // byte ring
    waiter w;
    if (is_bare(c.path)) {
        // Slots of 2,176 bytes (an mbuf's buffer) in DPDK memory; message + LF written in place.
        uint64_t sh = 0;
        while (rte_rdtsc() < g->deadline && !g->abort.load(std::memory_order_relaxed)) {
            wait_for_room(
                [&] { return g->n_slots - (sh - g->slot_tail.load(std::memory_order_acquire)); },
                burst, g->n_slots, w);
            w.reset();
            for (uint32_t i = 0; i < burst; ++i) {
                char* s = g->slots + ((sh + i) % g->n_slots) * RTE_MBUF_DEFAULT_BUF_SIZE;
                std::memcpy(s, g->frame + hdr_len, c.msg);
                s[c.msg] = '\n';
                next_seq();
                if (c.path == path_kind::bare_chunk) {
                    ring_append(head, s, c.msg, false, w);
                }
            }
            sh += burst;
            n += burst;
            if (c.path == path_kind::bare_chunk) {
                g->slot_tail.store(sh, std::memory_order_release); // slots free at once
                g->chunk_pub.store(head, std::memory_order_release);
            } else {
                g->slot_head.store(sh, std::memory_order_release);
            }
        }
    } else {
        rte_mbuf* m[burst];
        desc d[burst];
        const bool nt = c.path == path_kind::chunk_nt;
        while (rte_rdtsc() < g->deadline && !g->abort.load(std::memory_order_relaxed)) {
            // RX: fresh mbufs from the pool, the frame copied in (net_pcap's copy), RX time.
            bool have_mbufs = rte_pktmbuf_alloc_bulk(g->pool, m, burst) == 0;
            while (!have_mbufs && !g->abort.load(std::memory_order_relaxed)) {
                // The sink holds them all (not expected: the rings bound what it holds).
                wait_for_room([] { return rte_mempool_avail_count(g->pool); }, 4 * burst,
                              g->pool->size, w);
                have_mbufs = rte_pktmbuf_alloc_bulk(g->pool, m, burst) == 0;
            }
            if (!have_mbufs) {
                break;
            }
            w.reset();
            const uint64_t now = rte_rdtsc();
            for (uint32_t i = 0; i < burst; ++i) {
                char* p = rte_pktmbuf_mtod(m[i], char*);
                std::memcpy(p, g->frame, flen);
                next_seq();
                m[i]->data_len = static_cast<uint16_t>(flen);
                m[i]->pkt_len = flen;
                rx_tsc(m[i]) = now;
            }
            // Worker: hand the messages over.
            if (uses_descs(c.path)) {
                for (uint32_t i = 0; i < burst; ++i) {
                    d[i] = desc{m[i], hdr_len, c.msg};
                }
                while (rte_ring_enqueue_bulk_elem(g->descs, d, sizeof(desc), burst, nullptr) == 0) {
                    if (g->abort.load(std::memory_order_relaxed)) {
                        rte_pktmbuf_free_bulk(m, burst);
                        break;
                    }
                    wait_for_room([] { return rte_ring_free_count(g->descs); }, burst,
                                  desc_ring_size, w);
                }
                w.reset();
            } else if (c.path == path_kind::chunk_desc) {
                for (uint32_t i = 0; i < burst; ++i) {
                    const uint64_t at = head;
                    ring_append(head, rte_pktmbuf_mtod_offset(m[i], const char*, hdr_len), c.msg,
                                false, w);
                    // The ring position in the pointer's place (a generated piece).
                    // ... and its RX time (us since the run started) in the offset's.
                    d[i] = desc{reinterpret_cast<rte_mbuf*>(at),
                                static_cast<uint32_t>((now - g->t0) / g->tsc_per_us), c.msg + 1};
                }
                rte_pktmbuf_free_bulk(m, burst);
                while (rte_ring_enqueue_bulk_elem(g->descs, d, sizeof(desc), burst, nullptr) == 0) {
                    if (g->abort.load(std::memory_order_relaxed)) {
                        break;
                    }
                    wait_for_room([] { return rte_ring_free_count(g->descs); }, burst,
                                  desc_ring_size, w);
                }
            } else {
                for (uint32_t i = 0; i < burst; ++i) {
                    ring_append(head, rte_pktmbuf_mtod_offset(m[i], const char*, hdr_len), c.msg,
                                nt, w);
                }
                rte_pktmbuf_free_bulk(m, burst);
                if (nt) {
                    _mm_sfence();
                }
                push_mark(head, burst, now, w);
            }
            n += burst;
        }
    }
    g->prod_cpu = minus(cpu_of(RUSAGE_THREAD), c0);
    g->produced = n;
    g->produced_bytes = n * (c.msg + 1);
    g->producer_done.store(true, std::memory_order_release);
    return 0;
}

/// Writes all of [p, p + n) at @p off (pwrite, or send on a socket). @return false on error.
bool write_all(const char* p, uint64_t n, uint64_t off, bool sock, uint64_t& calls) {
    while (n != 0) {
        const ssize_t r =
            sock ? ::send(g->fd, p, n, 0) : ::pwrite(g->fd, p, n, static_cast<off_t>(off));
        ++calls;
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::snprintf(g_write_error, sizeof g_write_error, "%s at offset %llu: %s",
                          sock ? "send" : "pwrite", static_cast<unsigned long long>(off),
                          std::strerror(errno));
            return false;
        }
        p += r;
        off += static_cast<uint64_t>(r);
        n -= static_cast<uint64_t>(r);
    }
    return true;
}

/// Writes iovecs whole (pwritev or sendmsg), resuming after partial writes.
bool writev_all(iovec* iov, int cnt, uint64_t off, bool sock, uint64_t& calls) {
    int i = 0;
    while (i < cnt) {
        ssize_t r;
        if (sock) {
            msghdr mh{};
            mh.msg_iov = iov + i;
            mh.msg_iovlen = static_cast<size_t>(cnt - i);
            r = ::sendmsg(g->fd, &mh, 0);
        } else {
            r = ::pwritev(g->fd, iov + i, cnt - i, static_cast<off_t>(off));
        }
        ++calls;
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::snprintf(g_write_error, sizeof g_write_error, "%s at offset %llu: %s",
                          sock ? "sendmsg" : "pwritev", static_cast<unsigned long long>(off),
                          std::strerror(errno));
            return false;
        }
        off += static_cast<uint64_t>(r);
        auto left = static_cast<uint64_t>(r);
        while (i < cnt && left >= iov[i].iov_len) {
            left -= iov[i].iov_len;
            ++i;
        }
        if (left != 0) {
            iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
            iov[i].iov_len -= left;
        }
    }
    return true;
}

/// Consumer of descriptor paths (iov, sink-copy, tcp-iov): logagg's file sink, reduced to what
/// touches memory: per record the mbuf header (cost_of: nb_segs, buf_len; the data pointer;
/// time_one: the RX dynfield) and the message (prefetch, then the kernel's or our copy).
bool consume_descs(result& res, char* copy_buf) {
    static constexpr char newline = '\n';
    const config& c = g->c;
    const bool sock = c.path == path_kind::tcp_iov;
    desc d[iov_batch_records];
    iovec iov[IOV_MAX];
    rte_mbuf* to_free[iov_batch_records];
    uint32_t have = 0;
    uint64_t oldest = 0;
    uint64_t off = 0;
    uint64_t pinned = 0; // as record_queue::pinned_
    waiter w;
    const uint64_t age_tsc = batch_age_us * g->tsc_per_us;
    for (;;) {
        const bool done = g->producer_done.load(std::memory_order_acquire);
        const unsigned n = rte_ring_dequeue_burst_elem(g->descs, &d[have], sizeof(desc),
                                                       iov_batch_records - have, nullptr);
        if (n != 0 && have == 0) {
            oldest = rte_rdtsc();
        }
        for (unsigned i = have; i < have + n; ++i) {
            const rte_mbuf* m = d[i].pkt; // cost_of(): the mbuf header, first line
            pinned += static_cast<uint64_t>(m->nb_segs) * (m->buf_len + sizeof(rte_mbuf));
        }
        have += n;
        const bool due =
            have == iov_batch_records || (have != 0 && (done || rte_rdtsc() - oldest >= age_tsc));
        if (!due) {
            if (done && have == 0 && rte_ring_count(g->descs) == 0) {
                return true;
            }
            if (n == 0) {
                w.wait();
            }
            continue;
        }
        w.reset();
        uint64_t bytes = 0;
        if (c.path == path_kind::sink_copy) {
            char* at = copy_buf;
            for (uint32_t i = 0; i < have; ++i) {
                const char* p = rte_pktmbuf_mtod_offset(d[i].pkt, const char*, d[i].off);
                std::memcpy(at, p, d[i].len);
                at[d[i].len] = '\n';
                at += d[i].len + 1;
            }
            bytes = static_cast<uint64_t>(at - copy_buf);
            if (!write_all(copy_buf, bytes, off, false, res.syscalls)) {
                return false;
            }
        } else {
            int k = 0;
            for (uint32_t i = 0; i < have; ++i) {
                const char* p = rte_pktmbuf_mtod_offset(d[i].pkt, const char*, d[i].off);
                for (uint32_t line = 0; line < d[i].len; line += RTE_CACHE_LINE_SIZE) {
                    rte_prefetch0(p + line);
                }
                iov[k++] = iovec{const_cast<char*>(p), d[i].len};
                iov[k++] = iovec{const_cast<char*>(&newline), 1};
                bytes += d[i].len + 1;
            }
            if (!writev_all(iov, k, off, sock, res.syscalls)) {
                return false;
            }
        }
        off += bytes;
        // Released after the write: timed (the RX dynfield), the references dropped.
        const uint64_t now_us = rte_rdtsc() / g->tsc_per_us;
        for (uint32_t i = 0; i < have; ++i) {
            rte_mbuf* m = d[i].pkt;
            res.lat_sum_us += now_us - rx_tsc(m) / g->tsc_per_us;
            pinned -= static_cast<uint64_t>(m->nb_segs) * (m->buf_len + sizeof(rte_mbuf));
            to_free[i] = m;
        }
        rte_pktmbuf_free_bulk(to_free, have);
        res.records += have;
        res.bytes += bytes;
        res.pinned_left = pinned;
        have = 0;
    }
}

/// Consumer of chunk-desc: per record a descriptor of its bytes in the byte ring, a batch of up to
/// 1,024 records (logagg's batch-records), adjacent pieces merged into one iovec.
bool consume_gen_descs(result& res) {
    constexpr uint32_t batch = 1024;
    desc d[batch];
    iovec iov[8];
    uint32_t have = 0;
    uint64_t oldest = 0;
    uint64_t off = 0;
    uint64_t queued_bytes = 0; // as record_queue::waiting_bytes_
    waiter w;
    const uint64_t age_tsc = batch_age_us * g->tsc_per_us;
    for (;;) {
        const bool done = g->producer_done.load(std::memory_order_acquire);
        const unsigned n = rte_ring_dequeue_burst_elem(
            g->descs, &d[have], sizeof(desc), std::min<uint32_t>(batch - have, 256), nullptr);
        if (n != 0 && have == 0) {
            oldest = rte_rdtsc();
        }
        for (unsigned i = have; i < have + n; ++i) {
            queued_bytes += d[i].len; // per-record bookkeeping: its own memory only
        }
        have += n;
        const bool due = have == batch || (have != 0 && (done || rte_rdtsc() - oldest >= age_tsc));
        if (!due) {
            if (done && have == 0 && rte_ring_count(g->descs) == 0) {
                return true;
            }
            if (n == 0) {
                w.wait();
            }
            continue;
        }
        w.reset();
        int k = 0;
        uint64_t bytes = 0;
        for (uint32_t i = 0; i < have; ++i) {
            const auto pos = reinterpret_cast<uint64_t>(d[i].pkt);
            const uint64_t at = pos % g->ring_size;
            const uint64_t first = std::min<uint64_t>(d[i].len, g->ring_size - at);
            char* p = g->ring + at;
            // iov_batch::push(): a piece right after the previous one extends its iovec.
            if (k != 0 && static_cast<char*>(iov[k - 1].iov_base) + iov[k - 1].iov_len == p) {
                iov[k - 1].iov_len += first;
            } else {
                iov[k++] = iovec{p, first};
            }
            if (first < d[i].len) { // wraps: the rest from the start of the ring
                iov[k++] = iovec{g->ring, d[i].len - first};
            }
            bytes += d[i].len;
            if (k >= 6 && i + 1 < have) {
                // Not expected (the batch spans at most one wrap); write what is built.
                if (!writev_all(iov, k, off, false, res.syscalls)) {
                    return false;
                }
                off += bytes;
                res.bytes += bytes;
                bytes = 0;
                k = 0;
            }
        }
        if (k != 0 && !writev_all(iov, k, off, false, res.syscalls)) {
            return false;
        }
        off += bytes;
        res.bytes += bytes;
        const uint64_t now_us = (rte_rdtsc() - g->t0) / g->tsc_per_us;
        for (uint32_t i = 0; i < have; ++i) {
            queued_bytes -= d[i].len;
            res.lat_sum_us += now_us - d[i].off;
        }
        const desc& last = d[have - 1];
        g->released.store(reinterpret_cast<uint64_t>(last.pkt) + last.len,
                          std::memory_order_release);
        res.records += have;
        res.pinned_left = queued_bytes;
        have = 0;
    }
}

/// The marks not yet accounted, in order (consumer side).
struct mark_fifo {
    static constexpr uint32_t cap = 8192;
    mark m[cap];
    uint32_t head = 0, tail = 0;
    uint64_t last_end = 0; ///< end of the newest mark taken
    uint64_t oldest_tsc = 0;
    void pull() {
        mark tmp[64];
        const unsigned n = rte_ring_dequeue_burst_elem(
            g->marks, tmp, sizeof(mark), std::min<uint32_t>(64, cap - (tail - head)), nullptr);
        for (unsigned i = 0; i < n; ++i) {
            if (tail == head) {
                oldest_tsc = rte_rdtsc();
            }
            m[tail++ % cap] = tmp[i];
            last_end = tmp[i].end;
        }
    }
    /// Counts the records whose last byte is below @p written as delivered.
    void settle(uint64_t written, result& res) {
        const uint64_t now_us = (rte_rdtsc() - g->t0) / g->tsc_per_us;
        while (head != tail && m[head % cap].end <= written) {
            const mark& k = m[head++ % cap];
            res.records += k.records;
            res.lat_sum_us += (now_us - k.rx_us) * k.records;
            oldest_tsc = rte_rdtsc(); // the rest arrived no earlier than these left
        }
    }
};

/// Writes [from, to) of the byte ring at file offset @p from: whole, or, O_DIRECT, the partial
/// last block padded with zeros from a bounce buffer (the caller cuts the file back).
bool write_ring_span(uint64_t from, uint64_t to, bool sock, char* bounce, uint64_t& calls) {
    const char* p = g->ring + from % g->ring_size;
    const uint64_t n = to - from;
    if (!is_direct(g->c.path) || n % dio_align == 0) {
        return write_all(p, n, from, sock, calls);
    }
    const uint64_t whole = n - n % dio_align;
    if (whole != 0 && !write_all(p, whole, from, false, calls)) {
        return false;
    }
    std::memset(bounce, 0, dio_align);
    std::memcpy(bounce, p + whole, n - whole);
    return write_all(bounce, dio_align, from + whole, false, calls);
}

/// Consumer of the byte-ring paths with blocking writes (bare-chunk, chunk, chunk-nt, direct,
/// tcp-chunk): a write when a whole chunk is there (never across a chunk boundary), or when the
/// oldest mark is batch-ms old, or at the end.
bool consume_ring(result& res, mark_fifo& f, char* bounce) {
    const config& c = g->c;
    const bool sock = c.path == path_kind::tcp_chunk;
    const bool bare = c.path == path_kind::bare_chunk;
    const uint64_t age_tsc = batch_age_us * g->tsc_per_us;
    uint64_t written = 0;
    uint64_t bare_since = 0; // bare-chunk: when bytes beyond `written` were first seen
    waiter w;
    for (;;) {
        const bool done = g->producer_done.load(std::memory_order_acquire);
        uint64_t avail_end;
        uint64_t oldest;
        if (bare) {
            avail_end = g->chunk_pub.load(std::memory_order_acquire);
            if (bare_since == 0 && avail_end > written) {
                bare_since = rte_rdtsc();
            }
            oldest = bare_since;
        } else {
            f.pull();
            avail_end = f.last_end;
            oldest = f.oldest_tsc;
        }
        const uint64_t boundary = (written / c.chunk + 1) * c.chunk;
        uint64_t to = std::min(avail_end, boundary);
        // The producer has stopped and every mark is taken (the FIFO takes at most 64 a turn:
        // "done" alone may leave some in the ring, and a padded block before them would leave
        // the next write unaligned).
        const bool last = done && avail_end == g->produced_bytes;
        if (is_direct(c.path) && to != boundary && !last) {
            to -= to % dio_align; // whole blocks only, until the end
        }
        const bool due =
            to > written && (to == boundary || done || rte_rdtsc() - oldest >= age_tsc);
        if (!due) {
            if (done && written == g->produced_bytes) {
                return true;
            }
            w.wait();
            continue;
        }
        w.reset();
        if (!write_ring_span(written, to, sock, bounce, res.syscalls)) {
            return false;
        }
        res.bytes += to - written;
        written = to;
        g->released.store(written, std::memory_order_release);
        if (bare) {
            res.records = written / (c.msg + 1);
            bare_since = 0;
        } else {
            f.settle(written, res);
        }
    }
}

#ifdef LOGAGG_HAVE_LIBURING
/// Consumer with io_uring: chunks as IORING_OP_WRITE_FIXED on the registered byte ring and file,
/// up to @p depth in flight; completions may come out of order, bytes are released in order.
bool consume_uring(result& res, mark_fifo& f, char* bounce, uint32_t depth) {
    const config& c = g->c;
    const uint64_t age_tsc = batch_age_us * g->tsc_per_us;
    io_uring ring{};
    if (int e = io_uring_queue_init(64, &ring, 0); e < 0) {
        res.note = std::string("io_uring_queue_init: ") + std::strerror(-e);
        return false;
    }
    iovec reg{g->ring, g->ring_cap};
    const bool fixed_buf = io_uring_register_buffers(&ring, &reg, 1) == 0;
    const bool fixed_file = io_uring_register_files(&ring, &g->fd, 1) == 0;
    struct slot {
        uint64_t from, to;
        bool done;
    };
    slot inflight[64];
    uint64_t sub = 0, comp = 0; // slots submitted / released (in order)
    uint64_t queued_end = 0;    // byte ring: submitted up to
    uint64_t written = 0;       // byte ring: completed in order up to
    bool ok = true;
    waiter w;
    for (;;) {
        const bool done = g->producer_done.load(std::memory_order_acquire);
        f.pull();
        bool submitted = false;
        while (sub - comp < depth) {
            const uint64_t boundary = (queued_end / c.chunk + 1) * c.chunk;
            uint64_t to = std::min(f.last_end, boundary);
            // As in consume_ring: the padded last block only once every mark is taken.
            if (is_direct(c.path) && to != boundary && !(done && f.last_end == g->produced_bytes)) {
                to -= to % dio_align;
            }
            const bool due = to > queued_end &&
                             (to == boundary || done || rte_rdtsc() - f.oldest_tsc >= age_tsc);
            if (!due) {
                break;
            }
            if (is_direct(c.path) && (to - queued_end) % dio_align != 0) {
                // The last partial block: the blocking padded write, after what is in flight
                // (submitted first: io_uring_wait_cqe() does not submit).
                io_uring_submit(&ring);
                submitted = false;
                while (comp != sub && ok) {
                    io_uring_cqe* cqe = nullptr;
                    if (io_uring_wait_cqe(&ring, &cqe) != 0) {
                        ok = false;
                        break;
                    }
                    inflight[cqe->user_data % 64].done = true;
                    io_uring_cqe_seen(&ring, cqe);
                    while (comp != sub && inflight[comp % 64].done) {
                        res.bytes += inflight[comp % 64].to - inflight[comp % 64].from;
                        written = inflight[comp++ % 64].to;
                    }
                }
                if (!ok || !write_ring_span(queued_end, to, false, bounce, res.syscalls)) {
                    ok = false;
                    break;
                }
                res.bytes += to - queued_end;
                queued_end = written = to;
                g->released.store(written, std::memory_order_release);
                f.settle(written, res);
                continue;
            }
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            if (sqe == nullptr) {
                break;
            }
            char* p = g->ring + queued_end % g->ring_size;
            const auto len = static_cast<unsigned>(to - queued_end);
            if (fixed_buf) {
                io_uring_prep_write_fixed(sqe, fixed_file ? 0 : g->fd, p, len, queued_end, 0);
            } else {
                io_uring_prep_write(sqe, fixed_file ? 0 : g->fd, p, len, queued_end);
            }
            if (fixed_file) {
                sqe->flags |= IOSQE_FIXED_FILE;
            }
            sqe->user_data = sub;
            inflight[sub % 64] = slot{queued_end, to, false};
            ++sub;
            queued_end = to;
            f.oldest_tsc = rte_rdtsc();
            submitted = true;
        }
        if (!ok) {
            break;
        }
        if (submitted) {
            io_uring_submit(&ring);
            ++res.syscalls;
        }
        // Completions: without waiting, unless nothing else can be done.
        bool reaped = false;
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
            slot& s = inflight[cqe->user_data % 64];
            if (cqe->res != static_cast<int>(s.to - s.from)) {
                // A short write would be resumed from where it stopped; here it is an error.
                res.note = cqe->res < 0 ? std::string("io_uring write: ") + std::strerror(-cqe->res)
                                        : "io_uring: short write";
                ok = false;
            }
            s.done = true;
            io_uring_cqe_seen(&ring, cqe);
            reaped = true;
        }
        if (!ok) {
            break;
        }
        while (comp != sub && inflight[comp % 64].done) {
            res.bytes += inflight[comp % 64].to - inflight[comp % 64].from;
            written = inflight[comp++ % 64].to;
        }
        if (reaped) {
            g->released.store(written, std::memory_order_release);
            f.settle(written, res);
        }
        if (submitted || reaped) {
            w.reset();
            continue;
        }
        if (done && written == g->produced_bytes && f.last_end == written) {
            break;
        }
        if (sub - comp == depth) {
            if (io_uring_wait_cqe(&ring, &cqe) != 0) { // sleeps until a write completes
                ok = false;
                break;
            }
            continue; // reaped above on the next turn
        }
        w.wait();
    }
    io_uring_queue_exit(&ring);
    return ok;
}
#endif

/// The discard server of the TCP paths: reads into 1 MiB until EOF.
struct discard_server {
    int lfd = -1;
    uint16_t port = 0;
    std::thread t;
    uint64_t got = 0;
    thread_cpu cpu;
    bool start() {
        lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof a;
        if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(lfd, 1) != 0 ||
            ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &al) != 0) {
            return false;
        }
        port = ntohs(a.sin_port);
        t = std::thread([this] {
            const int c = ::accept(lfd, nullptr, nullptr);
            std::vector<char> buf(1 << 20);
            const thread_cpu c0 = cpu_of(RUSAGE_THREAD);
            for (;;) {
                const ssize_t r = ::read(c, buf.data(), buf.size());
                if (r <= 0) {
                    break;
                }
                got += static_cast<uint64_t>(r);
            }
            cpu = minus(cpu_of(RUSAGE_THREAD), c0);
            ::close(c);
        });
        return true;
    }
    int connect_to() const {
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        const int one = 1;
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // as logagg's tcp sink
        if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(s);
            return -1;
        }
        return s;
    }
    void finish() {
        if (t.joinable()) {
            t.join();
        }
        ::close(lfd);
    }
};

/// Reads the file back: every line is the message length, the sequence numbers follow on.
std::string verify_file(const std::string& path, uint64_t records, uint32_t msg) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return "cannot reopen the output";
    }
    struct stat st {};
    fstat(fd, &st);
    if (static_cast<uint64_t>(st.st_size) != records * (msg + 1)) {
        ::close(fd);
        return "file size " + std::to_string(st.st_size) +
               " != " + std::to_string(records * (msg + 1));
    }
    std::vector<char> buf((msg + 1) * 4096);
    uint64_t expect = 0, off = 0;
    std::string err;
    const uint32_t so = seq_off - hdr_len;
    while (err.empty()) {
        const ssize_t r = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
        if (r <= 0) {
            break;
        }
        for (ssize_t i = 0; i + msg + 1 <= r; i += msg + 1) {
            const char* l = buf.data() + i;
            if (l[msg] != '\n' || std::strtoull(std::string(l + so, 10).c_str(), nullptr, 10) !=
                                      expect % 10'000'000'000ULL) {
                err = "record " + std::to_string(expect) + " is not the one sent";
                break;
            }
            ++expect;
        }
        off += static_cast<uint64_t>(r) - static_cast<uint64_t>(r) % (msg + 1);
    }
    ::close(fd);
    return err;
}

/// One run of @p c for @p seconds. @p verify: read the output back.
result run_one(const config& c, double seconds, uint32_t depth, bool verify) {
    result res;
    g_write_error[0] = '\0';
    g->c = c;
    g->released.store(0);
    g->slot_head.store(0);
    g->slot_tail.store(0);
    g->chunk_pub.store(0);
    g->go.store(false);
    g->producer_done.store(false);
    g->abort.store(false);
    g->produced = g->produced_bytes = 0;
    g->ring_size = std::min<uint64_t>(c.chunk * ring_chunks, g->ring_cap);
    make_frame(c.msg);
    std::string path;
    discard_server srv;
    if (is_tcp(c.path)) {
        if (!srv.start() || (g->fd = srv.connect_to()) < 0) {
            res.note = "no loopback TCP";
            srv.finish();
            return res;
        }
    } else {
        path = c.dir + "/logagg-file-paths-" + std::to_string(getpid()) + ".tmp";
        int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
        if (is_direct(c.path)) {
            flags |= O_DIRECT;
        }
        g->fd = ::open(path.c_str(), flags, 0644);
        if (g->fd < 0) {
            res.note = std::string("open") + (is_direct(c.path) ? " O_DIRECT" : "") + ": " +
                       std::strerror(errno);
            ::unlink(path.c_str());
            return res;
        }
    }
    std::vector<char> copy_buf(iov_batch_records * (c.msg + 1));
    char* bounce = static_cast<char*>(std::aligned_alloc(dio_align, dio_align));
    auto* fifo = new mark_fifo();
    rte_eal_remote_launch(producer, nullptr, rte_get_next_lcore(rte_lcore_id(), 1, 0));
    const thread_cpu self0 = cpu_of(RUSAGE_SELF);
    const thread_cpu c0 = cpu_of(RUSAGE_THREAD);
    const uint64_t t0 = rte_rdtsc();
    g->t0 = t0;
    g->deadline = t0 + static_cast<uint64_t>(seconds * static_cast<double>(rte_get_tsc_hz()));
    g->go.store(true, std::memory_order_release);
    bool ok = false;
    if (c.path == path_kind::bare_iov) {
        // 1,024 slots (message + LF in place) per pwritev.
        iovec iov[IOV_MAX];
        uint64_t st = 0, off = 0;
        waiter w;
        ok = true;
        for (;;) {
            const bool done = g->producer_done.load(std::memory_order_acquire);
            const uint64_t sh = g->slot_head.load(std::memory_order_acquire);
            const uint64_t n = std::min<uint64_t>(sh - st, IOV_MAX);
            if (n < IOV_MAX && !(done && n != 0)) {
                if (done && n == 0) {
                    break;
                }
                w.wait();
                continue;
            }
            w.reset();
            for (uint64_t i = 0; i < n; ++i) {
                iov[i] = iovec{g->slots + ((st + i) % g->n_slots) * RTE_MBUF_DEFAULT_BUF_SIZE,
                               c.msg + 1u};
            }
            if (!writev_all(iov, static_cast<int>(n), off, false, res.syscalls)) {
                ok = false;
                break;
            }
            off += n * (c.msg + 1);
            st += n;
            g->slot_tail.store(st, std::memory_order_release);
            res.records += n;
            res.bytes += n * (c.msg + 1);
        }
    } else if (uses_descs(c.path)) {
        ok = consume_descs(res, copy_buf.data());
    } else if (c.path == path_kind::chunk_desc) {
        ok = consume_gen_descs(res);
    } else if (is_uring(c.path)) {
#ifdef LOGAGG_HAVE_LIBURING
        ok = consume_uring(res, *fifo, bounce, depth);
#else
        res.note = "built without liburing";
#endif
    } else {
        ok = consume_ring(res, *fifo, bounce);
    }
    const uint64_t t1 = rte_rdtsc();
    res.cons = minus(cpu_of(RUSAGE_THREAD), c0);
    if (!ok && res.note.empty()) {
        res.note = g_write_error;
    }
    if (!ok) {
        g->abort.store(true); // the producer stops waiting for room and ends
    }
    rte_eal_mp_wait_lcore();
    {
        // What a failed run left in the rings: the mbufs go back, the marks away.
        desc d[64];
        unsigned n;
        while ((n = rte_ring_dequeue_burst_elem(g->descs, d, sizeof(desc), 64, nullptr)) != 0) {
            for (unsigned i = 0; i < n; ++i) {
                rte_pktmbuf_free(d[i].pkt);
            }
        }
        mark mk[64];
        while (rte_ring_dequeue_burst_elem(g->marks, mk, sizeof(mark), 64, nullptr) != 0) {
        }
    }
    if (is_tcp(c.path)) {
        ::shutdown(g->fd, SHUT_WR);
        srv.finish();
        res.server = srv.cpu;
        if (ok && srv.got != g->produced_bytes) {
            res.note = "discard server got " + std::to_string(srv.got) + " bytes of " +
                       std::to_string(g->produced_bytes);
            ok = false;
        }
    }
    res.self = minus(cpu_of(RUSAGE_SELF), self0);
    res.prod = g->prod_cpu;
    res.wall = static_cast<double>(t1 - t0) / static_cast<double>(rte_get_tsc_hz());
    if (ok && is_direct(c.path) && res.bytes % dio_align != 0) {
        // The padded last block: cut the file back to what was written.
        if (::ftruncate(g->fd, static_cast<off_t>(res.bytes)) != 0) {
            res.note = std::string("ftruncate: ") + std::strerror(errno);
            ok = false;
        }
    }
    ::close(g->fd);
    g->fd = -1;
    if (ok && res.pinned_left != 0) {
        res.note = "mbuf memory still counted at the end";
        ok = false;
    }
    if (ok && res.records != g->produced) {
        res.note = "wrote " + std::to_string(res.records) + " of " + std::to_string(g->produced);
        ok = false;
    }
    if (ok && verify && !path.empty()) {
        res.note = verify_file(path, res.records, c.msg);
        ok = res.note.empty();
    }
    if (!path.empty()) {
        ::unlink(path.c_str());
    }
    std::free(bounce);
    delete fifo;
    res.ok = ok;
    return res;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::size_t a = 0;
    while (a <= s.size()) {
        const std::size_t b = s.find(',', a);
        out.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
        if (b == std::string::npos) {
            break;
        }
        a = b + 1;
    }
    return out;
}

uint64_t parse_size(const std::string& s) {
    char* end = nullptr;
    uint64_t v = std::strtoull(s.c_str(), &end, 10);
    if (*end == 'K' || *end == 'k') {
        v <<= 10;
    } else if (*end == 'M' || *end == 'm') {
        v <<= 20;
    }
    return v;
}

double median(std::vector<double> v) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string dir_label(const std::string& d) {
    if (d.empty()) {
        return "loopback";
    }
    return d.rfind("/dev/shm", 0) == 0 ? "tmpfs" : "disk";
}

std::string chunk_label(uint64_t c) {
    return c >= (1 << 20) ? std::to_string(c >> 20) + "M" : std::to_string(c >> 10) + "K";
}

int usage(const char* why) {
    std::fprintf(stderr, "logagg-file-paths: %s\n", why);
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        std::fprintf(stderr, "logagg-file-paths: EAL init failed\n");
        return 1;
    }
    argc -= eal;
    argv += eal;
    std::vector<std::string> paths = {"bare-iov", "bare-chunk", "iov", "chunk"};
    std::vector<std::string> dirs = {"/dev/shm"};
    std::vector<uint32_t> sizes = {250};
    std::vector<uint64_t> chunks = {256 << 10};
    double seconds = 1.5;
    int rounds = 3;
    uint32_t depth = 4;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            return usage(("missing value after " + a).c_str());
        }
        const std::string v = argv[++i];
        if (a == "--paths") {
            paths = split(v);
        } else if (a == "--dirs") {
            dirs = split(v);
        } else if (a == "--sizes") {
            sizes.clear();
            for (const std::string& s : split(v)) {
                sizes.push_back(static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 10)));
            }
        } else if (a == "--chunks") {
            chunks.clear();
            for (const std::string& s : split(v)) {
                chunks.push_back(parse_size(s));
            }
        } else if (a == "--seconds") {
            seconds = std::strtod(v.c_str(), nullptr);
        } else if (a == "--rounds") {
            rounds = std::atoi(v.c_str());
        } else if (a == "--wait") {
            if (v != "spin" && v != "sleep") {
                return usage("--wait: spin or sleep");
            }
            g_spin = v == "spin";
        } else if (a == "--inflight") {
            depth = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
        } else {
            return usage(("unknown option " + a).c_str());
        }
    }
    for (uint32_t s : sizes) {
        if (s < 64 || s > 4000) {
            return usage("--sizes: 64..4000 bytes");
        }
    }
    for (uint64_t c : chunks) {
        if (c < dio_align || c % dio_align != 0 || c > (16u << 20)) {
            return usage("--chunks: multiples of 4K up to 16M");
        }
    }
    if (depth < 1 || depth > 64) {
        return usage("--inflight: 1..64");
    }
    if (rte_lcore_count() < 2) {
        std::fprintf(stderr, "logagg-file-paths: needs two lcores (-l 0-1)\n");
        return 1;
    }
    prctl(PR_SET_TIMERSLACK, 1UL); // sleeps of 20 us, not 20 + 50
    std::vector<config> cfgs;
    for (const std::string& pn : paths) {
        path_kind k{};
        bool found = false;
        for (const path_name& p : path_names) {
            if (pn == p.name) {
                k = p.k;
                found = true;
            }
        }
        if (!found) {
            return usage(("unknown path " + pn).c_str());
        }
        for (uint32_t s : sizes) {
            const std::vector<uint64_t> cs =
                uses_ring(k) ? chunks : std::vector<uint64_t>{chunks.front()};
            for (uint64_t ch : cs) {
                if (is_tcp(k)) {
                    cfgs.push_back(config{k, "", s, ch});
                    continue;
                }
                for (const std::string& d : dirs) {
                    cfgs.push_back(config{k, d, s, ch});
                }
            }
        }
    }

    static shared sh;
    g = &sh;
    g->tsc_per_us = std::max<uint64_t>(rte_get_tsc_hz() / 1'000'000, 1);
    // logagg's pool geometry: standard mbufs, per-lcore cache 256.
    g->pool = rte_pktmbuf_pool_create("fp_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      static_cast<int>(rte_socket_id()));
    const rte_mbuf_dynfield df{"logagg_fp_rx_tsc", sizeof(uint64_t), alignof(uint64_t), 0};
    g->rx_tsc_off = rte_mbuf_dynfield_register(&df);
    g->descs =
        rte_ring_create_elem("fp_descs", sizeof(desc), desc_ring_size,
                             static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    g->marks =
        rte_ring_create_elem("fp_marks", sizeof(mark), 4096, static_cast<int>(rte_socket_id()),
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
    uint64_t max_chunk = 0;
    for (uint64_t c : chunks) {
        max_chunk = std::max(max_chunk, c);
    }
    g->ring_cap = max_chunk * ring_chunks;
    g->ring = static_cast<char*>(rte_zmalloc("fp_ring", g->ring_cap, dio_align));
    g->n_slots = desc_ring_size;
    g->slots = static_cast<char*>(
        rte_zmalloc("fp_slots", uint64_t{g->n_slots} * RTE_MBUF_DEFAULT_BUF_SIZE, 4096));
    if (g->pool == nullptr || g->rx_tsc_off < 0 || g->descs == nullptr || g->marks == nullptr ||
        g->ring == nullptr || g->slots == nullptr) {
        std::fprintf(stderr, "logagg-file-paths: DPDK memory: %s (give EAL more with -m)\n",
                     rte_strerror(rte_errno));
        return 1;
    }
    // Every mbuf's buffer written once now: without hugepages, DPDK's memory is faulted in on
    // first touch, which would land in the first run's figures.
    rte_mempool_obj_iter(
        g->pool,
        [](rte_mempool*, void*, void* obj, unsigned) {
            auto* m = static_cast<rte_mbuf*>(obj);
            std::memset(m->buf_addr, 0, m->buf_len);
        },
        nullptr);
    // rte_zmalloc() skips the memset on memory it knows to be fresh: touch it here too.
    std::memset(g->ring, 0, g->ring_cap);
    std::memset(g->slots, 0, uint64_t{g->n_slots} * RTE_MBUF_DEFAULT_BUF_SIZE);
    const rte_memseg_list* msl = rte_mem_virt2memseg_list(g->ring);
    const uint64_t page = msl != nullptr ? msl->page_sz : 0;
    std::printf("# logagg-file-paths: %u configurations x %d rounds of %.1f s, interleaved; "
                "DPDK memory in %s pages; io_uring depth %u; idle sides %s\n",
                static_cast<unsigned>(cfgs.size()), rounds, seconds,
                page >= (2u << 20) ? "2 MiB huge" : "4 KiB", depth, g_spin ? "busy-poll" : "sleep");
    std::fflush(stdout);

    // One short unrecorded run of each configuration first: the first run of a configuration
    // that fills a file with new pages was 3-10x slower here (page allocation, the VM's memory
    // faulted in on first use), whatever the order.
    for (std::size_t i = 0; i < cfgs.size(); ++i) {
        (void)run_one(cfgs[i], 0.3, depth, false);
    }
    std::map<std::size_t, std::vector<result>> all;
    for (int r = 0; r < rounds; ++r) {
        for (std::size_t i = 0; i < cfgs.size(); ++i) {
            result res = run_one(cfgs[i], seconds, depth, r == 0);
            if (!res.ok) {
                std::printf("# %s %s %u: %s\n", name_of(cfgs[i].path),
                            dir_label(cfgs[i].dir).c_str(), cfgs[i].msg, res.note.c_str());
            } else {
                const double n = static_cast<double>(res.records);
                std::printf("# round %d %-12s %-8s %4u %5s: %.2f M msg/s; ns/msg producer %.0f "
                            "user + %.0f sys, consumer %.0f + %.0f, process %.0f + %.0f\n",
                            r, name_of(cfgs[i].path), dir_label(cfgs[i].dir).c_str(), cfgs[i].msg,
                            chunk_label(cfgs[i].chunk).c_str(), n / res.wall / 1e6,
                            res.prod.user * 1e9 / n, res.prod.sys * 1e9 / n,
                            res.cons.user * 1e9 / n, res.cons.sys * 1e9 / n,
                            res.self.user * 1e9 / n, res.self.sys * 1e9 / n);
            }
            std::fflush(stdout);
            all[i].push_back(res);
        }
    }

    // One table: medians (and the worst round); ratios of msg/s and of process CPU per message to
    // today's path ("iov", "tcp-iov" for TCP) on the same target and message size.
    struct row {
        double mps, mps_min, prod, cons, self, self_max, lat, calls, srv;
    };
    std::map<std::size_t, row> rows;
    std::map<std::size_t, std::string> failed; // configurations with no good round: why
    for (auto& [i, v] : all) {
        std::vector<double> mps, prod, cons, self, lat, calls, srv;
        for (const result& r : v) {
            if (!r.ok || r.records == 0) {
                continue;
            }
            const double n = static_cast<double>(r.records);
            mps.push_back(n / r.wall);
            prod.push_back((r.prod.user + r.prod.sys) * 1e6 / n);
            cons.push_back((r.cons.user + r.cons.sys) * 1e6 / n);
            self.push_back((r.self.user + r.self.sys) * 1e6 / n);
            lat.push_back(static_cast<double>(r.lat_sum_us) / n);
            calls.push_back(n / static_cast<double>(std::max<uint64_t>(r.syscalls, 1)));
            srv.push_back((r.server.user + r.server.sys) * 1e6 / n);
        }
        if (!mps.empty()) {
            rows[i] = row{median(mps),  *std::min_element(mps.begin(), mps.end()),
                          median(prod), median(cons),
                          median(self), *std::max_element(self.begin(), self.end()),
                          median(lat),  median(calls),
                          median(srv)};
        } else if (!v.empty()) {
            failed[i] = v.front().note.empty() ? "no record written" : v.front().note;
        }
    }
    std::printf(
        "\n| path | target | msg B | chunk | M msg/s median (worst) | x iov | producer CPU us/msg "
        "| "
        "sink CPU us/msg | other threads us/msg | total CPU us/msg median (worst) | x iov | "
        "M msg/s the CPU allows | user-space copy B/msg | kernel copy B/msg | msgs/syscall | "
        "mean latency us |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                "| ---: | ---: | ---: | ---: |\n");
    for (std::size_t i = 0; i < cfgs.size(); ++i) {
        const config& c = cfgs[i];
        const std::string chunk = uses_ring(c.path) ? chunk_label(c.chunk) : "-";
        if (const auto f = failed.find(i); f != failed.end()) {
            std::printf("| %s | %s | %u | %s | refused or failed: %s | | | | | | | | | | | |\n",
                        name_of(c.path), dir_label(c.dir).c_str(), c.msg, chunk.c_str(),
                        f->second.c_str());
            continue;
        }
        const auto it = rows.find(i);
        if (it == rows.end()) {
            continue;
        }
        const row& r = it->second;
        // Today's path for this target and size: iov (tcp-iov for TCP).
        const row* base = nullptr;
        for (std::size_t j = 0; j < cfgs.size(); ++j) {
            const path_kind want = is_tcp(c.path) ? path_kind::tcp_iov : path_kind::iov;
            if (cfgs[j].path == want && cfgs[j].dir == c.dir && cfgs[j].msg == c.msg &&
                rows.count(j) != 0) {
                base = &rows[j];
            }
        }
        char ratio1[32] = "-", ratio2[32] = "-";
        if (base != nullptr) {
            std::snprintf(ratio1, sizeof ratio1, "%.2f", r.mps / base->mps);
            std::snprintf(ratio2, sizeof ratio2, "%.2f", r.self / base->self);
        }
        // The rate the CPU figures allow: the producer on its core, everything else (the
        // consumer, io_uring's workers, the discard server) on the other.
        const double cap = 1 / std::max(r.prod, r.self - r.prod);
        // Bytes copied per record (message + LF) by this process's code after RX (the
        // producer's append to the byte ring, or the sink's copy), and by the kernel: the page
        // cache copy, none for O_DIRECT on a block device (the device reads the ring), the
        // socket send and receive copies for TCP.
        const uint32_t rec = c.msg + 1;
        const uint32_t user = uses_ring(c.path) || c.path == path_kind::sink_copy ? rec : 0;
        const uint32_t kernel = is_tcp(c.path)                                    ? 2 * rec
                                : is_direct(c.path) && dir_label(c.dir) == "disk" ? 0
                                                                                  : rec;
        std::printf("| %s | %s | %u | %s | %.2f (%.2f) | %s | %.3f | %.3f | %.3f | %.3f (%.3f) | "
                    "%s | %.1f | %u | %u | %.0f | %.0f |\n",
                    name_of(c.path), dir_label(c.dir).c_str(), c.msg, chunk.c_str(), r.mps / 1e6,
                    r.mps_min / 1e6, ratio1, r.prod, r.cons,
                    std::max(0.0, r.self - r.prod - r.cons), r.self, r.self_max, ratio2, cap, user,
                    kernel, r.calls, r.lat);
    }
    for (std::size_t i = 0; i < cfgs.size(); ++i) {
        if (is_tcp(cfgs[i].path) && rows.count(i) != 0) {
            std::printf("# %s: the discard server's read() took %.3f us/msg (in the other "
                        "threads column)\n",
                        name_of(cfgs[i].path), rows[i].srv);
        }
    }
    std::fflush(stdout);
    rte_eal_cleanup();
    return 0;
}
