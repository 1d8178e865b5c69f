// SPDX-License-Identifier: BSD-3-Clause
// RFC 3164 and what real devices send: the section 5.4 examples byte for byte, every variant of
// rfc3164.hpp, year inference, every malformed class, every truncation of full examples in an
// exactly-sized heap block (ASan checks no byte outside is read), and no allocation per call.
// Epoch values were computed independently (date -u -d ... +%s).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "log/rfc3164.hpp"

namespace {

std::atomic<std::size_t> n_allocations{0};

} // namespace

// Counts every allocation of the test binary (for NoAllocationPerCall). GCC takes the free() of a
// replaced operator delete for a mismatch with the replaced operator new it sees inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    n_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

using logagg::log::input_format;
using logagg::log::log_record;
using logagg::log::parse_rfc3164;
using logagg::log::rfc3164_status;

constexpr int64_t s_ns = 1'000'000'000;
/// The receive time of every test: 2023-10-12T00:00:00Z.
constexpr int64_t now = 1697068800 * s_ns;
/// 2023-10-11T22:14:15Z
constexpr int64_t oct11 = 1697062455 * s_ns;
constexpr int64_t none = -1;

/// What a line must parse to. Fields not listed are checked to be absent.
struct want {
    std::string line;
    int sev;
    int fac;
    int64_t ts; ///< none: no timestamp
    std::string_view ts_text;
    std::string_view host;
    std::string_view app;
    std::string_view procid;
    std::string_view msg;
};

bool inside(std::string_view in, std::string_view v) {
    return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size());
}

void check(const want& w) {
    SCOPED_TRACE(w.line);
    log_record r;
    ASSERT_EQ(parse_rfc3164(w.line, now, r), rfc3164_status::ok);
    EXPECT_EQ(r.format, input_format::rfc3164);
    EXPECT_EQ(r.severity, w.sev);
    EXPECT_EQ(r.facility, w.fac);
    EXPECT_EQ(r.has_timestamp, w.ts != none);
    if (w.ts != none) {
        EXPECT_EQ(r.timestamp_ns, w.ts);
    }
    EXPECT_EQ(r.timestamp_text, w.ts_text);
    EXPECT_EQ(r.hostname, w.host);
    EXPECT_EQ(r.app_name, w.app);
    EXPECT_EQ(r.procid, w.procid);
    EXPECT_EQ(r.msgid, "");
    EXPECT_EQ(r.structured_data, "");
    EXPECT_EQ(r.message, w.msg);
    for (std::string_view v : {r.timestamp_text, r.hostname, r.app_name, r.procid, r.message}) {
        EXPECT_TRUE(inside(w.line, v));
    }
}

// RFC 3164 section 5.4, each example as it would be on the wire (the RFC's line breaks joined
// with one space).
const std::string ex1 =
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";
const std::string ex2 = "Use the BFG!";
const std::string ex2_relayed = "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!";
const std::string ex3 =
    "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  "
    "Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # "
    "Transport: Conveyer1=OK, Conveyer2=OK # %%";
const std::string ex4 = "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 "
                        "sched[0]: That's All Folks!";
const std::string ex4_relayed = "<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 "
                                "scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!";

TEST(Rfc3164, Section54Example1) {
    // The RFC: TAG "su", CONTENT "'su root' failed for lonvick on /dev/pts/8".
    check({ex1, 2, 4, oct11, "Oct 11 22:14:15", "mymachine", "su", "",
           "'su root' failed for lonvick on /dev/pts/8"});
}

TEST(Rfc3164, Section54Example2NoHeaderAndRelayed) {
    // No PRI, no header: all of it is the message. Relayed: "Use" is followed by SP, not ":",
    // so it is no TAG (the RFC keeps "Use the BFG!" whole as the content).
    check({ex2, -1, -1, none, "", "", "", "", "Use the BFG!"});
    check({ex2_relayed, 5, 1, 1675618338 * s_ns, "Feb  5 17:32:18", "10.0.0.99", "", "",
           "Use the BFG!"});
}

TEST(Rfc3164, Section54Example3DateStyleZoneAndYear) {
    // The RFC notes a relay would take "CST" for the HOSTNAME. "Mmm dd hh:mm:ss ZONE yyyy" is
    // date(1)'s output, so it is read as one stamp: 1987, the zone name skipped (taken as UTC).
    check({ex3, 5, 20, 556781640 * s_ns, "Aug 24 05:34:00 CST 1987", "mymachine", "myproc", "10",
           "%% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: "
           "Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%"});
}

