// What the CLI's commands share for running under mpirun (train
// --distributed, lab sync, selftest sync), and what they say in a build
// without MPI.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "normkit/nn/sequential.hpp"
#include "normkit/train/batch_share.hpp"

namespace normkit::cli {

// Whether this normkit was built with MPI (normkit_dist).
bool built_with_mpi();
// The message of a build without MPI, for `what` ("Synchronized BN").
std::string without_mpi_message(const std::string& what);

// Whether this process was started by mpirun (OpenMPI's or MPICH's).
bool under_mpirun();
// Runs this command again as `ranks` ranks of mpirun (--oversubscribe: the
// ranks may share cores), from a process that was not started by mpirun:
// `command` is the command line after the program ("lab", "sync", ...).
// Returns mpirun's exit code, or 2 when mpirun cannot be started.
int start_on_ranks(int ranks, const std::vector<std::string>& command);

// Runs body() as one rank of the MPI job, on the cores this rank's share of
// the machine holds (when OMP_NUM_THREADS is not set): an error that every
// rank raised together (dist::RankError) ends normally with exit code 3; an
// error on one rank ends the job, since the others would wait for it.
int run_as_rank(const char* command, const std::function<int()>& body);

// Data-parallel training of `model` over the ranks of mpirun (sync: its
// BatchNorms become SyncBatchNorm). Requires MPI.
std::unique_ptr<train::BatchShare> data_parallel(nn::Sequential& model, bool sync_batch_norm);
// This process's rank and the number of ranks (0 and 1 without MPI).
int rank();
int ranks();

}  // namespace normkit::cli
