#include "cpu_cache.hpp"

#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <string>

namespace normkit {
namespace {

std::int64_t read_cache_bytes(int level) {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
    int l = 0;
    std::string type, size;
    if (!(level_file >> l) || !(type_file >> type) || !(size_file >> size)) break;
    if (l != level || type == "Instruction") continue;
    std::int64_t bytes = std::atoll(size.c_str());
    if (size.back() == 'K') bytes <<= 10;
    if (size.back() == 'M') bytes <<= 20;
    if (bytes > 0) return bytes;
  }
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  const int names[] = {_SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE};
  if (level >= 1 && level <= 3) {
    const long v = sysconf(names[level - 1]);
    if (v > 0) return v;
  }
#endif
  return 0;
}

}  // namespace

std::int64_t cache_bytes(int level) {
  static const std::array<std::int64_t, 3> sizes{read_cache_bytes(1), read_cache_bytes(2), read_cache_bytes(3)};
  return level >= 1 && level <= 3 ? sizes[static_cast<std::size_t>(level - 1)] : 0;
}

}  // namespace normkit
