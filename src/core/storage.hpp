// Tensor storage. A small block is one allocation with its reference counts
// (the bytes 64-byte aligned inside it). A large block is a fresh mapping
// from the kernel, whose first touch faults each 4 KiB page in (8192
// faults for 32 MiB, 128 for a 512 KiB output: longer than normalizing
// it), and a smaller aligned block costs malloc a
// consolidation of its free lists. So a freed block of 4 KiB or more is kept
// for the next tensor of the same size (at most 256 blocks), as ONNX
// Runtime's arena and PyTorch's caching allocators keep theirs: a loop that
// calls a function on the same shapes (a Python caller gets new outputs on
// every call) reuses its memory without a fault or a malloc. Blocks of 4 MiB and more are also asked for in
// 2 MiB huge pages (MADV_HUGEPAGE: 512 times fewer faults where the kernel
// has them). At most NORMKIT_STORAGE_CACHE_BYTES (default 512 MiB; 0 turns
// the cache off) are kept; the oldest block goes first. Values are never
// read from a reused block (a new Tensor's contents are unspecified, as
// before).
#pragma once

#include <cstddef>
#include <memory>

namespace normkit::detail {

// At least `bytes` (and at least one byte), 64-byte aligned.
std::shared_ptr<std::byte[]> allocate_storage(std::size_t bytes);

}  // namespace normkit::detail
