#include "distributed.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "normkit/error.hpp"
#include "normkit/threading.hpp"

#ifdef NORMKIT_HAS_MPI
#include "normkit/dist/data_parallel.hpp"
#endif

namespace normkit::cli {

std::string without_mpi_message(const std::string& what) {
  return "this normkit was built without MPI: " + what +
         " is unavailable (install libopenmpi-dev and openmpi-bin, then rebuild)";
}

bool under_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

int start_on_ranks(int ranks, const std::vector<std::string>& command) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args{"mpirun", "--oversubscribe"};
  if (::geteuid() == 0) args.emplace_back("--allow-run-as-root");  // OpenMPI refuses root without it
  args.insert(args.end(), {"-np", std::to_string(ranks), self});
  args.insert(args.end(), command.begin(), command.end());
  std::string line;
  for (const std::string& a : args) line += (line.empty() ? "" : " ") + a;
  std::printf("normkit: running on %d ranks: %s\n", ranks, line.c_str());
  std::fflush(stdout);
  std::vector<char*> pointers;
  for (std::string& a : args) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    ::execvp("mpirun", pointers.data());
    std::fprintf(stderr, "normkit: cannot start mpirun (install openmpi-bin)\n");
    std::_Exit(127);
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) < 0) return 2;
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 127 ? 2 : WEXITSTATUS(status);
  return 1;
}

#ifndef NORMKIT_HAS_MPI

bool built_with_mpi() { return false; }
int run_as_rank(const char*, const std::function<int()>& body) { return body(); }
std::unique_ptr<train::BatchShare> data_parallel(nn::Sequential&, bool) {
  throw Error(without_mpi_message("data-parallel training"));
}
int rank() { return 0; }
int ranks() { return 1; }

#else

bool built_with_mpi() { return true; }

int run_as_rank(const char* command, const std::function<int()>& body) {
  dist::Communicator& comm = dist::Communicator::world();
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    // The ranks on this machine (OpenMPI says how many) share its cores.
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int ranks_here = local != nullptr ? std::max(1, std::atoi(local)) : comm.size();
    set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranks_here));
  }
  try {
    return body();
  } catch (const dist::RankError& e) {  // raised on every rank together: end normally
    std::fprintf(stderr, "normkit %s: rank %d: error: %s\n", command, comm.rank(), e.what());
    return 3;
  } catch (const std::exception& e) {  // this rank only: the others would wait
    comm.abort(std::string("normkit ") + command + ": error: " + e.what());
  }
}

std::unique_ptr<train::BatchShare> data_parallel(nn::Sequential& model, bool sync_batch_norm) {
  return std::make_unique<dist::DataParallel>(model, dist::Communicator::world(),
                                              dist::DataParallelOptions{.sync_batch_norm = sync_batch_norm});
}

int rank() { return dist::Communicator::world().rank(); }
int ranks() { return dist::Communicator::world().size(); }

#endif

}  // namespace normkit::cli
