// normkit's kernels layer (library normkit::kernels: OpenMP only): Tensor and
// TensorView, errors, threads, the SIMD path, and the normalization family's
// functional forward and backward. For a runtime that wants the kernels
// without the training engine (normkit.hpp includes this and the modules).
#pragma once

#include "normkit/adain.hpp"
#include "normkit/add_norm.hpp"
#include "normkit/batch_norm.hpp"
#include "normkit/dyt.hpp"
#include "normkit/error.hpp"
#include "normkit/group_norm.hpp"
#include "normkit/half.hpp"
#include "normkit/layer_norm.hpp"
#include "normkit/norm_quant.hpp"
#include "normkit/simd.hpp"
#include "normkit/tensor.hpp"
#include "normkit/threading.hpp"
#include "normkit/version.hpp"
