// Finding a byte in a run of payload eight bytes at a time: the per-byte
// loops of payload inspection skip what cannot change their state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace flowsentry {

// Index of the first byte of p[0, n) that is `a` or `b`, or n. Sixteen
// bytes at a time where SSE2 is there (every x86-64), then eight: a word
// XORed with a byte repeated has a zero byte where that byte was, and a zero
// byte borrows into its high bit when 0x01 is subtracted from every byte (a
// false hit can only follow a true one, and the byte loop settles it).
inline size_t find_either(const uint8_t *p, size_t n, uint8_t a, uint8_t b)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i va = _mm_set1_epi8(static_cast<char>(a)), vb = _mm_set1_epi8(static_cast<char>(b));
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p + i));
        const unsigned hits =
            static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb))));
        if (hits != 0)
            return i + static_cast<size_t>(__builtin_ctz(hits));
    }
#endif
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t wa = ones * a, wb = ones * b;
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