TEST(Rfc3164, Section54Example4YearFirstAndRelayed) {
    // "yyyy Mmm dd hh:mm:ss" is NX-OS's form, so the stamp is read. "TZ-6" is no zone this
    // parser knows (and names like "FW-1" are real hosts), so it is the host; the next word is
    // followed by SP, so there is no tag.
    check({ex4, 0, 0, 656592721 * s_ns, "1990 Oct 22 10:52:01", "TZ-6", "", "",
           "scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"});
    // Relayed with the relay's header: Oct 22 is 10 days after `now`, so it is last year's;
    // "1990" (digits only) is no tag.
    check({ex4_relayed, 0, 0, 1666435932 * s_ns, "Oct 22 10:52:12", "scapegoat", "", "",
           "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All "
           "Folks!"});
}

TEST(Rfc3164, Timestamps) {
    const int64_t oct1 = (1697062455 - 10 * 86400) * s_ns;
    const std::vector<want> cases = {
        {"<34>Oct  1 22:14:15 mymachine su: x", 2, 4, oct1, "Oct  1 22:14:15", "mymachine", "su",
         "", "x"},
        {"<34>Oct 01 22:14:15 mymachine su: x", 2, 4, oct1, "Oct 01 22:14:15", "mymachine", "su",
         "", "x"},
        {"<34>Oct 1 22:14:15 mymachine su: x", 2, 4, oct1, "Oct 1 22:14:15", "mymachine", "su", "",
         "x"},
        {"<13>Oct 11 22:14:15.123 h a: x", 5, 1, oct11 + 123'000'000, "Oct 11 22:14:15.123", "h",
         "a", "", "x"},
        {"<13>Oct 11 22:14:15.123456 h a: x", 5, 1, oct11 + 123'456'000, "Oct 11 22:14:15.123456",
         "h", "a", "", "x"},
        {"<13>Oct 11 2023 22:14:15 h a: x", 5, 1, oct11, "Oct 11 2023 22:14:15", "h", "a", "", "x"},
        {"<13>2023 Oct 11 22:14:15.5 h a: x", 5, 1, oct11 + 500'000'000, "2023 Oct 11 22:14:15.5",
         "h", "a", "", "x"},
        {"<13>2023-10-11T22:14:15.003Z h a: x", 5, 1, oct11 + 3'000'000, "2023-10-11T22:14:15.003Z",
         "h", "a", "", "x"},
        {"<13>2023-10-12T00:14:15.123456+02:00 h a: x", 5, 1, oct11 + 123'456'000,
         "2023-10-12T00:14:15.123456+02:00", "h", "a", "", "x"},
        {"<13>2023-10-11T22:14:15.123456789Z h a: x", 5, 1, oct11 + 123'456'789,
         "2023-10-11T22:14:15.123456789Z", "h", "a", "", "x"},
        {"<13>2023-10-11T22:14:15.25 h a: x", 5, 1, oct11 + 250'000'000, "2023-10-11T22:14:15.25",
         "h", "a", "", "x"}, // no zone: UTC
        {"<13>2023-10-11T22:14:15 h a: x", 5, 1, oct11, "2023-10-11T22:14:15", "h", "a", "", "x"},
        // A stamp alone, or a stamp and a host, is a message with an empty content.
        {"<13>Oct 11 22:14:15", 5, 1, oct11, "Oct 11 22:14:15", "", "", "", ""},
        {"<13>Oct 11 22:14:15 host1 ", 5, 1, oct11, "Oct 11 22:14:15", "host1", "", "", ""},
        {"<13>Oct 11 22:14:15 host1", 5, 1, oct11, "Oct 11 22:14:15", "", "", "", "host1"},
        // Not a stamp (no "hh:" after the day, no "T"): the words are content.
        {"<13>Oct 5 meeting moved", 5, 1, none, "", "", "", "", "Oct 5 meeting moved"},
        {"<13>2023-10-11 22:14:15 x", 5, 1, none, "", "", "", "", "2023-10-11 22:14:15 x"},
        {"<13>Oct 11 2023 was: fine", 5, 1, none, "", "", "", "", "Oct 11 2023 was: fine"},
    };
    for (const want& w : cases) {
        check(w);
    }
}

