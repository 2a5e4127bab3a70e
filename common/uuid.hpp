// UUID text handling for ids in paths and bodies.
#pragma once

#include <string>
#include <string_view>

namespace fgac {

// True for the canonical 8-4-4-4-12 hexadecimal form (either case).
bool is_uuid(std::string_view text);

// A random (version 4) UUID in canonical lower-case form.
std::string new_uuid_v4();

}  // namespace fgac
