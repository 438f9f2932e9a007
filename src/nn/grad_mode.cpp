#include "normkit/nn/grad_mode.hpp"

namespace normkit::nn {
namespace {

// Per thread, as torch's: a NoGrad on one thread leaves the others' forwards
// (the Python module's concurrent callers) keeping their state.
thread_local bool enabled = true;

}  // namespace

bool grad_enabled() { return enabled; }

NoGrad::NoGrad() : previous_(enabled) { enabled = false; }
NoGrad::~NoGrad() { enabled = previous_; }

}  // namespace normkit::nn
