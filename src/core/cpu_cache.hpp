// The data caches of the CPU this process runs on, as the kernel reports them
// for cpu0: what a core sees (lscpu's "32 MiB (1 instance)"), not the socket's
// sum that sysconf may give (320 MiB for a 32 MiB L3 on one VM). Read once.
#pragma once

#include <cstdint>

namespace normkit {

// The size in bytes of the level-`level` data (or unified) cache, or 0 when
// unknown (no sysfs and no sysconf value).
std::int64_t cache_bytes(int level);

}  // namespace normkit
