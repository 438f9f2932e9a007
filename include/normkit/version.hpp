#pragma once

namespace normkit {
inline constexpr const char* kVersion = "0.1.0";
}
