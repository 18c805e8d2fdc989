// Telnet normalisation: every IAC form, cut at every boundary, gives the
// same data; and the identification of Telnet by its first payload.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "flowsentry/byte_scan.hpp"
#include "flowsentry/telnet_normalizer.hpp"

using namespace flowsentry;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytes(std::initializer_list<int> v)
{
    Bytes out;
    for (int b : v)
        out.push_back(static_cast<uint8_t>(b));
    return out;
}

Bytes text(const std::string &s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes out;
    for (const Bytes &p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Normalises `in` delivered in pieces that end at the given cut points.
Bytes normalise(const Bytes &in, const std::vector<size_t> &cuts, TelnetNormalizerCounts *counts = nullptr)
{
    TelnetNormalizerState st{};
    TelnetNormalizerCounts local{};
    Bytes out(in.size());
    size_t n = 0, from = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(in.size());
    for (size_t end : ends) {
        n += telnet_normalize(st, in.data() + from, end - from, out.data() + n, counts ? *counts : local);
        from = end;
    }
    out.resize(n);
    return out;
}

struct Form {
    const char *name;
    Bytes wire;      // as sent
    Bytes data;      // what the peer means
    uint32_t commands;
};

std::vector<Form> forms()
{
    return {
        {"IAC IAC", bytes({255, 255}), bytes({255}), 0},
        {"IAC NOP", bytes({255, 241}), {}, 1},
        {"IAC AYT", bytes({255, 246}), {}, 1},
        {"IAC GA", bytes({255, 249}), {}, 1},
        {"IAC SE alone", bytes({255, 240}), {}, 1},
        {"IAC below SE", bytes({255, 7}), {}, 1},
        {"IAC WILL ECHO", bytes({255, 251, 1}), {}, 1},
        {"IAC WONT 255", bytes({255, 252, 255}), {}, 1},
        {"IAC DO NAWS", bytes({255, 253, 31}), {}, 1},
        {"IAC DONT 0", bytes({255, 254, 0}), {}, 1},
        {"SB NAWS", bytes({255, 250, 31, 0, 80, 0, 24, 255, 240}), {}, 1},
        {"SB with IAC IAC", bytes({255, 250, 24, 0, 255, 255, 'x', 255, 240}), {}, 1},
        {"SB ended by a command", bytes({255, 250, 24, 0, 255, 241}), {}, 2},
        {"CR NUL", bytes({'\r', 0}), bytes({'\r'}), 0},
        {"CR LF", bytes({'\r', '\n'}), bytes({'\r', '\n'}), 0},
        {"NUL alone", bytes({0}), bytes({0}), 0},
    };
}

}  // namespace

TEST(TelnetNormalizer, EveryFormCutAtEveryBoundaryGivesTheSameData)
{
    for (const Form &f : forms()) {
        SCOPED_TRACE(f.name);
        const Bytes wire = cat({text("/bin/busy"), f.wire, text("box MIRAI")});
        const Bytes want = cat({text("/bin/busy"), f.data, text("box MIRAI")});
        for (size_t cut = 0; cut <= wire.size(); ++cut) {
            TelnetNormalizerCounts counts{};
            EXPECT_EQ(normalise(wire, {cut}, &counts), want) << "cut at " << cut;
            EXPECT_EQ(counts.commands, f.commands);
        }
        // Two cuts: every pair of boundaries, including 1-byte pieces.
        for (size_t a = 0; a <= wire.size(); ++a)
            for (size_t b = a; b <= wire.size(); ++b)
                ASSERT_EQ(normalise(wire, {a, b}), want) << "cuts at " << a << ", " << b;
    }
}

TEST(TelnetNormalizer, AllFormsTogetherOneByteAtATime)
{
    Bytes wire, want;
    uint32_t commands = 0;
    for (const Form &f : forms()) {
        wire = cat({wire, text("ab"), f.wire});
        want = cat({want, text("ab"), f.data});
        commands += f.commands;
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < wire.size(); ++i)
        every.push_back(i);
    TelnetNormalizerCounts counts{};
    EXPECT_EQ(normalise(wire, every, &counts), want);
    EXPECT_EQ(counts.commands, commands);
    EXPECT_EQ(normalise(wire, {}), want);
}

// telnet_normalized against telnet_normalize on the same pieces: the same
// data, counts and state after every piece; a piece with no IAC and no NUL
// met in the data phase comes back as itself (no copy), every other piece
// from the output buffer.
void expect_same_without_copy(const Bytes &wire, const std::vector<size_t> &cuts)
{
    TelnetNormalizerState copying{}, viewing{};
    TelnetNormalizerCounts copy_counts{}, view_counts{};
    Bytes copied(wire.size()), viewed_buf(wire.size()), viewed;
    size_t n = 0, from = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(wire.size());
    for (size_t end : ends) {
        const uint8_t *piece = wire.data() + from;
        const size_t len = end - from;
        const bool plain = viewing.phase == 0 && len != 0 && find_either(piece, len, 255, 0) == len;
        n += telnet_normalize(copying, piece, len, copied.data() + n, copy_counts);
        size_t m = 0;
        const uint8_t *data = telnet_normalized(viewing, piece, len, viewed_buf.data(), m, view_counts);
        EXPECT_EQ(data == piece, plain) << "piece " << from << ".." << end;
        viewed.insert(viewed.end(), data, data + m);
        ASSERT_EQ(Bytes(viewed), Bytes(copied.begin(), copied.begin() + static_cast<long>(n)))
            << "piece " << from << ".." << end;
        EXPECT_EQ(viewing.phase, copying.phase);
        EXPECT_EQ(viewing.after_cr, copying.after_cr);
        EXPECT_EQ(viewing.sb_len, copying.sb_len);
        EXPECT_EQ(view_counts.commands, copy_counts.commands);
        EXPECT_EQ(view_counts.sb_unterminated, copy_counts.sb_unterminated);
        from = end;
    }
}

TEST(TelnetNormalizer, PiecesWithoutIacAreNotCopiedAndGiveTheSameData)
{
    for (const Form &f : forms()) {
        SCOPED_TRACE(f.name);
        const Bytes wire = cat({text("/bin/busy\r"), f.wire, text("box MIRAI\r"), f.wire, text("\r\n")});
        for (size_t a = 0; a <= wire.size(); ++a)
            for (size_t b = a; b <= wire.size(); ++b)
                expect_same_without_copy(wire, {a, b});
    }
    // An IAC cut from its command: the piece after it holds no IAC, yet its
    // first byte is a command, not data.
    const Bytes wire = cat({text("abc"), bytes({255, 241}), text("def"), bytes({255, 251, 1}), text("ghi")});
    expect_same_without_copy(wire, {4, 9, 10});
    TelnetNormalizerState st{};
    TelnetNormalizerCounts counts{};
    Bytes out(wire.size());
    size_t m = 0;
    telnet_normalized(st, wire.data(), 4, out.data(), m, counts);
    const uint8_t *rest = telnet_normalized(st, wire.data() + 4, 4, out.data(), m, counts);
    EXPECT_EQ(Bytes(rest, rest + m), text("def"));
    EXPECT_EQ(counts.commands, 1u);
}

TEST(TelnetNormalizer, UnterminatedSubnegotiationStopsHidingData)
{
    Bytes wire = bytes({255, 250, 24});
    wire.resize(wire.size() + kMaxSubnegotiation - 1, 'a');  // inside the bound
    const Bytes tail = text("/bin/busybox MIRAI");
    wire = cat({wire, tail});
    TelnetNormalizerCounts counts{};
    const Bytes out = normalise(wire, {100, 513}, &counts);
    EXPECT_EQ(counts.sb_unterminated, 1u);
    // Everything past the bound is data again: the query is seen.
    const std::string s(out.begin(), out.end());
    EXPECT_NE(s.find("busybox MIRAI"), std::string::npos) << s;
    EXPECT_LE(out.size(), tail.size());
}

TEST(TelnetNormalizer, IdentifiesNegotiationOnly)
{
    EXPECT_TRUE(looks_like_telnet_negotiation(bytes({255, 253, 24, 255, 253, 32}).data(), 6));
    EXPECT_TRUE(looks_like_telnet_negotiation(bytes({255, 251, 1, 255, 250, 24, 1, 255, 240, 255, 253, 3}).data(), 12));
    EXPECT_TRUE(looks_like_telnet_negotiation(bytes({255, 253, 24, 255, 253, 32, 'l', 'o'}).data(), 8));
    // One negotiation is not enough; an option code outside 0..39, data
    // first, a non-command after IAC: not Telnet.
    EXPECT_FALSE(looks_like_telnet_negotiation(bytes({255, 253, 24}).data(), 3));
    EXPECT_FALSE(looks_like_telnet_negotiation(bytes({255, 253, 24, 255, 253, 200}).data(), 6));
    EXPECT_FALSE(looks_like_telnet_negotiation(text("GET / HTTP/1.0\r\n").data(), 16));
    EXPECT_FALSE(looks_like_telnet_negotiation(bytes({255, 10, 24, 255, 253, 32}).data(), 6));
    EXPECT_FALSE(looks_like_telnet_negotiation(bytes({255, 253}).data(), 2));
    EXPECT_FALSE(looks_like_telnet_negotiation(nullptr, 0));
}

TEST(TelnetNormalizer, RecognisesWhatOnlyAServerSays)
{
    auto server = [](const Bytes &b) { return looks_like_telnet_server(b.data(), b.size()); };
    EXPECT_TRUE(server(bytes({255, 253, 24})));                     // DO TERMINAL-TYPE
    EXPECT_TRUE(server(bytes({255, 251, 1, 255, 253, 31})));        // WILL ECHO, DO NAWS
    EXPECT_TRUE(server(bytes({255, 253, 39})));                     // DO NEW-ENVIRON
    EXPECT_TRUE(server(text("\r\nUbuntu 22.04\r\nhost login: ")));
    EXPECT_TRUE(server(text("LOGIN:")));
    // What clients say: WILL TERMINAL-TYPE, DO ECHO / SUPPRESS-GO-AHEAD, a user name.
    EXPECT_FALSE(server(bytes({255, 251, 24, 255, 253, 1, 255, 253, 3})));
    EXPECT_FALSE(server(text("root\r\n")));
    EXPECT_FALSE(server(text("Password:")));
    EXPECT_FALSE(server(text("ogin:")));
    EXPECT_FALSE(server(bytes({255, 253})));  // cut before the option
    EXPECT_FALSE(server(Bytes{}));
}

TEST(ByteScan, FindsTheFirstOfEitherByteAtEveryPosition)
{
    using flowsentry::find_either;
    // Every length across the word boundaries, each byte at every position,
    // and the bytes just above the ones sought (0x0E next to 0x0D borrows
    // differently) that must not be taken for them.
    for (size_t n = 0; n <= 40; ++n) {
        std::vector<uint8_t> run(n, 0x0e);
        EXPECT_EQ(find_either(run.data(), n, '\r', '\n'), n) << n;
        std::vector<uint8_t> zeros_above(n, 0x01);
        EXPECT_EQ(find_either(zeros_above.data(), n, 0xff, 0), n) << n;
        for (size_t at = 0; at < n; ++at) {
            for (uint8_t wanted : {uint8_t('\r'), uint8_t('\n')}) {
                std::vector<uint8_t> v(n, 'x');
                v[at] = wanted;
                if (at + 1 < n)
                    v[at + 1] = '\r';  // a later hit must not win
                EXPECT_EQ(find_either(v.data(), n, '\r', '\n'), at) << n << " " << at;
            }
            std::vector<uint8_t> nul(n, 0xfe);
            nul[at] = 0;
            EXPECT_EQ(find_either(nul.data(), n, 0xff, 0), at) << n << " " << at;
        }
    }
}