TEST(Rfc3164, YearInference) {
    log_record r;
    // December read on New Year's day: last year.
    const int64_t jan1 = 1672531200 * s_ns; // 2023-01-01T00:00:00Z
    ASSERT_EQ(parse_rfc3164("<13>Dec 31 23:59:59 h a: x", jan1, r), rfc3164_status::ok);
    EXPECT_EQ(r.timestamp_ns, 1672531199 * s_ns);
    // Up to a day ahead of the receive time (clock skew, zones east of UTC): this year.
    ASSERT_EQ(parse_rfc3164("<13>Oct 12 23:59:59 h a: x", now, r), rfc3164_status::ok);
    EXPECT_EQ(r.timestamp_ns, 1697155199 * s_ns);
    // More than a day ahead: last year.
    ASSERT_EQ(parse_rfc3164("<13>Oct 13 00:00:01 h a: x", now, r), rfc3164_status::ok);
    EXPECT_EQ(r.timestamp_ns, (1697155201 - 365 * 86400) * s_ns);
    // Feb 29 with an inferred non-leap year lands on Mar 1; with a leap year it is Feb 29.
    ASSERT_EQ(parse_rfc3164("<13>Feb 29 00:00:00 h a: x", now, r), rfc3164_status::ok);
    EXPECT_EQ(r.timestamp_ns, 1677628800 * s_ns); // 2023-03-01T00:00:00Z
    const int64_t in_2024 = 1709251200 * s_ns;    // 2024-03-01T00:00:00Z
    ASSERT_EQ(parse_rfc3164("<13>Feb 29 00:00:00 h a: x", in_2024, r), rfc3164_status::ok);
    EXPECT_EQ(r.timestamp_ns, 1709164800 * s_ns); // 2024-02-29T00:00:00Z
    // An explicit year is never changed.
    ASSERT_EQ(parse_rfc3164("<13>Dec 31 2023 23:59:59 h a: x", jan1, r), rfc3164_status::ok);
    EXPECT_EQ(r.timestamp_ns, (1672531199 + 365 * 86400) * s_ns);
}

