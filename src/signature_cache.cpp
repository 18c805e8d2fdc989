// Signature cache (see signature_cache.hpp). Start-up and the reload
// thread only.
#include "flowsentry/signature_cache.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <hs/hs.h>
#include <openssl/evp.h>

namespace flowsentry {

namespace {

// Changes whenever the layout below does: an older entry is then foreign.
constexpr char kMagic[16] = {'f', 'l', 'o', 'w', 's', 'e', 'n', 't', 'r', 'y', '-', 'h', 's', 'd', 'b', '1'};
constexpr size_t kDigestBytes = 32;
constexpr size_t kKeyChars = 2 * kDigestBytes;  // hex
// Far above any real pack set; a bigger file is not read.
constexpr uint64_t kMaxEntryBytes = uint64_t(1) << 30;

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free)
    {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
            throw std::bad_alloc();
    }
    void add(const void *data, size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
    template <typename T> void add_value(const T &v) { add(&v, sizeof v); }
    std::string digest()
    {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(ctx_.get(), out, &n);
        return std::string(reinterpret_cast<const char *>(out), n);
    }

private:
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx_;
};

std::string hex(const std::string &bytes)
{
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 15]);
    }
    return out;
}

std::string entry_path(const std::string &dir, const std::string &key) { return dir + "/" + key + ".hsdb"; }

uint64_t read_u64(const std::string &s, size_t at)
{
    uint64_t v;
    std::memcpy(&v, s.data() + at, sizeof v);
    return v;
}

void free_databases(StreamDatabases &dbs)
{
    for (hs_database_t *&db : dbs) {
        hs_free_database(db);
        db = nullptr;
    }
}

}  // namespace

std::string signature_cache_key(const DatabaseInputs (&inputs)[2])
{
    Sha256 h;
    h.add(kMagic, sizeof kMagic);
    const std::string version = hs_version();
    h.add(version.c_str(), version.size() + 1);
    hs_platform_info_t platform{};
    if (hs_populate_platform(&platform) != HS_SUCCESS)
        throw std::runtime_error("Hyperscan cannot describe this platform");
    h.add_value(platform.tune);
    h.add_value(platform.cpu_features);
    for (const DatabaseInputs &in : inputs) {
        h.add_value(static_cast<uint64_t>(in.patterns.size()));
        for (size_t i = 0; i < in.patterns.size(); ++i) {
            h.add_value(in.flags[i]);
            h.add_value(in.ids[i]);
            h.add(in.patterns[i], std::strlen(in.patterns[i]) + 1);
        }
    }
    return hex(h.digest());
}

bool load_cached_databases(const std::string &dir, const std::string &key, StreamDatabases &dbs, std::string &why_not)
{
    dbs[0] = dbs[1] = nullptr;
    why_not.clear();
    const std::string path = entry_path(dir, key);
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec == std::errc::no_such_file_or_directory)
        return false;
    const auto fail = [&](const std::string &why) {
        free_databases(dbs);
        why_not = path + ": " + why;
        return false;
    };
    if (ec)
        return fail(ec.message());
    if (size > kMaxEntryBytes)
        return fail("too big (" + std::to_string(size) + " bytes)");
    std::ifstream in(path, std::ios::binary);
    std::string file(size, '\0');
    if (!in.read(file.data(), static_cast<std::streamsize>(size)))
        return fail(std::string("cannot read: ") + std::strerror(errno));

    // magic, key, two length-prefixed databases, SHA-256 of all before.
    if (size < sizeof kMagic + kKeyChars + 2 * sizeof(uint64_t) + kDigestBytes ||
        std::memcmp(file.data(), kMagic, sizeof kMagic) != 0)
        return fail("not a flowsentry signature cache entry of this version");
    const std::string body = file.substr(0, size - kDigestBytes);
    Sha256 h;
    h.add(body.data(), body.size());
    if (h.digest() != file.substr(size - kDigestBytes))
        return fail("corrupt (checksum mismatch)");
    if (file.compare(sizeof kMagic, kKeyChars, key) != 0)
        return fail("built from other signatures, Hyperscan or platform");
    size_t at = sizeof kMagic + kKeyChars;
    for (hs_database_t *&db : dbs) {
        if (body.size() - at < sizeof(uint64_t))
            return fail("corrupt (truncated)");
        const uint64_t n = read_u64(body, at);
        at += sizeof(uint64_t);
        if (n > body.size() - at)
            return fail("corrupt (truncated)");
        if (n != 0 && hs_deserialize_database(body.data() + at, n, &db) != HS_SUCCESS) {
            db = nullptr;
            return fail("Hyperscan does not accept the database in it");
        }
        at += n;
    }
    if (at != body.size())
        return fail("corrupt (trailing bytes)");
    return true;
}

bool store_cached_databases(const std::string &dir, const std::string &key, const StreamDatabases &dbs,
                            std::string &error)
{
    std::string file(kMagic, sizeof kMagic);
    file += key;
    for (const hs_database_t *db : dbs) {
        char *bytes = nullptr;
        size_t n = 0;
        if (db != nullptr && hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) {
            error = "Hyperscan cannot serialise the database";
            return false;
        }
        const uint64_t length = n;
        file.append(reinterpret_cast<const char *>(&length), sizeof length);
        file.append(bytes, n);
        std::free(bytes);
    }
    Sha256 h;
    h.add(file.data(), file.size());
    file += h.digest();

    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        error = dir + ": " + ec.message();
        return false;
    }
    // Unique per process and thread: two writers of one entry never share
    // a temporary file, and the rename makes either one the entry.
    std::ostringstream tmp;
    tmp << entry_path(dir, key) << ".tmp." << getpid() << "." << gettid();
    {
        std::ofstream out(tmp.str(), std::ios::binary | std::ios::trunc);
        out.write(file.data(), static_cast<std::streamsize>(file.size()));
        out.flush();
        if (!out) {
            error = tmp.str() + ": cannot write: " + std::strerror(errno);
            std::filesystem::remove(tmp.str(), ec);
            return false;
        }
    }
    std::filesystem::rename(tmp.str(), entry_path(dir, key), ec);
    if (ec) {
        error = entry_path(dir, key) + ": " + ec.message();
        std::filesystem::remove(tmp.str(), ec);
        return false;
    }
    return true;
}

}  // namespace flowsentry
