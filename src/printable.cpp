#include "flowsentry/printable.hpp"

namespace flowsentry {

std::string printable(std::string_view s, size_t limit)
{
    std::string out;
    for (size_t i = 0; i < s.size() && i < limit; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\n')
            out += "\\n";
        else if (c < 0x20 || c == 0x7f)
            out += '?';
        else
            out += static_cast<char>(c);
    }
    if (s.size() > limit)
        out += "...";
    return out;
}

}  // namespace flowsentry
