// Telnet normalisation (RFC 854/855): the data a Telnet peer means, with the
// protocol's own commands taken out, so content signatures see "/bin/busybox
// MIRAI" however many IAC NOPs an attacker puts inside it.
//
// Streaming: the state carries an IAC sequence cut by a segment boundary
// into the next call. Never allocates; O(1) per byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flowsentry {

namespace telnet {
constexpr uint8_t iac = 255;
constexpr uint8_t dont = 254;
constexpr uint8_t do_ = 253;
constexpr uint8_t wont = 252;
constexpr uint8_t will = 251;
constexpr uint8_t sb = 250;
constexpr uint8_t se = 240;
constexpr uint8_t nop = 241;
}  // namespace telnet

// A subnegotiation longer than this is not waited on: the bytes after it are
// data again (else IAC SB with no SE would hide the rest of the session).
constexpr uint16_t kMaxSubnegotiation = 512;

struct TelnetNormalizerState {
    uint8_t phase;     // TelnetPhase
    uint8_t after_cr;  // last data byte was CR: a following NUL is dropped
    uint16_t sb_len;   // bytes inside the current subnegotiation
};
static_assert(sizeof(TelnetNormalizerState) == 4, "kept in every inspected flow direction");

struct TelnetNormalizerCounts {
    uint32_t commands;         // IAC commands removed (2-byte, option, SB)
    uint32_t sb_unterminated;  // subnegotiations cut at kMaxSubnegotiation
};

// Appends the data bytes of `in` to `out` (room for `len` bytes) and returns
// how many were written: IAC IAC becomes one 0xFF, IAC <command>,
// IAC WILL/WONT/DO/DONT <option> and IAC SB ... IAC SE are removed, CR NUL
// becomes CR. `counts` is added to.
size_t telnet_normalize(TelnetNormalizerState &state, const uint8_t *in, size_t len, uint8_t *out,
                        TelnetNormalizerCounts &counts);

// The same data as telnet_normalize, without copying what needs no change:
// `in` itself when it holds no IAC and no NUL and no IAC sequence is open
// (what telnet_normalize would copy unchanged), else `out` (room for `len`
// bytes) filled by telnet_normalize. `out_len` gets the data's length.
const uint8_t *telnet_normalized(TelnetNormalizerState &state, const uint8_t *in, size_t len, uint8_t *out,
                                 size_t &out_len, TelnetNormalizerCounts &counts);

// True when a flow's first payload in one direction looks like Telnet option
// negotiation: it starts with IAC, and holds at least two IAC WILL/WONT/DO/
// DONT with an option code below 40 (the assigned options) before anything
// that is not an IAC sequence (nDPI's gate, a little stricter).
bool looks_like_telnet_negotiation(const uint8_t *payload, size_t len);

// True when a segment is something only a Telnet server says: IAC DO for an
// option only a client provides (TERMINAL-TYPE 24, NAWS 31, TERMINAL-SPEED
// 32, LFLOW 33, LINEMODE 34, X-DISPLAY-LOCATION 35, ENVIRON 36,
// NEW-ENVIRON 39), or a `login:` prompt (any case). Orients flows joined
// mid-stream.
bool looks_like_telnet_server(const uint8_t *payload, size_t len);

}  // namespace flowsentry
