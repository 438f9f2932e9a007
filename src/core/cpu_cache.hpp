// The data caches of the CPU this process runs on, as the kernel reports them
// for cpu0: what a core sees (lscpu's "32 MiB (1 instance)"), not the socket's
// sum that sysconf may give (320 MiB for a 32 MiB L3 on one VM). Read once.
#pragma once

#include <cstdint>

namespace normkit {

// The size in bytes of the level-`level` data (or unified) cache, or 0 when
// unknown (no sysfs and no sysconf value).
std::int64_t cache_bytes(int level);

// Whether a working set of `bytes` stays in a cache of `cache_size` bytes:
// it takes at most seven eighths of it (the rest holds code, stacks and
// other data). False when the size is unknown (0). The kernels keep a
// single pass's output in the last level by this rule
// (kernels/stream_store.hpp, where the fraction was measured), and
// `normkit bench` times a case that fits some level warm.
constexpr bool fits_in(std::int64_t bytes, std::int64_t cache_size) {
  return cache_size > 0 && bytes <= cache_size / 8 * 7;
}
// The same for this CPU's level-`level` cache.
inline bool fits_cache(std::int64_t bytes, int level) { return fits_in(bytes, cache_bytes(level)); }

}  // namespace normkit
