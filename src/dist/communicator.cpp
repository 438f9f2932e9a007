#include "normkit/dist/communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

namespace normkit::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// FNV-1a: the operation's name as a number the ranks can compare.
std::int64_t name_hash(const std::string& name) {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return static_cast<std::int64_t>(h);
}

// What agree() exchanges: fixed size, so that ranks that are at different
// operations still meet in the same MPI call and find out.
constexpr int kMaxNumbers = 4;
struct Header {
  std::int64_t operation, subject, same_count, own_count, error_bytes;
  std::array<std::int64_t, kMaxNumbers> same, own;
};

}  // namespace

Communicator& Communicator::world() {
  static Communicator world;
  return world;
}

Communicator::Communicator() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;  // OpenMP threads never call MPI: only the main thread does
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (const char* env = std::getenv("NORMKIT_DIST_TIMEOUT")) set_timeout(std::atof(env));
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Communicator::set_timeout(double seconds) {
  NORMKIT_CHECK(seconds > 0, "timeout: expected a positive number of seconds, got ", seconds);
  timeout_ = seconds;
}

void Communicator::abort(const std::string& message, int code) {
  std::fprintf(stderr, "normkit: rank %d of %d: %s\n", rank_, size_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; in case it does
}

// Polls instead of blocking, so that a rank left waiting for one that
// stopped calling collectives ends the job after timeout() with a message
// instead of hanging. Yields while polling: ranks may share cores.
void Communicator::wait(void* request, const char* what) {
  const Clock::time_point start = Clock::now();
  auto* r = static_cast<MPI_Request*>(request);
  for (std::int64_t polls = 0;; ++polls) {
    int done = 0;
    MPI_Test(r, &done, MPI_STATUS_IGNORE);
    if (done) break;
    if (polls < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(polls < 100000 ? 20 : 500));
      if (polls % 64 == 0 && seconds_since(start) > timeout_) {
        std::ostringstream message;
        message << "waited more than " << timeout_ << " s for the other ranks in " << what
                << " (a rank stopped or is elsewhere; NORMKIT_DIST_TIMEOUT sets the limit); ending the job";
        abort(message.str());
      }
    }
  }
  collective_seconds_ += seconds_since(start);
}

std::vector<std::vector<std::int64_t>> Communicator::agree(const Intent& intent, const std::string& error) {
  NORMKIT_CHECK(intent.same.size() <= kMaxNumbers && intent.own.size() <= kMaxNumbers,
                "Intent: expected at most ", kMaxNumbers, " same and own numbers");
  Header mine{name_hash(intent.operation), intent.subject, static_cast<std::int64_t>(intent.same.size()),
              static_cast<std::int64_t>(intent.own.size()), static_cast<std::int64_t>(error.size()), {}, {}};
  for (std::size_t i = 0; i < intent.same.size(); ++i) mine.same[i] = intent.same[i].second;
  std::copy(intent.own.begin(), intent.own.end(), mine.own.begin());
  std::vector<Header> all(static_cast<std::size_t>(size_));
  MPI_Request request;
  MPI_Iallgather(&mine, sizeof(Header), MPI_BYTE, all.data(), sizeof(Header), MPI_BYTE, MPI_COMM_WORLD, &request);
  wait(&request, intent.operation.c_str());

  bool failed = false;
  for (const Header& h : all) {
    failed = failed || h.error_bytes > 0 || h.operation != all[0].operation || h.subject != all[0].subject ||
             h.same_count != all[0].same_count || h.own_count != all[0].own_count ||
             !std::equal(h.same.begin(), h.same.begin() + std::min<std::int64_t>(h.same_count, kMaxNumbers),
                         all[0].same.begin());
  }
  if (failed) {
    // Every rank saw the same headers, so every rank is here: exchange what
    // each was doing and its error, and raise them all on every rank.
    std::ostringstream said;
    said << intent.operation << " " << intent.subject;
    if (!error.empty()) {
      said << ": " << error;
    } else {
      for (std::size_t i = 0; i < intent.same.size(); ++i)
        said << (i == 0 ? " (" : ", ") << intent.same[i].first << " " << intent.same[i].second;
      if (!intent.same.empty()) said << ")";
    }
    const std::string text = said.str();
    std::vector<std::int64_t> sizes(static_cast<std::size_t>(size_));
    const std::int64_t my_size = static_cast<std::int64_t>(text.size());
    MPI_Request size_request;
    MPI_Iallgather(&my_size, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, MPI_COMM_WORLD, &size_request);
    wait(&size_request, "agree (error report)");
    const std::vector<std::byte> texts = allgather(text.data(), sizes);
    std::ostringstream message;
    message << "the ranks cannot go on together at " << intent.operation << ":";
    std::int64_t offset = 0;
    for (int q = 0; q < size_; ++q) {
      message << "\n  rank " << q << ": "
              << std::string(reinterpret_cast<const char*>(texts.data()) + offset, static_cast<std::size_t>(sizes[q]));
      offset += sizes[q];
    }
    throw RankError(message.str());
  }
  std::vector<std::vector<std::int64_t>> own;
  for (const Header& h : all) own.emplace_back(h.own.begin(), h.own.begin() + h.own_count);
  return own;
}

