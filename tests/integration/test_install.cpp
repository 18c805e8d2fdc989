// `meson install` as a packager runs it: into a staging directory
// (DESTDIR), then the installed binary run with no -c finds the installed
// configuration and signature packs, and the Mirai signatures of
// tests/data/telnet_mirai_23.pcap fire (ids from the generator's truth
// file); with the configuration removed, one line says which defaults and
// packs apply. The unit, the Filebeat files and the documentation are
// installed too.
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "process.hpp"

using namespace flowsentry_test;

namespace {

fs::path source_root() { return env_or_empty("FLOWSENTRY_SOURCE_ROOT"); }

// The signature ids the generator wrote for the capture's one flow.
std::set<unsigned> truth_signatures(const std::string &name)
{
    rapidjson::Document truth;
    const std::string text = read_file(source_root() / "tests" / "data" / (name + ".telnet-truth.json"));
    truth.Parse(text.c_str());
    std::set<unsigned> ids;
    if (truth.HasParseError())
        return ids;
    for (const auto &flow : truth["flows"].GetArray())
        for (const auto &sig : flow["signatures"].GetArray())
            ids.insert(sig[0].GetUint());
    return ids;
}

// Every file under `root`, as paths relative to it.
std::set<std::string> files_under(const fs::path &root)
{
    std::set<std::string> files;
    for (const auto &e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file())
            files.insert(fs::relative(e.path(), root).string());
    return files;
}

class Installed : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        staging_ = new TempDir;
        const fs::path build = fs::path(env_or_empty("FLOWSENTRY_BIN")).parent_path();
        std::string out;
        install_status_ = run_command("meson install --no-rebuild --quiet -C " + shell_quote(build.string()) +
                                          " --destdir " + shell_quote(staging_->path().string()) + " 2>&1",
                                      &out);
        install_log_ = out;
        for (const std::string &f : files_under(staging_->path()))
            if (f.size() > 15 && f.compare(f.size() - 15, 15, "/bin/flowsentry") == 0)
                binary_ = staging_->path() / f;
    }
    static void TearDownTestSuite() { delete staging_; }

    void SetUp() override
    {
        ASSERT_EQ(install_status_, 0) << install_log_;
        ASSERT_FALSE(binary_.empty()) << "no bin/flowsentry installed";
    }

    struct Run {
        int status;
        std::string err;
        std::set<unsigned> signatures;
    };
    static Run replay(const std::string &capture)
    {
        TempDir tmp;
        const fs::path out = tmp.path() / "events.ndjson", err = tmp.path() / "stderr.txt";
        Run r;
        std::string ignored;
        r.status = run_command(shell_quote(binary_.string()) + " --pcap " +
                                   shell_quote((source_root() / "tests" / "data" / (capture + ".pcap")).string()) +
                                   " -o " + shell_quote(out.string()) + " 2>" + shell_quote(err.string()),
                               &ignored);
        r.err = read_file(err);
        for_each_json_line(read_file(out), [&](const rapidjson::Document &d) {
            if (const rapidjson::Value *id = at(d, {"flowsentry", "signature", "id"}))
                r.signatures.insert(id->GetUint());
        });
        return r;
    }

    static TempDir *staging_;
    static int install_status_;
    static std::string install_log_;
    static fs::path binary_;
};

TempDir *Installed::staging_ = nullptr;
int Installed::install_status_ = -1;
std::string Installed::install_log_;
fs::path Installed::binary_;

}  // namespace

TEST_F(Installed, BinaryWithoutDashCFindsItsConfigurationAndMiraiSignaturesFire)
{
    const std::set<unsigned> expected = truth_signatures("telnet_mirai_23");
    ASSERT_TRUE(expected.count(2300008)) << "the truth file names Mirai's BusyBox query";
    const Run r = replay("telnet_mirai_23");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.signatures, expected) << r.err;
    EXPECT_EQ(r.err.find("no configuration file"), std::string::npos) << r.err;
}

TEST_F(Installed, WithoutTheConfigurationFileOneLineNamesTheDefaultsAndThePack)
{
    // Find the installed configuration, move it away, put it back at the end.
    fs::path conf;
    for (const std::string &f : files_under(staging_->path()))
        if (f.size() > 27 && f.compare(f.size() - 27, 27, "/flowsentry/flowsentry.yaml") == 0)
            conf = staging_->path() / f;
    ASSERT_FALSE(conf.empty());
    fs::rename(conf, conf.string() + ".away");
    const Run with_pack = replay("telnet_mirai_23");
    const fs::path pack = conf.parent_path() / "signatures" / "telnet.yaml";
    fs::rename(pack, pack.string() + ".away");
    const Run without = replay("telnet_mirai_23");
    fs::rename(pack.string() + ".away", pack);
    fs::rename(conf.string() + ".away", conf);

    EXPECT_EQ(with_pack.status, 0) << with_pack.err;
    EXPECT_EQ(with_pack.signatures, truth_signatures("telnet_mirai_23"));
    EXPECT_NE(with_pack.err.find("flowsentry: no configuration file " + conf.string() +
                                 " (give one with -c): built-in defaults, signature pack " + pack.string() + "\n"),
              std::string::npos)
        << with_pack.err;

    EXPECT_EQ(without.status, 0) << without.err;
    EXPECT_TRUE(without.signatures.empty());
    EXPECT_NE(without.err.find("no signature pack (no " + pack.string() + "): payload inspection off\n"),
              std::string::npos)
        << without.err;
}

TEST_F(Installed, UnitFilebeatFilesAndDocumentation)
{
    const std::set<std::string> files = files_under(staging_->path());
    auto installed = [&](const std::string &tail) {
        for (const std::string &f : files)
            if (f.size() >= tail.size() && f.compare(f.size() - tail.size(), tail.size(), tail) == 0)
                return true;
        return false;
    };
    for (const char *tail : {"etc/flowsentry/flowsentry.yaml", "etc/flowsentry/signatures/telnet.yaml",
                             "share/flowsentry/filebeat.yml", "share/flowsentry/elastic-ingest-pipeline.json",
                             "lib/systemd/system/flowsentry.service", "share/doc/flowsentry/README.md",
                             "share/doc/flowsentry/operations.md", "share/doc/flowsentry/configuration.md"})
        EXPECT_TRUE(installed(tail)) << tail;

    std::string unit;
    for (const std::string &f : files)
        if (f.find("flowsentry.service") != std::string::npos)
            unit = read_file(staging_->path() / f);
    EXPECT_NE(unit.find("ExecReload=/bin/kill -HUP $MAINPID"), std::string::npos) << unit;
    EXPECT_NE(unit.find("Restart=on-failure"), std::string::npos) << unit;
    EXPECT_NE(unit.find("Type=exec"), std::string::npos) << unit;
    EXPECT_NE(unit.find("hugepages"), std::string::npos) << unit;
    // The unit starts the installed binary (the prefix, without the staging directory).
    const std::string bin = "/" + fs::relative(binary_, staging_->path()).string();
    EXPECT_NE(unit.find("ExecStart=" + bin + " $FLOWSENTRY_EAL -- -c "), std::string::npos) << unit;
}
