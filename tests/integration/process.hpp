// Helpers the integration tests share: running commands, temporary
// directories, reading files.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace flowsentry_test {

namespace fs = std::filesystem;

inline std::string env_or_empty(const char *name)
{
    const char *v = std::getenv(name);
    return v ? v : "";
}

inline std::string shell_quote(const std::string &s)
{
    std::string out = "'";
    for (char ch : s) {
        if (ch == '\'')
            out += "'\\''";
        else
            out += ch;
    }
    return out + "'";
}

// Runs a shell command; returns its exit status (-1 if it did not exit) and stdout.
inline int run_command(const std::string &cmd, std::string *out)
{
    FILE *p = popen(cmd.c_str(), "r");
    if (!p)
        return -1;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        out->append(buf.data(), n);
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline std::string read_file(const fs::path &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A mkdtemp directory removed with everything in it at the end of scope.
class TempDir {
public:
    TempDir()
    {
        std::string tmpl = (fs::temp_directory_path() / "flowsentry-it-XXXXXX").string();
        if (mkdtemp(tmpl.data()))
            path_ = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        if (!path_.empty())
            fs::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const fs::path &path() const { return path_; }

private:
    fs::path path_;
};

// The value at `path` (member names, outermost first), or null.
inline const rapidjson::Value *at(const rapidjson::Value &v, std::initializer_list<const char *> path)
{
    const rapidjson::Value *cur = &v;
    for (const char *k : path) {
        if (!cur->IsObject() || !cur->HasMember(k))
            return nullptr;
        cur = &(*cur)[k];
    }
    return cur;
}

// The string at `path`, or "" when it is missing or not a string.
inline std::string str(const rapidjson::Value &v, std::initializer_list<const char *> path)
{
    const rapidjson::Value *x = at(v, path);
    return x && x->IsString() ? x->GetString() : "";
}

// The names of the files in `dir` that end in `suffix`, without it (for the
// tests that check every generated truth file is tested).
inline std::set<std::string> names_with_suffix(const fs::path &dir, const std::string &suffix)
{
    std::set<std::string> names;
    for (const auto &e : fs::directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
            names.insert(f.substr(0, f.size() - suffix.size()));
    }
    return names;
}

// Calls fn(document) for each line of NDJSON text; a line that is not JSON
// fails the calling test and is skipped.
template <typename Fn>
void for_each_json_line(const std::string &text, Fn &&fn)
{
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        rapidjson::Document d;
        d.Parse(line.c_str());
        EXPECT_FALSE(d.HasParseError()) << line;
        if (!d.HasParseError())
            fn(d);
    }
}

}  // namespace flowsentry_test
