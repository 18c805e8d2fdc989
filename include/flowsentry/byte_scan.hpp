// Finding a byte in a run of payload eight bytes at a time: the per-byte
// loops of payload inspection skip what cannot change their state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace flowsentry {

// Index of the first byte of p[0, n) that is `a` or `b`, or n. A word XORed
// with a byte repeated has a zero byte where that byte was, and a zero byte
// borrows into its high bit when 0x01 is subtracted from every byte (a false
// hit can only follow a true one, and the byte loop settles it).
inline size_t find_either(const uint8_t *p, size_t n, uint8_t a, uint8_t b)
{
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t wa = ones * a, wb = ones * b;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        const uint64_t xa = w ^ wa, xb = w ^ wb;
        if ((((xa - ones) & ~xa) | ((xb - ones) & ~xb)) & highs)
            break;
    }
    while (i < n && p[i] != a && p[i] != b)
        ++i;
    return i;
}

}  // namespace flowsentry