std::vector<std::byte> Communicator::allgather(const void* data, const std::vector<std::int64_t>& sizes) {
  NORMKIT_CHECK(static_cast<int>(sizes.size()) == size_, "sizes: expected one per rank (", size_, "), got ",
                sizes.size());
  // MPI counts are int: send in units large enough that every count fits.
  std::int64_t total = 0, largest = 0;
  for (const std::int64_t s : sizes) total += s, largest = std::max(largest, s);
  std::vector<std::byte> out(static_cast<std::size_t>(total));
  std::vector<int> counts(static_cast<std::size_t>(size_)), displacements(static_cast<std::size_t>(size_));
  NORMKIT_CHECK(total <= std::int64_t{1} << 31 << 3, "allgather: more than 16 GiB in one exchange");
  // Bytes, as long as the offsets fit in int; larger exchanges go through a
  // contiguous type of 8 bytes (every size is then a multiple of 8).
  const bool wide = total >= (std::int64_t{1} << 31);
  MPI_Datatype unit = MPI_BYTE;
  if (wide) {
    for (const std::int64_t s : sizes) NORMKIT_CHECK(s % 8 == 0, "allgather: large exchanges need multiples of 8 bytes");
    MPI_Type_contiguous(8, MPI_BYTE, &unit);
    MPI_Type_commit(&unit);
  }
  const std::int64_t scale = wide ? 8 : 1;
  std::int64_t offset = 0;
  for (int q = 0; q < size_; ++q) {
    counts[q] = static_cast<int>(sizes[q] / scale);
    displacements[q] = static_cast<int>(offset / scale);
    offset += sizes[q];
  }
  MPI_Request request;
  MPI_Iallgatherv(data, counts[rank_], unit, out.data(), counts.data(), displacements.data(), unit, MPI_COMM_WORLD,
                  &request);
  wait(&request, "allgather");
  if (wide) MPI_Type_free(&unit);
  return out;
}

std::vector<double> Communicator::allgather(const std::vector<double>& mine) {
  const std::int64_t bytes = static_cast<std::int64_t>(mine.size() * sizeof(double));
  const std::vector<std::byte> all = allgather(mine.data(), std::vector<std::int64_t>(size_, bytes));
  std::vector<double> out(all.size() / sizeof(double));
  if (!all.empty()) std::memcpy(out.data(), all.data(), all.size());  // empty vectors' data() may be null
  return out;
}

void Communicator::broadcast(void* data, std::int64_t bytes, int root) {
  NORMKIT_CHECK(root >= 0 && root < size_, "broadcast: root: expected a rank in [0, ", size_, "), got ", root);
  constexpr std::int64_t kChunk = std::int64_t{1} << 30;  // MPI counts are int
  for (std::int64_t offset = 0; offset < bytes; offset += kChunk) {
    MPI_Request request;
    MPI_Ibcast(static_cast<std::byte*>(data) + offset, static_cast<int>(std::min(kChunk, bytes - offset)), MPI_BYTE,
               root, MPI_COMM_WORLD, &request);
    wait(&request, "broadcast");
  }
}

}  // namespace normkit::dist