TEST(Rfc3164, HostAndTag) {
    const std::vector<want> cases = {
        // No host: the word after the stamp ends in ":" or contains "[".
        {"<13>Oct 11 22:14:15 su: x", 5, 1, oct11, "Oct 11 22:14:15", "", "su", "", "x"},
        {"<13>Oct 11 22:14:15 sshd[42]: x y", 5, 1, oct11, "Oct 11 22:14:15", "", "sshd", "42",
         "x y"},
        {"<78>Oct 11 22:14:15 CRON: x", 6, 9, oct11, "Oct 11 22:14:15", "", "CRON", "", "x"},
        // Tags with characters RFC 3164 does not allow, and without a pid.
        {"<46>Oct 11 22:14:15 h1 systemd-journald[312]: Journal started", 6, 5, oct11,
         "Oct 11 22:14:15", "h1", "systemd-journald", "312", "Journal started"},
        {"<78>Oct 11 22:14:15 h1 CRON[1234]: (root) CMD (run-parts /etc/cron.hourly)", 6, 9, oct11,
         "Oct 11 22:14:15", "h1", "CRON", "1234", "(root) CMD (run-parts /etc/cron.hourly)"},
        {"<78>Oct 11 22:14:15 h1 /usr/sbin/cron[99]: (CRON) INFO (pidfile fd = 3)", 6, 9, oct11,
         "Oct 11 22:14:15", "h1", "/usr/sbin/cron", "99", "(CRON) INFO (pidfile fd = 3)"},
        {"<22>Oct 11 22:14:15 mx1 postfix/smtpd[123]: connect from unknown[192.0.2.7]", 6, 2, oct11,
         "Oct 11 22:14:15", "mx1", "postfix/smtpd", "123", "connect from unknown[192.0.2.7]"},
        {"<4>Oct 11 22:14:15 h1 kernel: [12345.678] eth0: link up", 4, 0, oct11, "Oct 11 22:14:15",
         "h1", "kernel", "", "[12345.678] eth0: link up"},
        {"<28>Oct 11 22:14:15 fw1 mgd[1234]: UI_COMMIT: User 'admin' requested 'commit' "
         "operation",
         4, 3, oct11, "Oct 11 22:14:15", "fw1", "mgd", "1234",
         "UI_COMMIT: User 'admin' requested 'commit' operation"},
        // Colonless "tag[pid] msg" (as rsyslog accepts), a tag at the very end, an IPv6 host,
        // and several spaces between fields.
        {"<13>Oct 11 22:14:15 h1 app[7] x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "app", "7", "x"},
        {"<13>Oct 11 22:14:15 h1 app:", 5, 1, oct11, "Oct 11 22:14:15", "h1", "app", "", ""},
        {"<13>Oct 11 22:14:15 h1 app[7]:", 5, 1, oct11, "Oct 11 22:14:15", "h1", "app", "7", ""},
        {"<13>Oct 11 22:14:15 2001:db8::1 app: x", 5, 1, oct11, "Oct 11 22:14:15", "2001:db8::1",
         "app", "", "x"},
        {"<13>Oct 11 22:14:15  h1  app:  x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "app", "", " x"},
        // Not tags: ":" not followed by SP, digits only, an unclosed or empty [pid], a word.
        {"<13>Oct 11 22:14:15 h1 http://example.com/ down", 5, 1, oct11, "Oct 11 22:14:15", "h1",
         "", "", "http://example.com/ down"},
        {"<13>Oct 11 22:14:15 h1 1234: x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "", "1234: x"},
        {"<13>Oct 11 22:14:15 h1 app[12 x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "",
         "app[12 x"},
        {"<13>Oct 11 22:14:15 h1 app[]: x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "",
         "app[]: x"},
        {"<13>Oct 11 22:14:15 h1 app[1]x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "", "app[1]x"},
        {"<13>Oct 11 22:14:15 h1 app[1]:x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "",
         "app[1]:x"},
        {"<13>Oct 11 22:14:15 h1 caf\xC3\xA9: x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "",
         "caf\xC3\xA9: x"},
        // No header at all but a tag.
        {"<13>su: x", 5, 1, none, "", "", "su", "", "x"},
        {"sshd[1]: x", -1, -1, none, "", "", "sshd", "1", "x"},
    };
    for (const want& w : cases) {
        check(w);
    }
}

TEST(Rfc3164, TagLengthCap) {
    const std::string tag48(48, 't');
    const std::string tag49(49, 't');
    check({"<13>Oct 11 22:14:15 h1 " + tag48 + "[1]: x", 5, 1, oct11, "Oct 11 22:14:15", "h1",
           tag48, "1", "x"});
    const std::string long_line = "<13>Oct 11 22:14:15 h1 " + tag49 + "[1]: x";
    check({long_line, 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "", tag49 + "[1]: x"});
    const std::string pid128(128, '9');
    const std::string pid129(129, '9');
    check({"<13>Oct 11 22:14:15 h1 a[" + pid128 + "]: x", 5, 1, oct11, "Oct 11 22:14:15", "h1", "a",
           pid128, "x"});
    const std::string long_pid = "<13>Oct 11 22:14:15 h1 a[" + pid129 + "]: x";
    check({long_pid, 5, 1, oct11, "Oct 11 22:14:15", "h1", "", "", "a[" + pid129 + "]: x"});
    // A host of more than 255 bytes is no host.
    const std::string host256(256, 'h');
    const std::string long_host = "<13>Oct 11 22:14:15 " + host256 + " a: x";
    check({long_host, 5, 1, oct11, "Oct 11 22:14:15", "", "", "", host256 + " a: x"});
}

TEST(Rfc3164, Cisco) {
    const int64_t mar1 = 1677628801 * s_ns; // 2023-03-01T00:00:01Z
    const std::vector<want> cases = {
        // IOS: sequence number, "*" (clock not set) and milliseconds, no zone.
        {"<189>1234: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by console", 5,
         23, 1677696371 * s_ns + 123'000'000, "Mar  1 18:46:11.123", "", "SYS-5-CONFIG_I", "",
         "Configured from console by console"},
        // IOS with origin host, "." (synchronisation lost) and a zone.
        {"<189>52: router1: .Mar  1 00:00:01 UTC: %LINK-3-UPDOWN: Interface "
         "GigabitEthernet0/1, changed state to up",
         5, 23, mar1, "Mar  1 00:00:01 UTC", "router1", "LINK-3-UPDOWN", "",
         "Interface GigabitEthernet0/1, changed state to up"},
        // Any zone name after a Cisco stamp, in any case.
        {"<187>53: Mar  1 00:00:01 cet: %LINK-3-UPDOWN: x", 3, 23, mar1, "Mar  1 00:00:01 cet", "",
         "LINK-3-UPDOWN", "", "x"},
        // NX-OS: an empty sequence number and a year-first stamp.
        {"<189>: 2023 Oct 11 22:14:15 UTC: %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up in mode "
         "access",
         5, 23, oct11, "2023 Oct 11 22:14:15 UTC", "", "ETHPORT-5-IF_UP", "",
         "Interface Ethernet1/1 is up in mode access"},
        // No timestamps configured, with and without an origin host.
        {"<189>1234: %SYS-5-CONFIG_I: Configured", 5, 23, none, "", "", "SYS-5-CONFIG_I", "",
         "Configured"},
        {"<189>12: router1: %SYS-5-CONFIG_I: Configured", 5, 23, none, "", "router1",
         "SYS-5-CONFIG_I", "", "Configured"},
        // No sequence number: "UTC:", "GMT:" or an upper-case zone and ": %" still end the stamp.
        {"<189>Oct 11 22:14:15.123 UTC: %SYS-5-CONFIG_I: x", 5, 23, oct11 + 123'000'000,
         "Oct 11 22:14:15.123 UTC", "", "SYS-5-CONFIG_I", "", "x"},
        {"<189>Oct 11 22:14:15 CEST: %SYS-5-CONFIG_I: x", 5, 23, oct11, "Oct 11 22:14:15 CEST", "",
         "SYS-5-CONFIG_I", "", "x"},
        {"<189>*Mar  1 00:00:01: %SYS-5-CONFIG_I: x", 5, 23, mar1, "Mar  1 00:00:01", "",
         "SYS-5-CONFIG_I", "", "x"},
        // A "%" message id after a host (IOS through a relay, NX-OS with a host).
        {"<189>Oct 11 22:14:15 sw1 %ETHPORT-5-IF_UP: up", 5, 23, oct11, "Oct 11 22:14:15", "sw1",
         "ETHPORT-5-IF_UP", "", "up"},
        // ASA: "Mmm dd yyyy hh:mm:ss" ended by ":", or with a device id and " : ".
        {"<166>Oct 11 2023 22:14:15: %ASA-6-302013: Built outbound TCP connection 1", 6, 20, oct11,
         "Oct 11 2023 22:14:15", "", "ASA-6-302013", "", "Built outbound TCP connection 1"},
        {"<166>Oct 11 2023 22:14:15 fw1 : %ASA-6-302013: Built", 6, 20, oct11,
         "Oct 11 2023 22:14:15", "fw1", "ASA-6-302013", "", "Built"},
        // FTD: two spaces after the host.
        {"<113>Oct 11 2023 22:14:15 vFTD  %FTD-1-430003: EventPriority: Low", 1, 14, oct11,
         "Oct 11 2023 22:14:15", "vFTD", "FTD-1-430003", "", "EventPriority: Low"},
        // Uptime stamps are not read: the content keeps them.
        {"<189>32: 00:01:23: %SYS-5-CONFIG_I: x", 5, 23, none, "", "", "", "",
         "00:01:23: %SYS-5-CONFIG_I: x"},
        // A "*" that starts no stamp is content.
        {"<13>*Mar is a month", 5, 1, none, "", "", "", "", "*Mar is a month"},
    };
    for (const want& w : cases) {
        check(w);
    }
}

TEST(Rfc3164, EveryMalformedClass) {
    const std::vector<std::pair<std::string, rfc3164_status>> cases = {
        {"", rfc3164_status::empty},
        {"<13>", rfc3164_status::empty},
        {"<0>", rfc3164_status::empty},
        {"<", rfc3164_status::bad_pri},
        {"<>x", rfc3164_status::bad_pri},
        {"<192>x", rfc3164_status::bad_pri},
        {"<999>x", rfc3164_status::bad_pri},
        {"<1234>x", rfc3164_status::bad_pri},
        {"<0013>x", rfc3164_status::bad_pri},
        {"<a>x", rfc3164_status::bad_pri},
        {"<-1>x", rfc3164_status::bad_pri},
        {"<13", rfc3164_status::bad_pri},
        {"<13 Oct 11 22:14:15 h a: x", rfc3164_status::bad_pri},
        {"<html><body>", rfc3164_status::bad_pri},
        {"<13>Oct 32 22:14:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct  0 22:14:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Feb 30 22:14:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Apr 31 22:14:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 24:14:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:60:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:14:60 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:14", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:1x:15 h", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:14:15x h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:14:15. h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 22:14:15.1234567890 h a: x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 2023 22:14 x", rfc3164_status::bad_timestamp},
        {"<13>Oct 11 1600 22:14:15 h a: x", rfc3164_status::bad_timestamp}, // before 1678
        {"<13>2023 Feb 29 00:00:00 h a: x", rfc3164_status::bad_timestamp},
        {"<13>2023 Oct 11 h a: x", rfc3164_status::bad_timestamp},
        {"<13>2023 Oct 11 2023 22:14:15 h a: x", rfc3164_status::bad_timestamp},
        {"<13>2023-13-11T22:14:15Z h a: x", rfc3164_status::bad_timestamp},
        {"<13>2023-10-11T22:14:15+25:00 h a: x", rfc3164_status::bad_timestamp},
        {"<13>2023-10-11T22:14 h a: x", rfc3164_status::bad_timestamp},
        {"<13>2023-10-11Tjunk", rfc3164_status::bad_timestamp},
        {"<189>1: *Mar  1 25:00:00: %SYS-5-X: x", rfc3164_status::bad_timestamp},
        {"Oct 11 22:14:61 h a: x", rfc3164_status::bad_timestamp},
    };
    for (const auto& [msg, want] : cases) {
        log_record r;
        EXPECT_EQ(parse_rfc3164(msg, now, r), want) << msg;
    }
}

TEST(Rfc3164, EveryTruncationStaysInside) {
    const std::vector<std::string> examples = {
        ex1,
        ex3,
        ex4,
        ex4_relayed,
        "<189>52: router1: .Mar  1 00:00:01 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state",
        "<189>: 2023 Oct 11 22:14:15.123 UTC: %ETHPORT-5-IF_UP: Interface Ethernet1/1 is up",
        "<166>Oct 11 2023 22:14:15 fw1 : %ASA-6-302013: Built",
        "<13>2023-10-11T22:14:15.123456789+02:00 h1 postfix/smtpd[123]: x",
        "<13>2023-10-11T22:14:15 h1 app[7] x",
    };
    for (const std::string& ex : examples) {
        for (std::size_t n = 0; n <= ex.size(); ++n) {
            // Exactly n bytes on the heap: ASan reports any read past them.
            const std::unique_ptr<char[]> buf(new char[n]);
            std::copy(ex.data(), ex.data() + n, buf.get());
            const std::string_view in(buf.get(), n);
            log_record r;
            const rfc3164_status s = parse_rfc3164(in, now, r);
            if (s == rfc3164_status::ok) {
                for (std::string_view v :
                     {r.timestamp_text, r.hostname, r.app_name, r.procid, r.message}) {
                    EXPECT_TRUE(inside(in, v)) << ex.substr(0, n);
                }
                EXPECT_EQ(r.message.data() + r.message.size(), in.data() + in.size())
                    << ex.substr(0, n);
            }
        }
    }
}

TEST(Rfc3164, NoAllocationPerCall) {
    const std::vector<std::string> lines = {ex1,
                                            ex2,
                                            ex3,
                                            ex4,
                                            ex4_relayed,
                                            "<13>2023-10-11T22:14:15.25 h a: x",
                                            "<189>52: router1: .Mar  1 00:00:01 UTC: %L-3-U: x"};
    log_record r;
    const std::size_t before = n_allocations.load();
    for (const std::string& l : lines) {
        static_cast<void>(parse_rfc3164(l, now, r));
    }
    EXPECT_EQ(n_allocations.load(), before);
    // The counter counts: a string too long for the small-string buffer allocates.
    const std::string copy = ex3;
    EXPECT_GT(n_allocations.load(), before);
}

} // namespace
