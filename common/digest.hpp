// Digests (OpenSSL's EVP interface).
#pragma once

#include <string>
#include <string_view>

namespace fgac {

// Lower-case hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view data);

}  // namespace fgac
