// Telnet login tracking (see login_tracker.hpp).
#include "flowsentry/login_tracker.hpp"

#include <algorithm>
#include <cstring>

#include "flowsentry/byte_scan.hpp"

namespace flowsentry {

namespace {

enum LoginPhase : uint8_t {
    idle,
    awaiting_user,      // a user-name prompt was shown
    user_entered,       // the client sent its user-name line
    awaiting_password,  // a password prompt was shown
    awaiting_result,    // the client sent its password line
};

// Prompt words, as a server line ends (lower case, before ':' and spaces).
constexpr const char *kUserPrompts[] = {"login", "username", "user name", "user"};
constexpr const char *kPasswordPrompts[] = {"password", "passcode"};
// Words that mean the login failed when a line holds them.
constexpr const char *kFailureWords[] = {"incorrect", "failed", "denied", "invalid", "bad password"};
// Line starts that mean it succeeded.
constexpr const char *kSuccessStarts[] = {"last login", "busybox v", "welcome"};

char lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c); }

bool contains(const char *hay, size_t n, const char *needle)
{
    const size_t m = std::strlen(needle);
    for (size_t i = 0; i + m <= n; ++i)
        if (std::memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

bool ends_with(const char *s, size_t n, const char *suffix)
{
    const size_t m = std::strlen(suffix);
    return n >= m && std::memcmp(s + n - m, suffix, m) == 0;
}

// The tail without trailing spaces.
size_t trimmed(const LoginTracker &t)
{
    size_t n = t.tail_len;
    while (n > 0 && t.tail[n - 1] == ' ')
        --n;
    return n;
}

template <size_t N>
bool is_prompt(const LoginTracker &t, const char *const (&words)[N])
{
    const size_t n = trimmed(t);
    if (n == 0 || t.tail[n - 1] != ':')
        return false;
    for (const char *w : words)
        if (ends_with(t.tail, n - 1, w))
            return true;
    return false;
}

// A shell prompt ends the server's output with one of these (after spaces).
bool is_shell_prompt(const LoginTracker &t)
{
    const size_t n = trimmed(t);
    if (n == 0)
        return false;
    const char c = t.tail[n - 1];
    return c == '$' || c == '#' || c == '>' || c == '%';
}

void decide(LoginTracker &t, LoginOutcome outcome, LoginSink &sink)
{
    sink.login(outcome, t.user, t.user_len);
    t.phase = idle;
    t.user_len = 0;
}

void server_line_done(LoginTracker &t, LoginSink &sink)
{
    if (t.phase == awaiting_result || t.phase == user_entered) {
        bool failed = false;
        for (const char *w : kFailureWords)
            failed |= contains(t.head, t.head_len, w);
        if (failed) {
            decide(t, LoginOutcome::failure, sink);
        } else if (t.phase == awaiting_result) {
            for (const char *w : kSuccessStarts) {
                if (t.head_len >= std::strlen(w) && std::memcmp(t.head, w, std::strlen(w)) == 0) {
                    decide(t, LoginOutcome::success, sink);
                    break;
                }
            }
        }
    }
    t.head_len = 0;
    t.tail_len = 0;
}

// Called at the end of each server chunk: prompts are the last thing a
// server sends before it waits for the client.
void server_pause(LoginTracker &t, LoginSink &sink)
{
    if (is_prompt(t, kPasswordPrompts)) {
        t.phase = awaiting_password;
    } else if (is_prompt(t, kUserPrompts)) {
        // Asked for a user name again while a password awaits its answer:
        // the server refused it without saying so.
        if (t.phase == awaiting_result)
            decide(t, LoginOutcome::failure, sink);
        t.phase = awaiting_user;
        t.user_len = 0;
    } else {
        if (t.phase == awaiting_result && is_shell_prompt(t))
            decide(t, LoginOutcome::success, sink);
        return;
    }
    // What the server says after a prompt starts a line of its own, even
    // when it sends no line break first ("Password: Login incorrect").
    t.head_len = 0;
    t.tail_len = 0;
}

}  // namespace

const char *login_outcome_name(LoginOutcome o)
{
    switch (o) {
    case LoginOutcome::success:
        return "success";
    case LoginOutcome::failure:
        return "failure";
    case LoginOutcome::unknown:
        break;
    }
    return "unknown";
}

namespace {

// Lower-case copy of p[0, n) to dst; false when p holds a NUL (dst is
// then to be filled again). One pass the compiler turns into vector code.
bool copy_lower_without_nul(char *dst, const uint8_t *p, size_t n)
{
    uint8_t nul = 0;
    for (size_t i = 0; i < n; ++i) {
        dst[i] = lower(p[i]);
        nul |= p[i] == 0;
    }
    return nul == 0;
}

// A run of a server line (no CR or LF in it), NULs skipped: its first
// characters go to the head while it has room, its last ones to the tail.
// The tail is read only at the end of a chunk (server_pause), so a run that
// a line end follows in the same chunk (`line_ends`) leaves it alone:
// server_line_done empties it next. Only the end of a long run can reach
// the tail, so it is read backwards from the end, not slid along a
// character at a time. Text without NUL (nearly all) is copied whole.
void server_run(LoginTracker &t, const uint8_t *p, size_t n, bool line_ends)
{
    const size_t head_room = sizeof t.head - t.head_len;
    if (head_room != 0) {
        const size_t k = std::min(n, head_room);
        if (copy_lower_without_nul(t.head + t.head_len, p, k)) {
            t.head_len = static_cast<uint8_t>(t.head_len + k);
        } else {
            for (size_t i = 0; i < n && t.head_len < sizeof t.head; ++i)
                if (p[i] != 0)
                    t.head[t.head_len++] = lower(p[i]);
        }
    }
    if (line_ends)
        return;

    char last[sizeof t.tail];
    size_t k = std::min(n, sizeof last);
    if (!copy_lower_without_nul(last + sizeof last - k, p + n - k, k)) {
        k = 0;
        for (size_t i = n; i > 0 && k < sizeof last; --i)
            if (p[i - 1] != 0)
                last[sizeof last - ++k] = lower(p[i - 1]);
    }
    const size_t keep = std::min<size_t>(t.tail_len, sizeof t.tail - k);
    std::memmove(t.tail, t.tail + t.tail_len - keep, keep);
    std::memcpy(t.tail + keep, last + sizeof last - k, k);
    t.tail_len = static_cast<uint8_t>(keep + k);
}

}  // namespace

void login_server_data(LoginTracker &t, const uint8_t *data, size_t len, LoginSink &sink)
{
    for (size_t i = 0; i < len;) {
        const size_t end = i + find_either(data + i, len - i, '\r', '\n');
        server_run(t, data + i, end - i, end != len);
        if (end == len)
            break;
        if (t.head_len != 0 || t.tail_len != 0)
            server_line_done(t, sink);
        i = end + 1;
    }
    if (len != 0)
        server_pause(t, sink);
}

void login_client_data(LoginTracker &t, const uint8_t *data, size_t len, LoginSink &sink)
{
    (void)sink;
    for (size_t i = 0; i < len; ++i) {
        const uint8_t b = data[i];
        const bool eol = b == '\r' || b == '\n';
        switch (t.phase) {
        case awaiting_user:
            if (eol) {
                if (t.user_len != 0)  // a line end before any character is the previous line's
                    t.phase = user_entered;
            } else if (b == 0x7f || b == 0x08) {
                t.user_len = t.user_len != 0 ? static_cast<uint8_t>(t.user_len - 1) : 0;
            } else if (b != 0 && t.user_len < kMaxUserName) {
                t.user[t.user_len++] = static_cast<char>(b);
            }
            break;
        case awaiting_password:
            // Not one byte of it is kept; only its end matters.
            if (eol)
                t.phase = awaiting_result;
            break;
        default:
            break;
        }
    }
}

void login_flow_end(LoginTracker &t, LoginSink &sink)
{
    if (t.phase == awaiting_result)
        decide(t, LoginOutcome::unknown, sink);
}

}  // namespace flowsentry
