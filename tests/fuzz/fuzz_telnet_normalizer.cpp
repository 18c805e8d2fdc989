// libFuzzer target: the Telnet normaliser. A stream normalised in one piece
// and the same stream cut into segments at fuzzer-chosen points must give
// the same bytes, state and counts (the IAC state machine carries across
// segment boundaries, which is what defeats segmentation evasion), and
// never more bytes than went in. The segments through telnet_normalized
// (no copy of a segment without IAC) give the same again.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "flowsentry/telnet_normalizer.hpp"

using namespace flowsentry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    // The first byte chooses the segment sizes (1..8, varying), the rest is the stream.
    const uint8_t cuts = data[0];
    const uint8_t *in = data + 1;
    const size_t len = size - 1;

    std::vector<uint8_t> whole(len), pieces(len), viewed, view_buf(len);
    TelnetNormalizerState one{}, many{}, views{};
    TelnetNormalizerCounts one_counts{}, many_counts{}, view_counts{};
    const size_t n_whole = telnet_normalize(one, in, len, whole.data(), one_counts);
    if (n_whole > len)
        std::abort();

    size_t n_pieces = 0;
    for (size_t pos = 0, k = 0; pos < len; ++k) {
        const size_t want = ((cuts >> (k % 6)) & 7) + 1;
        const size_t chunk = want < len - pos ? want : len - pos;
        n_pieces += telnet_normalize(many, in + pos, chunk, pieces.data() + n_pieces, many_counts);
        size_t m = 0;
        const uint8_t *view = telnet_normalized(views, in + pos, chunk, view_buf.data(), m, view_counts);
        if (m > chunk)
            std::abort();
        viewed.insert(viewed.end(), view, view + m);
        pos += chunk;
    }
    if (n_pieces != n_whole || std::memcmp(whole.data(), pieces.data(), n_whole) != 0)
        std::abort();
    if (std::memcmp(&one, &many, sizeof one) != 0 || one_counts.commands != many_counts.commands ||
        one_counts.sb_unterminated != many_counts.sb_unterminated)
        std::abort();
    if (viewed.size() != n_whole || !std::equal(viewed.begin(), viewed.end(), whole.begin()) ||
        std::memcmp(&one, &views, sizeof one) != 0 || one_counts.commands != view_counts.commands ||
        one_counts.sb_unterminated != view_counts.sb_unterminated)
        std::abort();

    (void)looks_like_telnet_negotiation(in, len);
    (void)looks_like_telnet_server(in, len);
    return 0;
}
