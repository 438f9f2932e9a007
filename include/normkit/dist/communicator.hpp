// The dist layer's communicator: the processes that mpirun started, and the
// few collectives Synchronized BN and data-parallel training need. Only
// normkit_dist links MPI; this header does not include it.
//
// Every collective is checked and bounded:
//   - checked: agree() starts each operation; the ranks exchange what they
//     are about to do (which operation, which layer, their shapes) and their
//     own argument errors, so that a rank that calls another operation (one
//     that skipped a layer), a mismatch, or an error on one rank becomes an
//     Error on every rank instead of a hang;
//   - bounded: a rank that waits longer than timeout() for the others (one
//     that stopped calling collectives at all) aborts the job with a message
//     that names the operation. A rank that dies makes mpirun end the job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "normkit/error.hpp"

namespace normkit::dist {

// An error that every rank raised together (agreed through agree()): the
// ranks can end normally. Any other error on one rank should abort the job.
class RankError : public Error {
 public:
  using Error::Error;
};

// What one rank says it is about to do: the operation, its subject (a
// layer's id), up to four named numbers that must be equal on every rank
// (`same`: channels) and up to four that may differ (`own`: batch sizes).
struct Intent {
  std::string operation;  // "SyncBatchNorm forward", ...
  std::int64_t subject = 0;
  std::vector<std::pair<std::string, std::int64_t>> same;
  std::vector<std::int64_t> own;
};

class Communicator {
 public:
  // MPI_COMM_WORLD. MPI is initialized on the first call and finalized at
  // exit.
  static Communicator& world();
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Seconds a rank waits in a collective before it aborts the job (default
  // 300, or the environment's NORMKIT_DIST_TIMEOUT).
  double timeout() const { return timeout_; }
  void set_timeout(double seconds);

  // Starts one checked operation: every rank passes its intent and its own
  // argument error ("" when none). Returns every rank's `own` numbers (rank
  // after rank). Throws RankError on every rank, naming the ranks, when an
  // error was given or the intents differ in operation, subject, `same`
  // or in how many `own` numbers they have.
  std::vector<std::vector<std::int64_t>> agree(const Intent& intent, const std::string& error = {});

  // Every rank's bytes, concatenated in rank order; sizes (rank after rank)
  // must be known to every rank.
  std::vector<std::byte> allgather(const void* data, const std::vector<std::int64_t>& sizes);
  // Every rank's vector of n doubles, rank after rank (n * size() values).
  std::vector<double> allgather(const std::vector<double>& mine);
  // Rank `root`'s `bytes` bytes at data, on every rank (the same bytes
  // count on every rank).
  void broadcast(void* data, std::int64_t bytes, int root = 0);

  // Ends the job: prints the message to stderr, and every process exits
  // with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1);

  // Wall seconds this rank has spent inside collectives (the lab's
  // communication time).
  double seconds_in_collectives() const { return collective_seconds_; }

 private:
  Communicator();
  void wait(void* request, const char* what);

  int rank_ = 0, size_ = 1;
  double timeout_ = 300;
  double collective_seconds_ = 0;
};

}  // namespace normkit::dist
