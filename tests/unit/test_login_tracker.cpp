// Login tracking: success, failure, retries, character mode; the password
// is never kept.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "flowsentry/login_tracker.hpp"

using namespace flowsentry;

namespace {

struct Login {
    LoginOutcome outcome;
    std::string user;
    bool operator==(const Login &o) const { return outcome == o.outcome && user == o.user; }
};

std::ostream &operator<<(std::ostream &os, const Login &l)
{
    return os << login_outcome_name(l.outcome) << ":" << l.user;
}

struct Logins final : LoginSink {
    std::vector<Login> seen;
    void login(LoginOutcome outcome, const char *user, uint8_t len) override
    {
        seen.push_back({outcome, std::string(user, len)});
    }
};

class LoginTest : public ::testing::Test {
protected:
    void server(const std::string &s) { login_server_data(t, reinterpret_cast<const uint8_t *>(s.data()), s.size(), logins); }
    void client(const std::string &s) { login_client_data(t, reinterpret_cast<const uint8_t *>(s.data()), s.size(), logins); }
    // Character mode: one byte per segment, echoed by the server.
    void typed(const std::string &s, bool echo)
    {
        for (char ch : s) {
            client(std::string(1, ch));
            if (echo)
                server(std::string(1, ch));
        }
    }
    bool holds(const std::string &secret) const
    {
        const char *raw = reinterpret_cast<const char *>(&t);
        return std::string(raw, sizeof t).find(secret) != std::string::npos;
    }
    LoginTracker t{};
    Logins logins;
};

}  // namespace

TEST_F(LoginTest, SuccessByShellPrompt)
{
    server("\r\nBusyBox login: ");
    client("root\r\n");
    server("Password: ");
    client("xc3511\r\n");
    server("\r\n");
    EXPECT_TRUE(logins.seen.empty());  // not decided by a blank line
    server("# ");
    EXPECT_EQ(logins.seen, (std::vector<Login>{{LoginOutcome::success, "root"}}));
    EXPECT_FALSE(holds("xc3511"));
}

TEST_F(LoginTest, SuccessByLastLogin)
{
    server("host login: ");
    client("alice\r\n");
    server("Password:");
    client("s3cret\r\n");
    server("\r\nLast login: Mon Nov 20 10:00:00 from 192.0.2.50\r\n");
    EXPECT_EQ(logins.seen, (std::vector<Login>{{LoginOutcome::success, "alice"}}));
}

TEST_F(LoginTest, FailureThenRetrySucceeds)
{
    server("login: ");
    client("alice\r\n");
    server("Password: ");
    client("wrongpass1\r\n");
    server("\r\nLogin incorrect\r\nlogin: ");
    client("alice\r\n");
    server("Password: ");
    client("right-one\r\n");
    server("\r\nalice@host:~$ ");
    EXPECT_EQ(logins.seen,
              (std::vector<Login>{{LoginOutcome::failure, "alice"}, {LoginOutcome::success, "alice"}}));
    EXPECT_FALSE(holds("wrongpass1"));
    EXPECT_FALSE(holds("right-one"));
}

TEST_F(LoginTest, RepromptWithoutMessageIsAFailure)
{
    server("Username: ");
    client("admin\r\n");
    server("Password: ");
    client("admin\r\n");
    server("\r\nUsername: ");
    EXPECT_EQ(logins.seen, (std::vector<Login>{{LoginOutcome::failure, "admin"}}));
}

TEST_F(LoginTest, CharacterModeWithEchoAndBackspace)
{
    server("\r\n\r\nOpenBSD/i386 (oof) (ttyp1)\r\n\r\nlogin: ");
    typed("fakx\x7f" "e\r", true);
    server("\r\n");
    server("Password:");
    typed("user\r", false);
    server("\r\n");
    server("Last login: Thu Dec  2 21:32:59 on ttyp1 from bam.zing.org\r\n");
    EXPECT_EQ(logins.seen, (std::vector<Login>{{LoginOutcome::success, "fake"}}));
}

TEST_F(LoginTest, PasswordOnlyPromptAndUnknownOutcomeAtEnd)
{
    server("\r\nUser Access Verification\r\n\r\nPassword: ");
    client("cisco\r\n");
    login_flow_end(t, logins);
    EXPECT_EQ(logins.seen, (std::vector<Login>{{LoginOutcome::unknown, ""}}));
}

TEST_F(LoginTest, NoPromptNoLogin)
{
    client("root\r\nxc3511\r\n");
    server("Welcome\r\n# ");
    login_flow_end(t, logins);
    EXPECT_TRUE(logins.seen.empty());
}

TEST_F(LoginTest, LongUserNamesAreCut)
{
    server("login: ");
    client(std::string(100, 'u') + "\r\n");
    server("Password: ");
    client("p\r\n");
    server("Login incorrect\r\n");
    ASSERT_EQ(logins.seen.size(), 1u);
    EXPECT_EQ(logins.seen[0].user, std::string(kMaxUserName, 'u'));
}

// NULs in a server line are skipped wherever they fall: near its start (the
// head that failure words are looked for in), near its end (the tail
// prompts are read from), and in runs longer than either.
TEST_F(LoginTest, NulsInServerLinesAreSkipped)
{
    using namespace std::string_literals;
    server("\r\nlog\0in:\0 "s);
    client("root\r\n");
    server("Pass\0word:"s);
    client("x\r\n");
    server("\r\n\0Login\0 incorrect, \0\0and a long line after it to the end\0\r\n"s);
    server(std::string(40, '\0') + "Pass" + std::string(20, '\0') + "word: ");
    client("y\r\n");
    server("\r\nBusyBox v1.36 built-in shell\r\n");
    server("login: " + std::string(30, '\0'));
    client("admin\r\n");
    server("PASSWORD" + std::string(17, '\0') + ":");
    client("z\r\n");
    server("# ");
    EXPECT_EQ(logins.seen, (std::vector<Login>{{LoginOutcome::failure, "root"},
                                               {LoginOutcome::success, ""},  // no user prompt since the failure
                                               {LoginOutcome::success, "admin"}}));
}
