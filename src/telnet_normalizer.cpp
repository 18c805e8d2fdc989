// Telnet normalisation (see telnet_normalizer.hpp).
#include "flowsentry/telnet_normalizer.hpp"

#include <cstring>

#include "flowsentry/byte_scan.hpp"

namespace flowsentry {

namespace {

enum TelnetPhase : uint8_t {
    data,
    after_iac,     // IAC seen; the command byte comes next
    option,        // IAC WILL/WONT/DO/DONT seen; the option byte comes next
    subneg,        // inside IAC SB ...: bytes are negotiation, not data
    subneg_iac,    // IAC inside a subnegotiation
};

// Highest option code the identification accepts: 0..39 are the options
// assigned in the early RFCs that every Telnet stack negotiates first.
constexpr uint8_t kMaxCommonOption = 39;

// Options only a client provides: a server asks for them with IAC DO.
bool is_client_provided_option(uint8_t option)
{
    constexpr uint8_t terminal_type = 24, naws = 31, x_display_location = 35, environ = 36, new_environ = 39;
    return option == terminal_type || (option >= naws && option <= x_display_location) || option == environ ||
           option == new_environ;
}

}  // namespace

size_t telnet_normalize(TelnetNormalizerState &st, const uint8_t *in, size_t len, uint8_t *out,
                        TelnetNormalizerCounts &counts)
{
    size_t n = 0;
    for (size_t i = 0; i < len; ++i) {
        const uint8_t b = in[i];
        switch (st.phase) {
        case data:
            // A run without IAC or NUL is data as it is (NUL matters only
            // after CR): copied whole, not byte by byte.
            if (const size_t run = find_either(in + i, len - i, telnet::iac, 0); run != 0) {
                std::memmove(out + n, in + i, run);
                n += run;
                st.after_cr = in[i + run - 1] == '\r';
                i += run - 1;
            } else if (b == telnet::iac) {
                st.phase = after_iac;
            } else if (b == 0 && st.after_cr) {
                st.after_cr = 0;  // CR NUL is a bare CR
            } else {
                out[n++] = b;
                st.after_cr = b == '\r';
            }
            break;
        case after_iac:
            if (b == telnet::iac) {
                out[n++] = b;
                st.after_cr = 0;
                st.phase = data;
            } else if (b == telnet::sb) {
                st.phase = subneg;
                st.sb_len = 0;
                ++counts.commands;
            } else if (b >= telnet::will) {
                st.phase = option;
            } else {
                // NOP, GA, AYT, ..., and bytes below SE that are no command:
                // a Telnet server drops them, so the data stream does too.
                st.phase = data;
                ++counts.commands;
            }
            break;
        case option:
            st.phase = data;
            ++counts.commands;
            break;
        case subneg:
        case subneg_iac:
            if (++st.sb_len > kMaxSubnegotiation) {
                ++counts.sb_unterminated;
                st.phase = data;
                --i;  // this byte is data again
                break;
            }
            if (st.phase == subneg) {
                if (b == telnet::iac)
                    st.phase = subneg_iac;
            } else if (b == telnet::se) {
                st.phase = data;
            } else if (b == telnet::iac) {
                st.phase = subneg;  // IAC IAC: a 0xFF inside the parameters
            } else {
                // Any other command ends the subnegotiation (RFC 855 allows
                // nothing else there); it is read as that command.
                st.phase = after_iac;
                --i;
            }
            break;
        default:
            st.phase = data;
            --i;
            break;
        }
    }
    return n;
}

const uint8_t *telnet_normalized(TelnetNormalizerState &st, const uint8_t *in, size_t len, uint8_t *out,
                                 size_t &out_len, TelnetNormalizerCounts &counts)
{
    if (st.phase == data && len != 0 && find_either(in, len, telnet::iac, 0) == len) {
        st.after_cr = in[len - 1] == '\r';
        out_len = len;
        return in;
    }
    out_len = telnet_normalize(st, in, len, out, counts);
    return out;
}

bool looks_like_telnet_negotiation(const uint8_t *p, size_t len)
{
    if (len < 3 || p[0] != telnet::iac)
        return false;
    unsigned negotiations = 0;
    size_t i = 0;
    while (i + 1 < len && p[i] == telnet::iac) {
        const uint8_t cmd = p[i + 1];
        if (cmd >= telnet::will && cmd <= telnet::dont) {
            if (i + 2 >= len || p[i + 2] > kMaxCommonOption)
                return false;
            ++negotiations;
            i += 3;
        } else if (cmd == telnet::sb) {
            // Skip to IAC SE; an unterminated one decides on what came before.
            size_t j = i + 2;
            while (j + 1 < len && !(p[j] == telnet::iac && p[j + 1] == telnet::se))
                ++j;
            if (j + 1 >= len)
                break;
            i = j + 2;
        } else if (cmd >= telnet::se) {
            i += 2;
        } else {
            return false;
        }
    }
    return negotiations >= 2;
}

bool looks_like_telnet_server(const uint8_t *p, size_t len)
{
    static constexpr char kPrompt[] = "login";  // before the ':'
    constexpr size_t kPromptLen = sizeof kPrompt - 1;
    size_t i = find_either(p, len, telnet::iac, ':');
    while (i < len) {
        if (p[i] == telnet::iac) {
            if (i + 2 < len && p[i + 1] == telnet::do_ && is_client_provided_option(p[i + 2]))
                return true;
        } else if (i >= kPromptLen) {
            size_t k = 0;
            while (k < kPromptLen && (p[i - kPromptLen + k] | 0x20) == kPrompt[k])
                ++k;
            if (k == kPromptLen)
                return true;
        }
        i += 1 + find_either(p + i + 1, len - i - 1, telnet::iac, ':');
    }
    return false;
}

}  // namespace flowsentry
