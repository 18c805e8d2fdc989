// Error messages are exactly one printable line, whatever bytes of the
// input they quote (a YAML escape, a key, a path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flowsentry {

// `s` with newlines shown as \n and other control bytes as '?', cut short
// (with "...") past `limit` bytes.
std::string printable(std::string_view s, size_t limit = SIZE_MAX);

}  // namespace flowsentry
