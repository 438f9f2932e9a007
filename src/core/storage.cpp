#include "storage.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// A kept block is poisoned while it waits: AddressSanitizer still reports a
// use after free of a tensor whose memory the cache holds.
#define NORMKIT_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define NORMKIT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define NORMKIT_POISON(p, n) ((void)(p), (void)(n))
#define NORMKIT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace normkit::detail {
namespace {

constexpr std::size_t kPage = 4096, kHugePage = std::size_t{2} << 20;
// Blocks of kCachedBlock bytes and more are kept when freed, at most
// kMostBlocks of them (a take scans them); from kHugeBlock they are asked
// for in huge pages.
constexpr std::size_t kCachedBlock = kPage, kMostBlocks = 256, kHugeBlock = 2 * kHugePage;

// A cached block's size (its request rounded up) and alignment: whole huge
// pages for a huge block, whole pages for the others.
std::size_t block_alignment(std::size_t size) { return size >= kHugeBlock ? kHugePage : kPage; }
std::size_t block_size(std::size_t bytes) {
  const std::size_t unit = bytes >= kHugeBlock ? kHugePage : kPage;
  return (bytes + unit - 1) / unit * unit;
}

// Freed blocks, oldest first. Never destroyed: a tensor freed while the
// program exits still finds it.
class BlockCache {
 public:
  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache;
    return *cache;
  }

  // A kept block of exactly `size` bytes, or null.
  std::byte* take(std::size_t size) {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it)
      if (it->size == size) {
        std::byte* p = it->data;
        cached_ -= size;
        blocks_.erase(std::next(it).base());
        NORMKIT_UNPOISON(p, size);
        return p;
      }
    return nullptr;
  }

  // Keeps the block, or frees it when the cache cannot hold it.
  void give(std::byte* p, std::size_t size) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (size <= limit_) {
        NORMKIT_POISON(p, size);
        blocks_.push_back({p, size});
        cached_ += size;
        p = nullptr;
        while (cached_ > limit_ || blocks_.size() > kMostBlocks) {
          release(blocks_.front());
          cached_ -= blocks_.front().size;
          blocks_.erase(blocks_.begin());
        }
      }
    }
    if (p != nullptr) release({p, size});
  }

 private:
  struct Block {
    std::byte* data;
    std::size_t size;
  };

  BlockCache() {
    const char* s = std::getenv("NORMKIT_STORAGE_CACHE_BYTES");
    if (s != nullptr) limit_ = static_cast<std::size_t>(std::strtoull(s, nullptr, 10));
  }
  static void release(const Block& b) {
    NORMKIT_UNPOISON(b.data, b.size);
    ::operator delete[](b.data, std::align_val_t{block_alignment(b.size)});
  }

  std::mutex mutex_;
  std::vector<Block> blocks_;
  std::size_t cached_ = 0;
  std::size_t limit_ = std::size_t{512} << 20;
};

std::shared_ptr<std::byte[]> allocate_cached(std::size_t bytes) {
  const std::size_t size = block_size(bytes);
  std::byte* p = BlockCache::instance().take(size);
  if (p == nullptr) {
    p = static_cast<std::byte*>(::operator new[](size, std::align_val_t{block_alignment(size)}));
#ifdef MADV_HUGEPAGE
    if (size >= kHugeBlock) madvise(p, size, MADV_HUGEPAGE);  // advice only: its failure changes nothing
#endif
  }
  return std::shared_ptr<std::byte[]>(p, [size](std::byte* q) { BlockCache::instance().give(q, size); });
}

}  // namespace

std::shared_ptr<std::byte[]> allocate_storage(std::size_t bytes) {
  if (bytes >= kCachedBlock) return allocate_cached(bytes);
  // One plain allocation holds the reference counts and the bytes, which
  // start at its first 64-byte boundary; the result shares its ownership.
  // An aligned operator new (memalign) and a separate control block were
  // two allocations, the first the slower kind: a Python call's three small
  // results (LayerNorm (1, 16): y, mean, rstd) spent 1.3k of its 20k
  // instructions in memalign (callgrind).
  constexpr std::size_t kAlign = 64;
  const std::size_t padded = (bytes + kAlign - 1) / kAlign * kAlign + kAlign;
  std::shared_ptr<std::byte[]> block = std::make_shared_for_overwrite<std::byte[]>(padded + kAlign);
  const auto address = reinterpret_cast<std::uintptr_t>(block.get());
  std::byte* aligned = block.get() + ((kAlign - address % kAlign) % kAlign);
  return std::shared_ptr<std::byte[]>(std::move(block), aligned);
}

}  // namespace normkit::detail
