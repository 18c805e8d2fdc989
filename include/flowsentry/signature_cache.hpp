// Signature cache: the compiled Hyperscan databases of a pack set, kept on
// disk between runs (hs_serialize_database), so a start or a reload with
// packs compiled before skips the compile.
//
// An entry is named by its key, the SHA-256 of what the databases are built
// from: the entry format, Hyperscan's version, this host's platform
// (hs_populate_platform: the compile targets the host) and every pattern,
// flag and id of each database in order. An entry is used only if its magic,
// key and SHA-256 of its contents check out and Hyperscan deserialises it;
// anything else is ignored (and overwritten by the next compile), never
// trusted. Entries are written to a temporary file and renamed, so a reader
// never sees half of one.
#pragma once

#include <string>
#include <vector>

struct hs_database;

namespace flowsentry {

// What one streaming database is compiled from.
struct DatabaseInputs {
    std::vector<const char *> patterns;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
};

// One database per stream kind (SignatureStream); nullptr where a kind has
// no pattern.
using StreamDatabases = hs_database *[2];

// Hex SHA-256 key of the inputs of both databases.
std::string signature_cache_key(const DatabaseInputs (&inputs)[2]);

// Fills `dbs` from the entry of `key` in `dir`. False when there is no
// usable entry: `why_not` is empty if there is none, else why it was
// ignored (corrupt, foreign, unreadable); `dbs` then holds nothing.
bool load_cached_databases(const std::string &dir, const std::string &key, StreamDatabases &dbs,
                           std::string &why_not);

// Writes the entry of `key` in `dir` (created if missing). False and
// `error` when it cannot.
bool store_cached_databases(const std::string &dir, const std::string &key, const StreamDatabases &dbs,
                            std::string &error);

}  // namespace flowsentry
