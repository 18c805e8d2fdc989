// Community ID v1 (corelight/community-id-spec).
//
// Hash input, network byte order throughout:
//   seed(2) saddr(4|16) daddr(4|16) proto(1) pad(1) [sport(2) dport(2)]
// with the endpoints put in a canonical order first, so both directions of
// a flow give the same ID.
#include "flowsentry/community_id.hpp"

#include <cstring>
#include <utility>

#include <openssl/evp.h>

namespace flowsentry {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoSctp = 132;

// Only these carry real ports in the hash. ICMP/ICMPv6 would need the spec's
// type/code mapping; the decoder hands over TCP and UDP only, so port-less
// protocols are hashed without ports, as the spec does for e.g. RSVP.
bool has_ports(uint8_t proto)
{
    return proto == kProtoTcp || proto == kProtoUdp || proto == kProtoSctp;
}

void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v & 0xff);
}

// SHA-1 through one context per thread, set up once: EVP_Digest fetches the
// algorithm and allocates a context for every 40-byte hash.
bool sha1(const uint8_t *data, size_t len, unsigned char *digest, unsigned int *digest_len)
{
    struct Context {
        EVP_MD *md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ~Context()
        {
            EVP_MD_CTX_free(ctx);
            EVP_MD_free(md);
        }
    };
    thread_local Context c;
    return c.md != nullptr && c.ctx != nullptr && EVP_DigestInit_ex2(c.ctx, c.md, nullptr) == 1 &&
           EVP_DigestUpdate(c.ctx, data, len) == 1 && EVP_DigestFinal_ex(c.ctx, digest, digest_len) == 1;
}

}  // namespace

std::string community_id_v1(uint16_t seed, uint8_t ip_version, const uint8_t *saddr,
                            const uint8_t *daddr, uint8_t proto, uint16_t sport, uint16_t dport)
{
    const size_t alen = ip_version == 6 ? 16 : 4;
    const bool ports = has_ports(proto);

    // Canonical order: the smaller address (raw bytes) first; on equal
    // addresses the smaller port. Port-less flows compare addresses only.
    const int cmp = std::memcmp(saddr, daddr, alen);
    const bool keep = cmp < 0 || (cmp == 0 && (!ports || sport <= dport));
    if (!keep) {
        std::swap(saddr, daddr);
        std::swap(sport, dport);
    }

    uint8_t buf[2 + 16 + 16 + 1 + 1 + 2 + 2];
    size_t n = 0;
    put_u16(buf + n, seed);
    n += 2;
    std::memcpy(buf + n, saddr, alen);
    n += alen;
    std::memcpy(buf + n, daddr, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (ports) {
        put_u16(buf + n, sport);
        n += 2;
        put_u16(buf + n, dport);
        n += 2;
    }

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!sha1(buf, n, digest, &dlen) || dlen != 20)
        return {};  // libcrypto without SHA-1: no ID rather than a wrong one

    // base64 of 20 bytes is 28 characters; EVP_EncodeBlock adds a NUL.
    unsigned char b64[32];
    const int blen = EVP_EncodeBlock(b64, digest, static_cast<int>(dlen));

    std::string out = "1:";
    out.append(reinterpret_cast<const char *>(b64), static_cast<size_t>(blen));
    return out;
}

}  // namespace flowsentry
